// Signs session grants: the only thing that tells a connector to open a session.
import { SignJWT } from "jose";
import {
  EDGE_ISSUER,
  GRANT_ALG,
  GRANT_TTL_SECONDS,
  GRANT_TYP,
  type GrantClaims,
  grantAudience,
} from "../protocol/index.ts";
import { edgeKey } from "./keys.ts";

export type GrantInput = Omit<GrantClaims, "iss" | "aud" | "sub" | "jti" | "iat" | "exp"> & {
  sessionId: string;
  siteId: string;
};

export async function signGrant(signingSecret: string, input: GrantInput): Promise<string> {
  const { privateKey } = await edgeKey(signingSecret);
  const { sessionId, siteId, ...claims } = input;
  return new SignJWT(claims)
    .setProtectedHeader({ alg: GRANT_ALG, typ: GRANT_TYP })
    .setIssuer(EDGE_ISSUER)
    .setAudience(grantAudience(siteId))
    .setSubject(sessionId)
    .setJti(crypto.randomUUID())
    .setIssuedAt()
    .setExpirationTime(`${GRANT_TTL_SECONDS}s`)
    .sign(privateKey);
}
