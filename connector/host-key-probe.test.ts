// The connector's host key probe: the address goes through the site's target policy first (a refused address is
// never connected to), and every failure is a short answer, never an exception or an upstream message.
import { describe, expect, it, vi } from "vitest";
import { probeHostKey } from "./host-key-probe.ts";
import { TargetRefused } from "./target-connect.ts";

const probe = { probeId: "00000000-0000-4000-8000-000000000009", host: "db-1.corp", port: 2222 };
const key = { fingerprint: `SHA256:${"k".repeat(43)}`, type: "ssh-ed25519" };

describe("probeHostKey", () => {
  it("reads the key at the resolved, allowed address", async () => {
    const scan = vi.fn(async () => key);
    const answer = await probeHostKey(probe, { resolve: async () => "10.0.0.5", scan });
    expect(scan).toHaveBeenCalledWith("10.0.0.5", 2222, expect.any(Number));
    expect(answer).toEqual({
      type: "host_key",
      probeId: probe.probeId,
      result: { ok: true, fingerprint: key.fingerprint, keyType: "ssh-ed25519" },
    });
  });

  it("never connects to an address the site's policy refuses", async () => {
    const scan = vi.fn(async () => key);
    const answer = await probeHostKey(probe, {
      resolve: async (host) => {
        throw new TargetRefused(host, "metadata");
      },
      scan,
    });
    expect(answer.result).toEqual({ ok: false, error: "refused" });
    expect(scan).not.toHaveBeenCalled();
  });

  it("answers unreachable for a name that does not resolve and for a failed key exchange", async () => {
    const unresolvable = await probeHostKey(probe, {
      resolve: async (host) => {
        throw new TargetRefused(host, "unresolvable");
      },
    });
    expect(unresolvable.result).toEqual({ ok: false, error: "unreachable" });
    const failed = await probeHostKey(probe, {
      resolve: async () => "10.0.0.5",
      scan: async () => {
        throw new Error("ECONNREFUSED 10.0.0.5:2222");
      },
    });
    expect(failed.result).toEqual({ ok: false, error: "unreachable" });
  });
});
