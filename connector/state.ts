// The connector's state directory: its identity key, the site's seal key and the pinned edge key.
// Written with mode 0600 inside a 0700 directory; never logged.
import { chmod, mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { z } from "zod";
import { parseSecretJson } from "./json-file.ts";

const Jwk = z.record(z.string(), z.unknown());

export const ConnectorState = z.object({
  edgeUrl: z.url(),
  connectorId: z.string(),
  siteId: z.string(),
  /** Private Ed25519 JWK: proves this connector to the edge. */
  identityKey: Jwk,
  /** Private P-256 JWK: opens credentials sealed to the site. Shared by a site's connectors. */
  sealKey: Jwk,
  /** Public Ed25519 JWK of the edge, pinned at enrollment: the only key grants may be signed with. */
  edgeKey: Jwk,
  /**
   * The edge keys this connector trusts now (current, and next during a rotation), from the last key
   * announcement a trusted key signed (connector/edge-trust.ts); absent: only `edgeKey`.
   */
  edgeKeys: z.array(Jwk).optional(),
  /** When that announcement was made: an older one is refused. */
  edgeKeysIat: z.number().int().optional(),
  /** A new identity key not yet confirmed by the edge (connector/identity.ts). */
  pendingIdentityKey: Jwk.optional(),
  /**
   * Private P-256 JWK: another connector of the site seals a rotated site key to it (connector/seal-rotation.ts).
   * Made at the first run that lacks one; its public half goes to the edge in the control socket's hello.
   */
  transportKey: Jwk.optional(),
  /** A site key this connector made for a rotation the edge has not confirmed yet: kept until it has. */
  pendingSealKey: z.strictObject({ rotationId: z.string(), key: Jwk }).optional(),
});
export type ConnectorState = z.infer<typeof ConnectorState>;

const FILE = "connector.json";

export async function saveState(dir: string, state: ConnectorState): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await chmod(dir, 0o700);
  const tmp = join(dir, `${FILE}.tmp`);
  await writeFile(tmp, JSON.stringify(state, null, 2), { mode: 0o600 });
  await rename(tmp, join(dir, FILE));
}

export async function loadState(dir: string): Promise<ConnectorState> {
  const text = await readFile(join(dir, FILE), "utf8").catch(() => {
    throw new Error(`no connector state in ${dir}: run 'psm-connector enroll' first`);
  });
  // The state holds the connector's private keys: a parse error names the file, never quotes it.
  return ConnectorState.parse(parseSecretJson(text, join(dir, FILE)));
}
