// The Worker → Durable Object hop: who is on the other end of a socket, as the Worker established it. The
// Worker sets PEER_HEADER on the upgrade it forwards (worker/sockets.ts) and strips cookies and tokens; the
// objects trust only this header, since nothing but the Worker can reach them.
import { z } from "zod";

export const PEER_HEADER = "X-PSM-Peer";

export const SocketPeer = z.discriminatedUnion("role", [
  z.object({ role: z.literal("user"), userId: z.string(), username: z.string() }),
  z.object({
    role: z.literal("viewer"),
    userId: z.string(),
    username: z.string(),
    /** A named moderator of a moderated session (worker/routes/sessions.ts). */
    moderator: z.boolean().optional(),
    /** The moderator's person (linked accounts are one person): the room counts moderators by person. */
    personId: z.string().optional(),
    /** A person the session's user invited, joined with input (shared sessions, worker/routes/sharing.ts). */
    writer: z.boolean().optional(),
  }),
  z.object({ role: z.literal("connector"), connectorId: z.string(), siteId: z.string() }),
]);
export type SocketPeer = z.infer<typeof SocketPeer>;

/**
 * The peer the Worker named in PEER_HEADER, checked at the Durable Object it arrives at: null when the header is
 * missing or is not a SocketPeer (the Worker is the only sender, so that is a bug, and the socket is refused).
 */
export function peerOf(header: string | null): SocketPeer | null {
  if (!header) return null;
  try {
    const parsed = SocketPeer.safeParse(JSON.parse(header));
    return parsed.success ? parsed.data : null;
  } catch {
    return null;
  }
}
