// Target address policy: every spelling of the dangerous addresses is refused, allowed ranges admit.
import { describe, expect, it } from "vitest";
import { checkTargetAddress, DEFAULT_ALLOWED_RANGES, parseCidr, parseIp, formatIp } from "./target-policy.ts";

const defaults = DEFAULT_ALLOWED_RANGES.map(parseCidr);
const everything = ["0.0.0.0/0", "::/0"].map(parseCidr);
const verdict = (a: string, allowed = everything) => checkTargetAddress(a, allowed);

describe("parsing every spelling", () => {
  it.each([
    ["127.0.0.1", "127.0.0.1"],
    ["127.1", "127.0.0.1"],
    ["127.0.1", "127.0.0.1"],
    ["0x7f000001", "127.0.0.1"],
    ["0x7F.0.0.1", "127.0.0.1"],
    ["2130706433", "127.0.0.1"],
    ["0177.0.0.1", "127.0.0.1"],
    ["017700000001", "127.0.0.1"],
    ["::ffff:127.0.0.1", "127.0.0.1"],
    ["::ffff:7f00:1", "127.0.0.1"],
    ["[::ffff:127.0.0.1]", "127.0.0.1"],
    ["::127.0.0.1", "127.0.0.1"],
    ["64:ff9b::a9fe:a9fe", "169.254.169.254"],
    ["0", "0.0.0.0"],
    ["::1", "0:0:0:0:0:0:0:1"],
    ["0:0:0:0:0:0:0:1", "0:0:0:0:0:0:0:1"],
    ["fe80::1%eth0", "fe80:0:0:0:0:0:0:1"],
  ])("%s is %s", (text, canonical) => {
    const ip = parseIp(text);
    expect(ip).toBeDefined();
    expect(formatIp(ip!)).toBe(canonical);
  });

  it.each([
    "",
    "1.2.3.4.5",
    "256.1.1.1",
    "1.2.3.256",
    "127.0.0.0x1g",
    "a.b.c.d",
    "example.com",
    "1::2::3",
    "::ffff:1.2.3",
    "12345::",
    "1:2:3:4:5:6:7:8:9",
  ])("%j is not an address", (text) => expect(parseIp(text)).toBeUndefined());
});

describe("always refused, even when a site allows everything", () => {
  it.each([
    ["169.254.169.254", "metadata"],
    ["0xa9fea9fe", "metadata"],
    ["2852039166", "metadata"],
    ["::ffff:169.254.169.254", "metadata"],
    ["fd00:ec2::254", "metadata"],
    ["169.254.1.1", "link_local"],
    ["fe80::1", "link_local"],
    ["0.0.0.0", "unspecified"],
    ["0", "unspecified"],
    ["::", "unspecified"],
    ["224.0.0.1", "multicast"],
    ["ff02::1", "multicast"],
    ["255.255.255.255", "reserved"],
  ])("%s (%s)", (text, reason) => {
    expect(verdict(text)).toEqual({ ok: false, reason });
  });
});

describe("loopback, in its many spellings", () => {
  it.each([
    "127.0.0.1",
    "127.1",
    "0x7f000001",
    "2130706433",
    "0177.0.0.1",
    "127.255.255.254",
    "::1",
    "::ffff:127.0.0.1",
    "[::1]",
  ])("%s is refused although 0.0.0.0/0 and ::/0 are allowed", (text) => {
    expect(verdict(text)).toEqual({ ok: false, reason: "loopback" });
  });

  it("is allowed only when a range inside loopback is named on purpose", () => {
    const dev = ["127.0.0.0/8", "::1/128"].map(parseCidr);
    expect(checkTargetAddress("127.1", dev)).toEqual({ ok: true, address: "127.0.0.1" });
    expect(checkTargetAddress("::1", dev)).toEqual({ ok: true, address: "0:0:0:0:0:0:0:1" });
    // A range that names loopback does not admit the metadata address or other networks.
    expect(checkTargetAddress("169.254.169.254", dev)).toMatchObject({ ok: false, reason: "metadata" });
    expect(checkTargetAddress("10.0.0.1", dev)).toMatchObject({ ok: false, reason: "outside_allowed_ranges" });
  });
});

describe("a site's allowed ranges", () => {
  it("default to private networks", () => {
    for (const a of ["10.1.2.3", "172.16.0.9", "172.31.255.1", "192.168.1.1", "100.64.0.1", "fd12::1"]) {
      expect(checkTargetAddress(a, defaults)).toMatchObject({ ok: true });
    }
    for (const a of ["8.8.8.8", "172.32.0.1", "2001:db8::1", "11.0.0.1"]) {
      expect(checkTargetAddress(a, defaults)).toEqual({ ok: false, reason: "outside_allowed_ranges" });
    }
  });

  it("narrow to what the site names", () => {
    const site = ["10.20.0.0/16", "::ffff:192.168.5.0/120"].map(parseCidr);
    expect(checkTargetAddress("10.20.3.4", site)).toEqual({ ok: true, address: "10.20.3.4" });
    expect(checkTargetAddress("10.21.0.1", site)).toMatchObject({ ok: false });
    expect(checkTargetAddress("192.168.5.77", site)).toEqual({ ok: true, address: "192.168.5.77" });
    expect(checkTargetAddress("::ffff:10.20.0.1", site)).toEqual({ ok: true, address: "10.20.0.1" });
  });

  it("refuses names: only resolved addresses are judged", () => {
    expect(checkTargetAddress("db.internal", defaults)).toEqual({ ok: false, reason: "not_an_address" });
  });

  it("rejects malformed ranges", () => {
    for (const bad of ["10.0.0.0/33", "10.0.0.0/8/1", "nope/8", "::/129"]) expect(() => parseCidr(bad)).toThrow();
  });
});
