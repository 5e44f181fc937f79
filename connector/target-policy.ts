// Target address policy: which IP addresses a site's connector may open a session to. Pure: parses
// every spelling of an address a resolver would accept (127.1, 0x7f000001, 2130706433, 0177.0.0.1,
// ::ffff:127.0.0.1, ...) into one canonical form, then decides. The connector applies it to the
// address it actually connects to, after resolving the name (see target-connect.ts).

/** An IP address as a number: 32 bits for IPv4, 128 bits for IPv6. */
export type Ip = { family: 4; value: bigint } | { family: 6; value: bigint };
export type Cidr = { family: 4 | 6; base: bigint; bits: number; text: string };

export type TargetVerdict =
  | { ok: true; address: string }
  | {
      ok: false;
      reason:
        | "not_an_address"
        | "unspecified"
        | "loopback"
        | "link_local"
        | "metadata"
        | "multicast"
        | "reserved"
        | "outside_allowed_ranges";
    };

/** Ranges a site allows when its config names none: private networks (RFC 1918, RFC 6598, ULA). */
export const DEFAULT_ALLOWED_RANGES = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "fc00::/7"];

const V4_MAX = (1n << 32n) - 1n;

/**
 * Parses an IPv4 address the way inet_aton (and so getaddrinfo) does: one to four parts, each
 * decimal, octal (leading 0) or hex (0x); the last part fills the remaining bytes.
 */
export function parseIpv4(text: string): bigint | undefined {
  const parts = text.split(".");
  if (parts.length < 1 || parts.length > 4) return undefined;
  const nums: bigint[] = [];
  for (const part of parts) {
    let n: bigint;
    if (/^0x[0-9a-f]*$/i.test(part)) n = part.length === 2 ? 0n : BigInt(part);
    else if (/^0[0-7]*$/.test(part)) n = part.length === 1 ? 0n : BigInt(`0o${part.slice(1)}`);
    else if (/^[1-9][0-9]*$/.test(part)) n = BigInt(part);
    else return undefined;
    nums.push(n);
  }
  let value = 0n;
  for (let i = 0; i < nums.length - 1; i++) {
    if (nums[i]! > 255n) return undefined;
    value |= nums[i]! << BigInt(8 * (3 - i));
  }
  const lastBits = BigInt(8 * (4 - (nums.length - 1)));
  const last = nums[nums.length - 1]!;
  if (last >= 1n << lastBits) return undefined;
  return value | last;
}

/** Parses an IPv6 address (with `::`, a dotted IPv4 tail, brackets or a `%zone`). */
export function parseIpv6(input: string): bigint | undefined {
  let text = input.startsWith("[") && input.endsWith("]") ? input.slice(1, -1) : input;
  text = text.replace(/%[^%]*$/, "");
  if (!text.includes(":")) return undefined;
  const lastColon = text.lastIndexOf(":");
  const after = text.slice(lastColon + 1);
  if (after.includes(".")) {
    // A dotted IPv4 tail (::ffff:127.0.0.1) becomes its two 16-bit groups; strict dotted-decimal only.
    if (!/^\d{1,3}(\.\d{1,3}){3}$/.test(after) || after.split(".").some((p) => Number(p) > 255)) return undefined;
    const v4 = after.split(".").reduce((acc, p) => (acc << 8n) | BigInt(Number(p)), 0n);
    text = `${text.slice(0, lastColon + 1)}${(v4 >> 16n).toString(16)}:${(v4 & 0xffffn).toString(16)}`;
  }
  const halves = text.split("::");
  if (halves.length > 2) return undefined;
  const group = (s: string) => (s === "" ? [] : s.split(":"));
  const head = group(halves[0]!);
  const rest = halves.length === 2 ? group(halves[1]!) : [];
  const words: bigint[] = [];
  for (const g of [...head, ...rest]) {
    if (!/^[0-9a-f]{1,4}$/i.test(g)) return undefined;
    words.push(BigInt(`0x${g}`));
  }
  const total = words.length;
  if (halves.length === 1 ? total !== 8 : total > 7) return undefined;
  const zeros = 8 - total;
  const all = [...words.slice(0, head.length), ...Array(zeros).fill(0n), ...words.slice(head.length)];
  return all.reduce((acc, w) => (acc << 16n) | w, 0n);
}

/**
 * Any spelling of an address, to its canonical form. IPv6 forms that carry an IPv4 address
 * (mapped ::ffff:a.b.c.d, compatible ::a.b.c.d, NAT64 64:ff9b::/96) become that IPv4 address, so
 * that ::ffff:127.0.0.1 is judged as 127.0.0.1.
 */
