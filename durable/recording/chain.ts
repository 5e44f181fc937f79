// The recording hash chain and chunk codec (pure, WebCrypto and CompressionStream only: runs in
// workerd, Node and the browser). Each chunk's link is SHA-256 over the previous link, its number
// and its hashes; the first link starts from the recording's id, so a chunk from another
// recording never fits.
import type { ChunkEntry } from "../../protocol/index.ts";

const utf8 = new TextEncoder();

export async function sha256Hex(data: Uint8Array | string): Promise<string> {
  const bytes = typeof data === "string" ? utf8.encode(data) : data;
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes as BufferSource));
  return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
}

export function genesis(recordingId: string): Promise<string> {
  return sha256Hex(`psm-recording-v1\n${recordingId}`);
}

export function nextLink(prev: string, seq: number, sha256: string, rawSha256: string): Promise<string> {
  return sha256Hex(`${prev}\n${seq}\n${sha256}\n${rawSha256}`);
}

async function through(data: Uint8Array, stream: CompressionStream | DecompressionStream): Promise<Uint8Array> {
  const out = new Response(new Blob([data as BlobPart]).stream().pipeThrough(stream));
  return new Uint8Array(await out.arrayBuffer());
}

export const gunzip = (data: Uint8Array) => through(data, new DecompressionStream("gzip"));

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(data: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of data) c = CRC_TABLE[(c ^ b) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/**
 * A gzip member (RFC 1952) whose FNAME field names the chunk, `<recordingId>.<seq>`: plain gzip to
 * any tool, but two recordings never produce the same chunk bytes, even for the same text.
 * CompressionStream cannot set FNAME, so the container is written here around raw deflate.
 */
export async function gzipNamed(raw: Uint8Array, name: string): Promise<Uint8Array> {
  const body = await through(raw, new CompressionStream("deflate-raw"));
  const fname = new TextEncoder().encode(`${name}\0`);
  // ID1 ID2 CM=8 (deflate) FLG=FNAME, MTIME=0 (4), XFL=0, OS=255 (unknown)
  const header = new Uint8Array([0x1f, 0x8b, 8, 0x08, 0, 0, 0, 0, 0, 255]);
  const trailer = new Uint8Array(8);
  const view = new DataView(trailer.buffer);
  view.setUint32(0, crc32(raw), true); // CRC32 of the uncompressed data
  view.setUint32(4, raw.byteLength >>> 0, true); // ISIZE: its length mod 2^32
  const out = new Uint8Array(header.length + fname.length + body.length + 8);
  out.set(header);
  out.set(fname, header.length);
  out.set(body, header.length + fname.length);
  out.set(trailer, out.length - 8);
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
