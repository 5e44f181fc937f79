// Request body limits, checked before anything parses a body: a declared Content-Length over the
// limit is refused unread; a body without one (chunked) is counted while read and refused at the limit.
import type { MiddlewareHandler } from "hono";
import type { AppContext } from "./env.ts";
import { ApiFailure } from "./errors.ts";

/**
 * Reads the request body into memory, at most `maxBytes` of it, then hands the handler a request
 * carrying those bytes. Placed after a route's authentication and before its validator, so a body
 * is read only for a caller who may send one, and never more than the limit is held.
 */
export function limitBody(maxBytes: number): MiddlewareHandler<AppContext> {
  return async (c, next) => {
    const body = c.req.raw.body;
    if (!body) return next();
    const declared = c.req.header("Content-Length");
    if (declared !== undefined) {
      const length = Number(declared);
      if (!Number.isSafeInteger(length) || length < 0) throw new ApiFailure("bad_request", "bad Content-Length");
      // Refused unread: the runtime drops a body nobody reads once the answer is sent.
      if (length > maxBytes) throw new ApiFailure("too_large", `Content-Length ${length} over ${maxBytes}`);
    }
    const bytes = await readAtMost(body, maxBytes);
    c.req.raw = new Request(c.req.raw, { body: bytes });
    return next();
  };
}

/** The stream's bytes, or a too_large failure at the first chunk that passes `maxBytes` (the rest is cancelled, unread). */
async function readAtMost(stream: ReadableStream<Uint8Array>, maxBytes: number): Promise<Uint8Array<ArrayBuffer>> {
  const reader = stream.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > maxBytes) {
      await reader.cancel().catch(() => {});
      throw new ApiFailure("too_large", `body passed ${maxBytes} bytes while read`);
    }
    chunks.push(value);
  }
  const bytes = new Uint8Array(size);
  let at = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, at);
    at += chunk.byteLength;
  }
  return bytes;
}
