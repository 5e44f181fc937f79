// The recording hash chain and chunk codec (pure, WebCrypto and CompressionStream only: runs in
// workerd, Node and the browser). Each chunk's link is SHA-256 over the previous link, its number
// and its hashes; the first link starts from the recording's id, so a chunk from another
// recording never fits.
import type { ChunkEntry } from "../protocol/index.ts";

const utf8 = new TextEncoder();

export async function sha256Hex(data: Uint8Array | string): Promise<string> {
  const bytes = typeof data === "string" ? utf8.encode(data) : data;
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>));
  return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
}

export function genesis(recordingId: string): Promise<string> {
  return sha256Hex(`psm-recording-v1\n${recordingId}`);
}

export function nextLink(prev: string, seq: number, sha256: string, rawSha256: string): Promise<string> {
  return sha256Hex(`${prev}\n${seq}\n${sha256}\n${rawSha256}`);
}

async function through(data: Uint8Array, stream: CompressionStream | DecompressionStream): Promise<Uint8Array> {
  const out = new Response(new Blob([data as Uint8Array<ArrayBuffer>]).stream().pipeThrough(stream));
  return new Uint8Array(await out.arrayBuffer());
}

export const gunzip = (data: Uint8Array) => through(data, new DecompressionStream("gzip"));

/**
 * A gzip member (RFC 1952) whose FNAME field names the chunk, `<recordingId>.<seq>`: plain gzip to
 * any tool, but two recordings never produce the same chunk bytes, even for the same text.
 * CompressionStream cannot set FNAME, so its (native) output gets the field inserted after the
 * fixed 10-byte header; the deflate data and the CRC32/ISIZE trailer are unchanged.
 */
export async function gzipNamed(raw: Uint8Array, name: string): Promise<Uint8Array> {
  const plain = await through(raw, new CompressionStream("gzip"));
  // ID1 ID2 CM=8, and no optional fields yet (FLG = 0): what every runtime's gzip writes.
  if (plain[0] !== 0x1f || plain[1] !== 0x8b || plain[2] !== 8 || plain[3] !== 0)
    throw new Error("unexpected gzip header");
  const fname = new TextEncoder().encode(`${name}\0`);
  const out = new Uint8Array(plain.length + fname.length);
  out.set(plain.subarray(0, 10));
  out[3] = 0x08; // FLG.FNAME
  out.set(fname, 10);
  out.set(plain.subarray(10), 10 + fname.length);
  return out;
}

/** The FNAME of a gzip member, or null when it has none. */
export function gzipName(data: Uint8Array): string | null {
  if (data.length < 10 || data[0] !== 0x1f || data[1] !== 0x8b || !(data[3]! & 0x08) || data[3]! & 0x04) return null;
  const end = data.indexOf(0, 10);
  return end < 0 ? null : new TextDecoder().decode(data.subarray(10, end));
}

export const chunkName = (recordingId: string, seq: number) => `${recordingId}.${seq}`;

/** Compresses one chunk's asciicast text and links it to the previous link. */
export async function sealChunk(
  recordingId: string,
  seq: number,
  raw: Uint8Array,
  prev: string,
): Promise<{ data: Uint8Array; entry: ChunkEntry }> {
  const data = await gzipNamed(raw, chunkName(recordingId, seq));
  const sha256 = await sha256Hex(data);
  const rawSha256 = await sha256Hex(raw);
  const link = await nextLink(prev, seq, sha256, rawSha256);
  return { data, entry: { seq, size: data.byteLength, sha256, rawSize: raw.byteLength, rawSha256, link } };
}

/** Object keys: recordings/<id>/000042.cast.gz and recordings/<id>/manifest.jws. */
export const chunkKey = (recordingId: string, seq: number) =>
  `recordings/${recordingId}/${String(seq).padStart(6, "0")}.cast.gz`;
export const manifestKey = (recordingId: string) => `recordings/${recordingId}/manifest.jws`;
export const recordingPrefix = (recordingId: string) => `recordings/${recordingId}/`;
export function seqOfKey(key: string): number | null {
  const m = /\/(\d{6,})\.cast\.gz$/.exec(key);
  return m ? Number(m[1]) : null;
}
