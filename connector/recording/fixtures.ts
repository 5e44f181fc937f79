// Test fixtures for the spool and the uploader: chunks whose claims read back, without real sealing.
import type { ChunkClaims } from "../../protocol/index.ts";

const hex = "0".repeat(64);

/** A chunk with claims the spool can read back (it does not verify the signature; the edge does). */
export function fakeChunk(rid: string, seq: number, at: number, final = false) {
  const data = new TextEncoder().encode(`gzip bytes of ${rid} #${seq}`);
  const claims: ChunkClaims = {
    rid,
    sid: "s1",
    seq,
    size: data.byteLength,
    sha256: hex,
    rawSize: 1,
    rawSha256: hex,
    link: hex,
    out: seq,
    in: 0,
    final,
    at,
  };
  const jws = `eyJhbGciOiJFZERTQSJ9.${Buffer.from(JSON.stringify(claims)).toString("base64url")}.c2ln`;
  return { data, jws, claims };
}
