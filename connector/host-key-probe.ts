// The edge asks which host key a registered server presents (Admin › Servers › Fetch through the connector):
// the connector resolves the name under the site's target policy, as a session would, reads the key in a key
// exchange that never authenticates (discovery/keyscan.ts), and answers. The admin still compares and pins it.
import type { HostKeyProbed } from "../protocol/index.ts";
import { TargetRefused } from "./target-connect.ts";
import { keyscan, type ScannedKey } from "./discovery/keyscan.ts";

/** How long the key exchange may take (the edge gives up a little later). */
export const PROBE_TIMEOUT_MS = 8_000;

export type ProbeDeps = {
  resolve: (host: string) => Promise<string>;
  scan?: (address: string, port: number, timeoutMs: number) => Promise<ScannedKey>;
};

export async function probeHostKey(
  probe: { probeId: string; host: string; port: number },
  deps: ProbeDeps,
): Promise<HostKeyProbed> {
  const answer = (result: HostKeyProbed["result"]): HostKeyProbed => ({
    type: "host_key",
    probeId: probe.probeId,
    result,
  });
  let address: string;
  try {
    address = await deps.resolve(probe.host);
  } catch (err) {
    if (err instanceof TargetRefused)
      return answer({ ok: false, error: err.reason === "unresolvable" ? "unreachable" : "refused" });
    throw err;
  }
  try {
    const key = await (deps.scan ?? keyscan)(address, probe.port, PROBE_TIMEOUT_MS);
    return answer({ ok: true, fingerprint: key.fingerprint, keyType: key.type });
  } catch {
    return answer({ ok: false, error: "unreachable" });
  }
}
