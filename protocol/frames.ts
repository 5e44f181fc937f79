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
import { MAX_DATA_PAYLOAD } from "./limits.ts";

export const FrameKind = { Data: 0x01, Credit: 0x02 } as const;

export type Frame = { kind: "data"; payload: Uint8Array } | { kind: "credit"; bytes: number };

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
    default:
      throw new FrameError(`unknown frame kind 0x${bytes[0]?.toString(16)}`);
  }
}