export function parseIp(text: string): Ip | undefined {
  const v4 = parseIpv4(text);
  if (v4 !== undefined) return { family: 4, value: v4 };
  const v6 = parseIpv6(text);
  if (v6 === undefined) return undefined;
  const high96 = v6 >> 32n;
  if (high96 === 0xffffn || (high96 === 0n && v6 > 1n) || high96 === 0x0064ff9b0000000000000000n) {
    return { family: 4, value: v6 & V4_MAX };
  }
  return { family: 6, value: v6 };
}

export function formatIp(ip: Ip): string {
  if (ip.family === 4) return [24n, 16n, 8n, 0n].map((s) => String((ip.value >> s) & 0xffn)).join(".");
  const words: string[] = [];
  for (let i = 7; i >= 0; i--) words.push(((ip.value >> BigInt(i * 16)) & 0xffffn).toString(16));
  return words.join(":");
}

export function parseCidr(text: string): Cidr {
  const [addr, len, extra] = text.trim().split("/");
  const ip = addr === undefined ? undefined : parseIp(addr);
  const width = addr?.includes(":") ? 128 : 32;
  const bits = len === undefined ? width : Number(len);
  if (!ip || extra !== undefined || !Number.isInteger(bits) || bits < 0 || bits > width) {
    throw new Error(`not an address range: ${text}`);
  }
  // A range written in IPv6 that maps to IPv4 (::ffff:10.0.0.0/104) is kept as the IPv4 range.
  const v4From6 = ip.family === 4 && addr!.includes(":");
  const effectiveBits = v4From6 ? Math.max(0, bits - 96) : bits;
  const fam = ip.family;
  const w = fam === 4 ? 32 : 128;
  const mask = effectiveBits === 0 ? 0n : ((1n << BigInt(effectiveBits)) - 1n) << BigInt(w - effectiveBits);
  return { family: fam, base: ip.value & mask, bits: effectiveBits, text: text.trim() };
}

export function inCidr(ip: Ip, cidr: Cidr): boolean {
  if (ip.family !== cidr.family) return false;
  const w = ip.family === 4 ? 32 : 128;
  const mask = cidr.bits === 0 ? 0n : ((1n << BigInt(cidr.bits)) - 1n) << BigInt(w - cidr.bits);
  return (ip.value & mask) === cidr.base;
}

const c = parseCidr;
/** Never a target, whatever a site allows: these reach the connector host itself or its cloud. */
const ALWAYS_REFUSED: [Cidr, Exclude<TargetVerdict, { ok: true }>["reason"]][] = [
  [c("169.254.169.254/32"), "metadata"], // AWS, Azure, GCP, OpenStack instance metadata
  [c("fd00:ec2::254/128"), "metadata"], // AWS metadata over IPv6
  [c("0.0.0.0/8"), "unspecified"], // "this host": 0.0.0.0 connects to the local machine
  [c("::/128"), "unspecified"],
  [c("169.254.0.0/16"), "link_local"],
  [c("fe80::/10"), "link_local"],
  [c("224.0.0.0/4"), "multicast"],
  [c("ff00::/8"), "multicast"],
  [c("240.0.0.0/4"), "reserved"], // includes 255.255.255.255
];
const LOOPBACK: Cidr[] = [c("127.0.0.0/8"), c("::1/128")];

const within = (inner: Cidr, outer: Cidr) =>
  inner.family === outer.family &&
  inner.bits >= outer.bits &&
  inCidr({ family: inner.family, value: inner.base } as Ip, outer);

/**
 * Decides whether an address may be a session target. Always-refused ranges win; loopback is
 * refused unless an allowed range lies inside loopback itself (a development stack says
 * 127.0.0.0/8 on purpose; 0.0.0.0/0 does not admit it); otherwise the address must fall in an
 * allowed range.
 */
export function checkTargetAddress(address: string, allowed: readonly Cidr[]): TargetVerdict {
  const ip = parseIp(address);
  if (!ip) return { ok: false, reason: "not_an_address" };
  for (const [range, reason] of ALWAYS_REFUSED) if (inCidr(ip, range)) return { ok: false, reason };
  const ranges = allowed.filter((r) => inCidr(ip, r));
  if (LOOPBACK.some((l) => inCidr(ip, l))) {
    return ranges.some((r) => LOOPBACK.some((l) => within(r, l)))
      ? { ok: true, address: formatIp(ip) }
      : { ok: false, reason: "loopback" };
  }
  return ranges.length > 0 ? { ok: true, address: formatIp(ip) } : { ok: false, reason: "outside_allowed_ranges" };
}
