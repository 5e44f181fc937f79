// Recording chunks as a connector makes them (connector/recording/recorder.ts): the text sealed into the
// chain, its claims signed with the connector's identity key, uploaded to the edge's chunk route.
import { calculateJwkThumbprint, CompactSign, importJWK, type JWK } from "jose";
import { CHUNK_HEADER, CHUNK_TYP, type ChunkClaims, connectorEndpoint } from "../../protocol/index.ts";
import { genesis, sealChunk } from "../../recording/chain.ts";
import { connectorToken } from "../../connector/keys.ts";
import { ORIGIN } from "./harness.ts";

export type MadeChunk = { seq: number; data: Uint8Array; jws: string; claims: ChunkClaims };

export async function signClaims(identityKey: JWK, claims: ChunkClaims): Promise<string> {
  const { d: _private, ...publicKey } = identityKey;
  return new CompactSign(new TextEncoder().encode(JSON.stringify(claims)))
    .setProtectedHeader({ alg: "EdDSA", typ: CHUNK_TYP, kid: await calculateJwkThumbprint(publicKey) })
    .sign(await importJWK(identityKey, "EdDSA"));
}

/** The chunks of `texts`, chained from the recording's genesis, with the stream totals each reached. */
export async function makeChunks(
  identityKey: JWK,
  ids: { rid: string; sid: string },
  parts: { text: string; out: number; in: number }[],
  { final = true }: { final?: boolean } = {},
): Promise<MadeChunk[]> {
  let prev = await genesis(ids.rid);
  const chunks: MadeChunk[] = [];
  for (const [seq, part] of parts.entries()) {
    const sealed = await sealChunk(ids.rid, seq, new TextEncoder().encode(part.text), prev);
    const claims: ChunkClaims = {
      ...ids,
      seq,
      size: sealed.entry.size,
      sha256: sealed.entry.sha256,
      rawSize: sealed.entry.rawSize,
      rawSha256: sealed.entry.rawSha256,
      link: sealed.entry.link,
      out: part.out,
      in: part.in,
      final: final && seq === parts.length - 1,
      at: Date.now(),
    };
    chunks.push({ seq, data: sealed.data, jws: await signClaims(identityKey, claims), claims });
    prev = sealed.entry.link;
  }
  return chunks;
}

/** PUTs a chunk to the edge as connector `connectorId` would (a token for exactly its path). */
export async function uploadChunk(
  fetcher: { fetch: typeof fetch },
  connector: { connectorId: string; identityKey: JWK },
  rid: string,
  chunk: { seq: number; data: Uint8Array; jws: string },
): Promise<Response> {
  const path = connectorEndpoint.recordingChunk(rid, chunk.seq);
  return fetcher.fetch(`${ORIGIN}${path}`, {
    method: "PUT",
    headers: {
      Authorization: `Bearer ${await connectorToken(connector.connectorId, connector.identityKey, path)}`,
      "content-type": "application/octet-stream",
      [CHUNK_HEADER]: chunk.jws,
    },
    body: new Blob([chunk.data as BlobPart]),
  });
}
