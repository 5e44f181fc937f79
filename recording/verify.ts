// Verifies a stored recording against its signed manifest (pure over a reader): detects a changed
// byte, a missing, extra, reordered or truncated chunk, a chunk from another recording, a broken
// chain and a forged or foreign manifest. For a recording made at the source (manifest v2) it also
// checks the connector's signed head of the chain, and that the chunks cover what the room witnessed.
// Used by the API, the CLI and the tests.
import {
  calculateJwkThumbprint,
  type CryptoKey,
  compactVerify,
  decodeProtectedHeader,
  importJWK,
  type JWK,
} from "jose";
import {
  CHUNK_TYP,
  ChunkClaims,
  type ChunkEntry,
  CONNECTOR_TOKEN_ALG,
  type IntegrityProblem,
  type IntegrityReport,
  type RecordingManifestV2,
} from "../protocol/index.ts";
import { chunkName, genesis, gzipName, nextLink, sha256Hex } from "./chain.ts";
import { type AnyManifest, ManifestError, openManifest } from "./manifest.ts";

export type RecordingReader = {
  manifest(): Promise<string | null>;
  /** Chunk numbers present in the store. */
  list(): Promise<number[]>;
  chunk(seq: number): Promise<Uint8Array | null>;
};

/** What the manifest says of one chunk: its stored bytes and the text inside. */
export type ChunkEntryView = { seq: number; size: number; sha256: string; rawSize: number; rawSha256: string };

type Coverage = NonNullable<IntegrityReport["coverage"]>;

/** Recomputes the chain over `entries` from the recording's id; returns its last link, noting each break. */
async function chainHead(recordingId: string, entries: ChunkEntry[], problems: IntegrityProblem[]): Promise<string> {
  let prev = await genesis(recordingId);
  for (const [i, e] of entries.entries()) {
    if (e.seq !== i) problems.push({ kind: "chain", seq: e.seq, detail: `entry ${i} is numbered ${e.seq}` });
    const link = await nextLink(prev, i, e.sha256, e.rawSha256);
    if (link !== e.link) problems.push({ kind: "chain", seq: i, detail: "link does not follow from the previous one" });
    prev = link;
  }
  return prev;
}

/** The chain a manifest describes, checked from the recording's id, with what it says of each chunk. */
export async function manifestChunks(
  m: AnyManifest,
): Promise<{ entries: ChunkEntryView[]; problems: IntegrityProblem[]; coverage?: Coverage }> {
  if (m.v === 2) return sourceChunks(m);
  const problems: IntegrityProblem[] = [];
  const prev = await chainHead(m.recordingId, m.chunks, problems);
  if (prev !== m.head) problems.push({ kind: "chain", detail: "head is not the last link" });
  return { entries: m.chunks, problems };
}

/**
 * A v2 manifest's chunks: the chain recomputed from the recording's id over every entry, and the head
 * (the last chunk's claims) verified with a connector key the manifest names: it must be that chunk's,
 * with the chain's last link, so the connector's signature covers every chunk before it. Then the head's
 * reach is held against the witness: under-reporting is always tampering; output past the witness only when
 * the connector itself ended the session (it had sent everything before its `end`); input past it always.
 */
async function sourceChunks(
  m: RecordingManifestV2,
): Promise<{ entries: ChunkEntryView[]; problems: IntegrityProblem[]; coverage: Coverage }> {
  const problems: IntegrityProblem[] = [];
  const prev = await chainHead(m.recordingId, m.chunks, problems);
  const signers = new Map<string, JWK>();
  for (const jwk of m.signers) signers.set(await calculateJwkThumbprint(jwk as JWK), jwk as JWK);
  const last = m.chunks.at(-1);
  const head = m.head ? await openChunkClaims(m.head, signers) : null;
  if (last && !head)
    problems.push({
      kind: "signature",
      seq: last.seq,
      detail: "the last chunk's claims are not signed by the session's connector",
    });
  else if (
    head &&
    (!last ||
      head.rid !== m.recordingId ||
      head.sid !== m.sessionId ||
      head.seq !== last.seq ||
      head.link !== prev ||
      head.sha256 !== last.sha256)
  )
    problems.push({ kind: "chain", detail: "the connector's signed head is not this chain's last chunk" });
  const w = m.witness;
  const coverage = { output: w.output, input: w.input, recordedOutput: head?.out ?? 0, recordedInput: head?.in ?? 0 };
  const final = head?.final ?? false;
  if (m.complete !== final)
    problems.push({
      kind: "manifest",
      detail: m.complete
        ? "the manifest says complete but no chunk is marked last"
        : "a chunk marked last, yet incomplete",
    });
  if (final && coverage.recordedOutput < w.output)
    problems.push({
      kind: "witness",
      detail: `the chunks hold ${coverage.recordedOutput} output bytes; the room relayed ${w.output}`,
    });
  if (coverage.recordedOutput > w.output && w.endedBy === "connector")
    problems.push({
      kind: "witness",
      detail: `the chunks hold ${coverage.recordedOutput} output bytes; the room relayed only ${w.output}`,
    });
  if (coverage.recordedInput > w.input)
    problems.push({
      kind: "witness",
      detail: `the chunks hold ${coverage.recordedInput} input bytes; the room relayed only ${w.input}`,
    });
  if (!m.complete && (!m.gap || m.gap.fromSeq !== m.chunks.length || m.gap.outputFrom !== coverage.recordedOutput))
    problems.push({ kind: "manifest", detail: "the manifest's gap does not match its chunks" });
  return { entries: m.chunks, problems, coverage };
}

