// Binary frames: terminal bytes and flow-control credit. Control messages are JSON (messages.ts).
//
// Every binary frame starts with a one-byte kind:
//
//   DATA (0x01): terminal bytes, output (connector -> room -> browser) or input (browser -> room -> connector)
//   +--------+----------------------------------------+
//   | 0x01   | payload: 1..MAX_DATA_PAYLOAD raw bytes  |
//   +--------+----------------------------------------+
//    byte 0   bytes 1..n
//
//   CREDIT (0x02): the reader has consumed `bytes` more output bytes (browser -> room -> connector)
//   +--------+---------------------------------+
//   | 0x02   | bytes: uint32, big-endian, > 0  |
//   +--------+---------------------------------+
//    byte 0   bytes 1..4 (exactly 5 bytes in all)
//
//   FILE_DATA (0x03): bytes of file transfer `id` (protocol/file-transfer.ts): browser -> room -> connector for an
//   upload, connector -> room -> browser for a download. Only within the receiver's credit (FILE_WINDOW).
//   +--------+-----------------------+---------------------------------------+
//   | 0x03   | id: uint32, BE, > 0    | payload: 1..MAX_FILE_PAYLOAD raw bytes |
//   +--------+-----------------------+---------------------------------------+
//    byte 0   bytes 1..4               bytes 5..n
//
//   FILE_CREDIT (0x04): the receiver of transfer `id` consumed `bytes` more of it (the other way from FILE_DATA)
//   +--------+-----------------------+---------------------------------+
//   | 0x04   | id: uint32, BE, > 0    | bytes: uint32, big-endian, > 0  |
//   +--------+-----------------------+---------------------------------+
//    byte 0   bytes 1..4               bytes 5..8 (exactly 9 bytes in all)
import { MAX_DATA_PAYLOAD } from "./limits.ts";

export const FrameKind = { Data: 0x01, Credit: 0x02, FileData: 0x03, FileCredit: 0x04 } as const;

/** A FILE_DATA frame is no larger than a DATA frame (MAX_BINARY_FRAME): the id takes 4 bytes of the payload's room. */
export const MAX_FILE_PAYLOAD = MAX_DATA_PAYLOAD - 4;

export type Frame =
  | { kind: "data"; payload: Uint8Array }
  | { kind: "credit"; bytes: number }
  | { kind: "file_data"; id: number; payload: Uint8Array }
  | { kind: "file_credit"; id: number; bytes: number };

export class FrameError extends Error {
  override name = "FrameError";
}

export function encodeData(payload: Uint8Array): Uint8Array {
  if (payload.byteLength === 0 || payload.byteLength > MAX_DATA_PAYLOAD) {
    throw new FrameError(`data payload must be 1..${MAX_DATA_PAYLOAD} bytes`);
  }
  const frame = new Uint8Array(payload.byteLength + 1);
  frame[0] = FrameKind.Data;
  frame.set(payload, 1);
  return frame;
}

/** Splits any number of bytes into DATA frames no larger than the limit. */
export function* encodeDataChunks(bytes: Uint8Array): Generator<Uint8Array> {
  for (let at = 0; at < bytes.byteLength; at += MAX_DATA_PAYLOAD) {
    yield encodeData(bytes.subarray(at, at + MAX_DATA_PAYLOAD));
  }
}

export function encodeCredit(bytes: number): Uint8Array {
  if (!Number.isInteger(bytes) || bytes <= 0 || bytes > 0xffff_ffff) {
    throw new FrameError("credit must be a positive uint32");
  }
  const frame = new Uint8Array(5);
  frame[0] = FrameKind.Credit;
  new DataView(frame.buffer).setUint32(1, bytes, false);
  return frame;
}

const uint32 = (n: number) => Number.isInteger(n) && n > 0 && n <= 0xffff_ffff;

export function encodeFileData(id: number, payload: Uint8Array): Uint8Array {
  if (!uint32(id)) throw new FrameError("transfer id must be a positive uint32");
  if (payload.byteLength === 0 || payload.byteLength > MAX_FILE_PAYLOAD) {
    throw new FrameError(`file payload must be 1..${MAX_FILE_PAYLOAD} bytes`);
  }
  const frame = new Uint8Array(payload.byteLength + 5);
  frame[0] = FrameKind.FileData;
  new DataView(frame.buffer).setUint32(1, id, false);
  frame.set(payload, 5);
  return frame;
}

export function encodeFileCredit(id: number, bytes: number): Uint8Array {
  if (!uint32(id) || !uint32(bytes)) throw new FrameError("file credit needs a positive uint32 id and bytes");
  const frame = new Uint8Array(9);
  const view = new DataView(frame.buffer);
  frame[0] = FrameKind.FileCredit;
  view.setUint32(1, id, false);
  view.setUint32(5, bytes, false);
  return frame;
}

/** Parses one binary frame. Throws FrameError on anything malformed; never returns a partial frame. */
export function decodeFrame(input: ArrayBuffer | Uint8Array): Frame {
  const bytes = input instanceof Uint8Array ? input : new Uint8Array(input);
  if (bytes.byteLength === 0) throw new FrameError("empty frame");
  switch (bytes[0]) {
    case FrameKind.Data: {
      const payload = bytes.subarray(1);
      if (payload.byteLength === 0) throw new FrameError("empty data frame");
      if (payload.byteLength > MAX_DATA_PAYLOAD) throw new FrameError("data frame too large");
      return { kind: "data", payload };
    }
    case FrameKind.Credit: {
      if (bytes.byteLength !== 5) throw new FrameError("credit frame must be 5 bytes");
      const credit = new DataView(bytes.buffer, bytes.byteOffset, 5).getUint32(1, false);
      if (credit === 0) throw new FrameError("zero credit");
      return { kind: "credit", bytes: credit };
    }
    case FrameKind.FileData: {
      if (bytes.byteLength < 6) throw new FrameError("empty file frame");
      if (bytes.byteLength - 5 > MAX_FILE_PAYLOAD) throw new FrameError("file frame too large");
      const id = new DataView(bytes.buffer, bytes.byteOffset, 5).getUint32(1, false);
      if (id === 0) throw new FrameError("zero transfer id");
      return { kind: "file_data", id, payload: bytes.subarray(5) };
    }
    case FrameKind.FileCredit: {
      if (bytes.byteLength !== 9) throw new FrameError("file credit frame must be 9 bytes");
      const view = new DataView(bytes.buffer, bytes.byteOffset, 9);
      const id = view.getUint32(1, false);
      const credit = view.getUint32(5, false);
      if (id === 0 || credit === 0) throw new FrameError("zero transfer id or credit");
      return { kind: "file_credit", id, bytes: credit };
    }
    default:
      throw new FrameError(`unknown frame kind 0x${bytes[0]?.toString(16)}`);
  }
}
