// Real-peer tests skip with a clear reason when a peer is absent, except under CI=true, where a
// missing peer is a failure: CI installs every peer.
import { describe } from "vitest";

export function describeWithPeers(name: string, missing: string | undefined, body: () => void): void {
  if (missing && process.env.CI === "true") {
    describe(name, () => {
      throw new Error(`CI=true but a real peer is missing: ${missing}`);
    });
    return;
  }
  if (missing) console.warn(`SKIPPED "${name}": ${missing}`);
  describe.skipIf(Boolean(missing))(name, body);
}
