// Verifies a rotation job like a session grant: the pinned edge key, the pinned alg, this site, and its
// own `typ`, so a grant can never pass as a job nor a job as a grant. No Node APIs: the edge's tests use it.
import { importJWK, type JWK, jwtVerify } from "jose";
import { EDGE_ISSUER, GRANT_ALG, grantAudience } from "../../protocol/index.ts";
import { keyFor } from "../../keys/edge-keys.ts";
import { ROTATION_TYP, RotationClaims } from "../../protocol/rotation.ts";
import type { ConnectorState } from "../state.ts";

/** The job's claims if the pinned edge key signed it for this site (at `now`: a spooled job is checked as of its issue). */
export async function verifyRotationJob(
  job: string,
  state: Pick<ConnectorState, "edgeKey" | "siteId"> & { edgeKeys?: JWK[] },
  now?: Date,
) {
  const signer = await keyFor(job, state.edgeKeys ?? [state.edgeKey as JWK]);
  if (!signer) throw new Error("job signed by an edge key this connector does not trust");
  const key = await importJWK(signer, GRANT_ALG);
  const { payload } = await jwtVerify(job, key, {
    algorithms: [GRANT_ALG],
    typ: ROTATION_TYP,
    issuer: EDGE_ISSUER,
    audience: grantAudience(state.siteId),
    requiredClaims: ["exp", "iat", "jti", "sub"],
    currentDate: now,
  });
  return RotationClaims.parse(payload);
}
