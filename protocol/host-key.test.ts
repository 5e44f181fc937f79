import { describe, expect, it } from "vitest";
import { parseHostKeyInput } from "./host-key.ts";

const A = `SHA256:${"a".repeat(42)}Q`;
const B = `SHA256:${"B+/".repeat(14)}x`;

describe("parseHostKeyInput", () => {
  it("takes a bare fingerprint, or one ssh-keygen -lf line, with spaces around", () => {
    expect(parseHostKeyInput(` ${A}\n`)).toEqual({ ok: true, fingerprint: A });
    expect(parseHostKeyInput(`256 ${A} [10.0.0.5]:2222 (ED25519)`)).toEqual({ ok: true, fingerprint: A });
    // The same key twice (scanned twice) is one key.
    expect(parseHostKeyInput(`256 ${A} h (ED25519)\n256 ${A} h (ED25519)`)).toEqual({ ok: true, fingerprint: A });
  });

  it("refuses a scan of several keys, nothing, or a fingerprint cut short or run on", () => {
    expect(parseHostKeyInput(`3072 ${B} h (RSA)\n256 ${A} h (ED25519)`)).toMatchObject({
      ok: false,
      problem: "several",
    });
    expect(parseHostKeyInput("MD5:aa:bb")).toMatchObject({ ok: false, problem: "none" });
    expect(parseHostKeyInput(A.slice(0, -1))).toMatchObject({ ok: false, problem: "none" });
    expect(parseHostKeyInput(`${A}x`)).toMatchObject({ ok: false, problem: "none" });
  });
});
