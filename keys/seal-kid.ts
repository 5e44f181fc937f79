// Which seal key a key or a sealed blob names: the RFC 7638 thumbprint of a site's P-256 seal key, and the `kid`
// in a compact JWE's protected header (protocol/seal-rotation.ts has the rotation's shapes).
import { calculateJwkThumbprint, decodeProtectedHeader } from "jose";

/** A seal key's id: its RFC 7638 thumbprint, whatever other members the JWK carries. */
export function sealKid(jwk: { x?: unknown; y?: unknown }): Promise<string> {
  return calculateJwkThumbprint({ kty: "EC", crv: "P-256", x: String(jwk.x), y: String(jwk.y) });
}

/** The `kid` in a compact JWE's protected header, if any (no verification: it only routes). */
export function sealedKid(sealed: string): string | undefined {
  try {
    const { kid } = decodeProtectedHeader(sealed);
    return typeof kid === "string" ? kid : undefined;
  } catch {
    return undefined;
  }
}
