// PUT /connector/recordings/:id/chunks/:seq: a connector uploads one chunk of a recording it made at the
// source (docs/recording.md). The body is the chunk's gzip bytes, its signed claims ride in CHUNK_HEADER,
// and the proof-of-key token must name exactly this path. After storing, the session's room hears of it:
// it seals the manifest once the session has ended and the last chunk is in.
import type { MiddlewareHandler } from "hono";
import { z } from "zod";
import { CHUNK_HEADER, connectorEndpoint, RECORDING_CHUNK_MAX_STORED } from "../../protocol/index.ts";
import { limitBody } from "../body-limit.ts";
import { authenticateConnector } from "../connector-auth.ts";
import type { AppContext } from "../env.ts";
import { ApiFailure } from "../errors.ts";
import { newApi, route } from "../openapi.ts";
import { acceptChunk } from "../recording-chunks.ts";

/** Mounted at /: the connector's side. */
export const recordingUpload = newApi();

const ChunkParam = z.object({
  id: z.uuid(),
  // Canonical numbers only, so one chunk has one path (and one token).
  seq: z
    .string()
    .regex(/^(0|[1-9]\d{0,8})$/)
    .transform(Number),
});

/** The token must have been minted for this chunk's own path. */
const requireChunkConnector: MiddlewareHandler<AppContext> = async (c, next) => {
  const endpoint = connectorEndpoint.recordingChunk(c.req.param("id") ?? "", Number(c.req.param("seq")));
  if (new URL(c.req.url).pathname !== endpoint) throw new ApiFailure("not_found", "not a chunk path");
  c.set("connector", await authenticateConnector(c.env.DB, c.req.header("Authorization"), endpoint));
  await next();
};

recordingUpload.openapi(
  route({
    method: "put",
    path: "/connector/recordings/{id}/chunks/{seq}",
    summary: "A connector uploads one signed chunk of a session's recording",
    tags: ["recordings"],
    middleware: [requireChunkConnector, limitBody(RECORDING_CHUNK_MAX_STORED)],
    params: ChunkParam,
  }),
  async (c) => {
    const { id, seq } = c.req.valid("param");
    const jws = c.req.header(CHUNK_HEADER);
    if (!jws || jws.length > 4096) throw new ApiFailure("bad_request", "chunk claims missing");
    const data = new Uint8Array(await c.req.arrayBuffer());
    const accepted = await acceptChunk(c.env, c.get("connector"), { recordingId: id, seq, jws, data }, Date.now());
    // Also after a duplicate: its put may be the one that completed the chunk (an earlier put failed or was
    // under way), and sealing again changes nothing when nothing changed.
    const room = c.env.SESSION_ROOM.get(c.env.SESSION_ROOM.idFromName(accepted.sessionId));
    // The chunk is stored whatever the room says; a seal that fails now is retried on the room's alarm.
    await room
      .chunkArrived(id)
      .catch((err: Error) => console.warn(`recording ${id}: seal poke failed: ${err.message}`));
    return c.json({ ok: true, duplicate: accepted.duplicate }, 200);
  },
);
