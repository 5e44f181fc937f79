// Which edge keys this connector trusts, and how that moves: the key pinned at enrollment, then whatever a
// key announcement signed by a trusted key lists (keys/edge-keys.ts). Saved to the state directory, so
// a restarted connector keeps trusting the keys it learnt.
import type { JWK } from "jose";
import { acceptEdgeKeys, edgeKeyId } from "../keys/edge-keys.ts";
import type { Log } from "./log.ts";
import { type ConnectorState, saveState } from "./state.ts";

/** The keys grants, jobs and announcements may be signed with now. */
export function trustedEdgeKeys(state: ConnectorState): JWK[] {
  return (state.edgeKeys as JWK[] | undefined) ?? [state.edgeKey as JWK];
}

/** Takes an announcement from the control socket: trusted from now on if a trusted key signed it. */
export async function takeKeyAnnouncement(
  stateDir: string,
  state: ConnectorState,
  jws: string,
  log: Log,
): Promise<void> {
  try {
    const set = await acceptEdgeKeys(jws, trustedEdgeKeys(state), state.edgeKeysIat ?? 0);
    const before = await Promise.all(trustedEdgeKeys(state).map((k) => edgeKeyId(k)));
    const after = set.keys.map((k) => k.kid ?? "");
    state.edgeKeys = set.keys as JWK[];
    state.edgeKeysIat = set.iat;
    // The first key listed signs from now on: it becomes the pinned one.
    state.edgeKey = set.keys[0] as JWK;
    await saveState(stateDir, state);
    if (before.join() !== after.join()) log("edge_keys.updated", { trusted: after.join(",") });
  } catch (err) {
    log("edge_keys.rejected", { error: (err as Error).message });
  }
}
