// Shared sessions (issue 19, docs/governance.md "Shared sessions"): the session's user invites another person to
// join with input. The API's shapes; the room's messages to the browsers in the session (who writes, who is typing)
// are in messages.ts. Times are unix ms.
import { z } from "zod";

/** Why the invitee may join: entitled to the session's credential themselves, or in the policy's helper group. */
export const InvitationBasis = z.enum(["entitled", "helper"]);
export type InvitationBasis = z.infer<typeof InvitationBasis>;

/**
 * Where an invitation stands: `pending` until the invitee accepts it (before `expiresAt`), then `joined` for the rest of
 * the session; `expired` when nobody accepted it in time; `revoked` by the session's user; `ended` with the session.
 */
export const InvitationState = z.enum(["pending", "joined", "expired", "revoked", "ended"]);
export type InvitationState = z.infer<typeof InvitationState>;

/** How long an invitation may wait to be accepted: 1 to 60 minutes, 15 when not said. */
export const INVITATION_DEFAULT_MINUTES = 15;
export const INVITATION_MAX_MINUTES = 60;
/** At most this many people are invited to one session at a time (pending or joined). */
export const MAX_INVITATIONS_PER_SESSION = 5;

/** The session's user invites a person by username (POST /api/sessions/{id}/invitations). */
export const InviteRequest = z.strictObject({
  username: z.string().trim().min(1).max(128),
  minutes: z.number().int().min(1).max(INVITATION_MAX_MINUTES).default(INVITATION_DEFAULT_MINUTES),
});
export type InviteRequest = z.infer<typeof InviteRequest>;
export const InvitationRevoked = z.object({ revoked: z.literal(true) });

/** One invitation to a session, as its user sees it. */
export const SessionInvitation = z.object({
  id: z.string(),
  invitee: z.string(),
  basis: InvitationBasis,
  state: InvitationState,
  createdAt: z.number().int(),
  expiresAt: z.number().int(),
  acceptedAt: z.number().int().nullable(),
});
export type SessionInvitation = z.infer<typeof SessionInvitation>;

/**
 * A session's sharing (GET /api/sessions/{id}/invitations, the session's user only): whether its policy lets the user
 * invite anyone (a terminal session whose policy turned sharing on), and the invitations made.
 */
export const SessionSharing = z.object({ allowed: z.boolean(), invitations: z.array(SessionInvitation) });
export type SessionSharing = z.infer<typeof SessionSharing>;

/** An invitation to the caller (GET /api/invitations): open (pending, or joined and the session still live). */
export const InvitationToMe = z.object({
  id: z.string(),
  sessionId: z.string(),
  /** The session's user, who invited. */
  from: z.string(),
  server: z.string(),
  state: z.enum(["pending", "joined"]),
  expiresAt: z.number().int(),
  /** The session's own deadline. */
  deadline: z.number().int(),
});
export type InvitationToMe = z.infer<typeof InvitationToMe>;

/** Accepting (POST /api/invitations/{id}/accept): the session to open with the `join` socket. */
export const InvitationAccepted = z.object({ sessionId: z.string() });
