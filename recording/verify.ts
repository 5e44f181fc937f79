// Verifies a stored recording against its signed manifest (pure over a reader): detects a changed
// byte, a missing, extra, reordered or truncated chunk, a chunk from another recording, a broken
// chain and a forged or foreign manifest. Used by the API, the CLI and the tests.
import type { CryptoKey, JWK } from "jose";
import type { IntegrityProblem, IntegrityReport, RecordingManifest } from "../protocol/index.ts";
import { chunkName, genesis, gzipName, nextLink, sha256Hex } from "./chain.ts";
import { ManifestError, openManifest } from "./manifest.ts";

export type RecordingReader = {
  manifest(): Promise<string | null>;
  /** Chunk numbers present in the store. */
  list(): Promise<number[]>;
  chunk(seq: number): Promise<Uint8Array | null>;
};

/** Checks the chain of the manifest's entries itself: links recomputed from the recording's id. */
export async function chainProblems(m: RecordingManifest): Promise<IntegrityProblem[]> {
  const problems: IntegrityProblem[] = [];
  let prev = await genesis(m.recordingId);
  for (const [i, e] of m.chunks.entries()) {
    if (e.seq !== i) problems.push({ kind: "chain", seq: e.seq, detail: `entry ${i} is numbered ${e.seq}` });
    const link = await nextLink(prev, i, e.sha256, e.rawSha256);
    if (link !== e.link) problems.push({ kind: "chain", seq: i, detail: "link does not follow from the previous one" });
    prev = link;
  }
  if (prev !== m.head) problems.push({ kind: "chain", detail: "head is not the last link" });
  return problems;
}

export async function verifyRecording(
  recordingId: string,
  reader: RecordingReader,
  /** The edge's public key, or its key history (the manifest's kid picks one). */
  publicKey: CryptoKey | JWK | JWK[],
): Promise<{ report: IntegrityReport; manifest: RecordingManifest | null }> {
  const problems: IntegrityProblem[] = [];
  const jws = await reader.manifest();
  const present = new Set(await reader.list());
  const report = (status: IntegrityReport["status"], chunks: number) => ({ recordingId, status, chunks, problems });
  if (!jws) {
    problems.push({ kind: "unsealed", detail: "no manifest: the recording is not closed yet" });
    return { report: report("unsealed", present.size), manifest: null };
  }
  let manifest: RecordingManifest;
  try {
    manifest = await openManifest(jws, publicKey);
  } catch (err) {
    problems.push({ kind: "signature", detail: err instanceof ManifestError ? err.message : "unreadable manifest" });
    return { report: report("tampered", present.size), manifest: null };
  }
  if (manifest.recordingId !== recordingId) {
    problems.push({ kind: "manifest", detail: "the manifest belongs to another recording" });
    return { report: report("tampered", present.size), manifest };
  }
  problems.push(...(await chainProblems(manifest)));
  for (const entry of manifest.chunks) {
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
  if (!tampered && !manifest.complete)
    problems.push({ kind: "incomplete", detail: "recording stopped early: the buffer limit was reached" });
  return {
    report: report(tampered ? "tampered" : manifest.complete ? "verified" : "incomplete", manifest.chunks.length),
    manifest,
  };
}

/** Checks a downloaded .cast (the chunks' text, concatenated) against a verified manifest. */
export async function castProblems(cast: Uint8Array, manifest: RecordingManifest): Promise<IntegrityProblem[]> {
  const problems: IntegrityProblem[] = [];
  let offset = 0;
  for (const e of manifest.chunks) {
    const part = cast.subarray(offset, offset + e.rawSize);
    if (part.byteLength !== e.rawSize || (await sha256Hex(part)) !== e.rawSha256)
      problems.push({ kind: "hash", seq: e.seq, detail: `text of chunk ${e.seq} differs` });
    offset += e.rawSize;
  }
  if (offset !== cast.byteLength)
    problems.push({ kind: "extra", detail: `${cast.byteLength - offset} bytes after the last chunk` });
  return problems;
}
