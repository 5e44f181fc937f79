// Replacing the connector's identity key (asked by the edge on the control socket, issue 17). The new
// key is written to the state directory as pending before the edge is told, so a crash in between
// cannot lock the connector out: at the next start `finishIdentityRotation` asks the edge which key it
// now holds (a token from either key re-registering the same public key proves it) and keeps that one.
// The running process mints every later token with the new key: the state object is shared.
import type { JWK } from "jose";
import { connectorEndpoint } from "../protocol/index.ts";
import { connectorToken, generateIdentityKey, publicJwk } from "./keys.ts";
import type { Log } from "./log.ts";
import { type ConnectorState, saveState } from "./state.ts";

/** Registers `next`'s public half, proving the connector with `signer`. True on the edge's 200. */
async function register(state: ConnectorState, signer: JWK, next: JWK): Promise<boolean> {
  const token = await connectorToken(state.connectorId, signer, connectorEndpoint.identity);
  const res = await fetch(new URL(connectorEndpoint.identity, state.edgeUrl), {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: JSON.stringify({ publicKey: publicJwk(next) }),
  });
  await res.body?.cancel();
  return res.ok;
}

async function promote(stateDir: string, state: ConnectorState, next: JWK): Promise<void> {
  state.identityKey = next;
  delete state.pendingIdentityKey;
  await saveState(stateDir, state);
}

export async function rotateIdentity(stateDir: string, state: ConnectorState, log: Log): Promise<void> {
  if (state.pendingIdentityKey) {
    await finishIdentityRotation(stateDir, state, log);
    return;
  }
  const next = await generateIdentityKey();
  state.pendingIdentityKey = next;
  await saveState(stateDir, state);
  if (await register(state, state.identityKey, next)) {
    await promote(stateDir, state, next);
    log("identity.rotated");
    return;
  }
  delete state.pendingIdentityKey;
  await saveState(stateDir, state);
  log("identity.rotation_refused");
}

/** At start: a rotation cut short by a crash is finished one way or the other. */
export async function finishIdentityRotation(stateDir: string, state: ConnectorState, log: Log): Promise<void> {
  const next = state.pendingIdentityKey;
  if (!next) return;
  // The edge took the new key already: a token from it re-registers it. Else the old key still works.
  if ((await register(state, next, next)) || (await register(state, state.identityKey, next))) {
    await promote(stateDir, state, next);
    log("identity.rotated", { resumed: true });
    return;
  }
  delete state.pendingIdentityKey;
  await saveState(stateDir, state);
  log("identity.rotation_abandoned");
}