/** A chunk's claims if a key of `signers` (by kid) signed them as a chunk; null otherwise. */
export async function openChunkClaims(jws: string, signers: Map<string, JWK>): Promise<ChunkClaims | null> {
  try {
    const { kid } = decodeProtectedHeader(jws);
    const jwk = kid ? signers.get(kid) : undefined;
    if (!jwk) return null;
    const key = await importJWK(jwk, CONNECTOR_TOKEN_ALG);
    const { payload, protectedHeader } = await compactVerify(jws, key, { algorithms: [CONNECTOR_TOKEN_ALG] });
    if (protectedHeader.typ !== CHUNK_TYP) return null;
    const parsed = ChunkClaims.safeParse(JSON.parse(new TextDecoder().decode(payload)));
    return parsed.success ? parsed.data : null;
  } catch {
    return null;
  }
}

export async function verifyRecording(
  recordingId: string,
  reader: RecordingReader,
  /** The edge's public key, or its key history (the manifest's kid picks one). */
  publicKey: CryptoKey | JWK | JWK[],
): Promise<{ report: IntegrityReport; manifest: AnyManifest | null; entries: ChunkEntryView[] }> {
  const problems: IntegrityProblem[] = [];
  const jws = await reader.manifest();
  const present = new Set(await reader.list());
  const report = (status: IntegrityReport["status"], chunks: number, coverage?: Coverage): IntegrityReport => ({
    recordingId,
    status,
    chunks,
    problems,
    ...(coverage ? { coverage } : {}),
  });
  if (!jws) {
    problems.push({ kind: "unsealed", detail: "no manifest: the recording is not closed yet" });
    return { report: report("unsealed", present.size), manifest: null, entries: [] };
  }
  let manifest: AnyManifest;
  try {
    manifest = await openManifest(jws, publicKey);
  } catch (err) {
    problems.push({ kind: "signature", detail: err instanceof ManifestError ? err.message : "unreadable manifest" });
    return { report: report("tampered", present.size), manifest: null, entries: [] };
  }
  if (manifest.recordingId !== recordingId) {
    problems.push({ kind: "manifest", detail: "the manifest belongs to another recording" });
    return { report: report("tampered", present.size), manifest, entries: [] };
  }
  const chain = await manifestChunks(manifest);
  problems.push(...chain.problems);
  for (const entry of chain.entries) {
    const data = present.has(entry.seq) ? await reader.chunk(entry.seq) : null;
    if (!data) {
      problems.push({ kind: "missing", seq: entry.seq, detail: `chunk ${entry.seq} is missing` });
      continue;
    }
    const name = gzipName(data);
    if (name !== null && name !== chunkName(recordingId, entry.seq)) {
      const fromOther = !name.startsWith(`${recordingId}.`);
      problems.push({
        kind: "hash",
        seq: entry.seq,
        detail: fromOther
          ? `chunk ${entry.seq} comes from another recording`
          : `chunk ${entry.seq} is chunk ${name.split(".").pop()} moved`,
      });
      continue;
    }
    if (data.byteLength !== entry.size || (await sha256Hex(data)) !== entry.sha256)
      problems.push({
        kind: "hash",
        seq: entry.seq,
        detail: `chunk ${entry.seq} differs from the manifest (${data.byteLength} bytes, expected ${entry.size})`,
      });
  }
  for (const seq of present)
    if (seq >= manifest.chunks.length)
      problems.push({ kind: "extra", seq, detail: `chunk ${seq} is not in the manifest` });
  const tampered = problems.length > 0;
  if (!tampered && !manifest.complete) problems.push({ kind: "incomplete", detail: incompleteDetail(manifest) });
  return {
    report: report(
      tampered ? "tampered" : manifest.complete ? "verified" : "incomplete",
      manifest.chunks.length,
      chain.coverage,
    ),
    manifest,
    entries: chain.entries,
  };
}

function incompleteDetail(m: AnyManifest): string {
  if (m.v === 1) return "recording stopped early: the buffer limit was reached";
  const gap = m.gap;
  if (!gap) return "the recording's last chunk never arrived";
  return `output bytes ${gap.outputFrom} to ${gap.outputTo} were not recorded (${gap.reason}); chunks from ${gap.fromSeq} on are missing`;
}

/** Checks a downloaded .cast (the chunks' text, concatenated) against a verified manifest's entries. */
export async function castProblems(cast: Uint8Array, entries: ChunkEntryView[]): Promise<IntegrityProblem[]> {
  const problems: IntegrityProblem[] = [];
  let offset = 0;
  for (const e of entries) {
    const part = cast.subarray(offset, offset + e.rawSize);
    if (part.byteLength !== e.rawSize || (await sha256Hex(part)) !== e.rawSha256)
      problems.push({ kind: "hash", seq: e.seq, detail: `text of chunk ${e.seq} differs` });
    offset += e.rawSize;
  }
  if (offset !== cast.byteLength)
    problems.push({ kind: "extra", detail: `${cast.byteLength - offset} bytes after the last chunk` });
  return problems;
}
