// The commands timeline (issue 19, docs/governance.md): GET /api/commands's query and answer, and the pure
// mapping from a command's audit entry (with the names the edge found for it) to a row of the timeline.
import { z } from "zod";
import { type AuditAction, AuditFilterQuery, type AuditListEntry } from "./audit.ts";

/** What became of a command line: it ran, it ran and a rule alerted on it, or a rule denied it. */
export const CommandOutcome = z.enum(["ran", "alert", "denied"]);
export type CommandOutcome = z.infer<typeof CommandOutcome>;

/** The ledger action each outcome is audited as (durable/room/commands.ts writes them). */
export const COMMAND_ACTIONS = {
  ran: "session.command",
  alert: "session.command_alert",
  denied: "session.command_denied",
} as const satisfies Record<CommandOutcome, AuditAction>;

const OUTCOME_OF = new Map<string, CommandOutcome>(
  Object.entries(COMMAND_ACTIONS).map(([outcome, action]) => [action, outcome as CommandOutcome]),
);

/** Most characters of command text to search for (lines are at most 1,024: MAX_COMMAND_EVENT_LINE). */
export const MAX_COMMAND_SEARCH = 200;

export const CommandsQuery = z.object({
  /** Text the command line contains, in any case (ASCII letters; SQLite's LIKE). Empty: any line. */
  q: z.string().trim().max(MAX_COMMAND_SEARCH).optional(),
  /** Part of the user's name, part of the server's name: as the audit filter reads them. */
  user: AuditFilterQuery.shape.user,
  server: AuditFilterQuery.shape.server,
  action: CommandOutcome.optional(),
  /** Inclusive, unix ms. */
  from: z.coerce.number().int().optional(),
  to: z.coerce.number().int().optional(),
  /** The cursor: commands audited before this ledger index (the previous page's `next`). */
  before: z.coerce.number().int().nonnegative().optional(),
  limit: z.coerce.number().int().min(1).max(200).default(50),
});
export type CommandsQuery = z.infer<typeof CommandsQuery>;

export const CommandListEntry = z.object({
  /** The audit entry's index (its raw form is in the audit log). */
  idx: z.number().int(),
  /** When the room audited it, unix ms. */
  at: z.number().int(),
  userId: z.string().nullable(),
  /** Names as the edge knows them today (null: gone). */
  user: z.string().nullable(),
  serverId: z.string().nullable(),
  server: z.string().nullable(),
  sessionId: z.string().nullable(),
  line: z.string(),
  outcome: CommandOutcome,
  /** The policy rule that alerted or denied (its index in the policy's list), and its message. */
  rule: z.number().int().nullable(),
  message: z.string().nullable(),
  /** The session's recording, when there is one. */
  recordingId: z.string().nullable(),
  /** Seconds into the recording when Enter was pressed (the connector's recording clock); null when not carried. */
  seconds: z.number().nonnegative().nullable(),
  /** The session's output offset at that moment (every command entry carries it). */
  offset: z.number().int().nonnegative().nullable(),
});
export type CommandListEntry = z.infer<typeof CommandListEntry>;

export const CommandsPage = z.object({
  commands: z.array(CommandListEntry),
  /** Pass as `before` for the next (older) page; null when this page was the last. */
  next: z.number().int().nullable(),
});
export type CommandsPage = z.infer<typeof CommandsPage>;

const nonNegInt = (v: unknown) => (typeof v === "number" && Number.isInteger(v) && v >= 0 ? v : null);

/** One timeline row from a command's audit entry; null for an entry that is not a command. */
export function commandRow(e: AuditListEntry): CommandListEntry | null {
  const outcome = OUTCOME_OF.get(e.action);
  const data = (e.data ?? {}) as Record<string, unknown>;
  if (!outcome || typeof data.line !== "string") return null;
  const ms = nonNegInt(data.ms);
  const recordingId = e.context.recordingId ?? null;
  return {
    idx: e.idx,
    at: e.ts,
    userId: e.refs.userId ?? e.actor?.id ?? null,
    user: e.context.user ?? e.actor?.name ?? null,
    serverId: e.refs.serverId ?? null,
    server: e.context.server ?? null,
    sessionId: e.refs.sessionId ?? (e.target.type === "session" ? e.target.id : null),
    line: data.line,
    outcome,
    rule: nonNegInt(data.rule),
    message: typeof data.message === "string" && data.message ? data.message : null,
    recordingId,
    seconds: recordingId && ms !== null ? ms / 1000 : null,
    offset: nonNegInt(data.at),
  };
}

// ---- command review (docs/governance.md) ---------------------------------------------------------------------------

/** How a held command's review ended: a reviewer allowed or refused it, nobody answered in time, the user took it
 * back, or the session ended first. */
export const CommandReviewDecision = z.enum(["approved", "refused", "timed_out", "withdrawn", "ended"]);
export type CommandReviewDecision = z.infer<typeof CommandReviewDecision>;

/** An open review, as its reviewers see it (GET /api/command-reviews). Times are unix ms. */
export const CommandReviewItem = z.object({
  sessionId: z.string(),
  /** The review's id within its session. */
  id: z.string(),
  line: z.string(),
  /** The rule that holds it (its index in the policy's list) and the rule's message. */
  rule: z.number().int(),
  message: z.string(),
  /** Who typed it, on which server. */
  user: z.string(),
  server: z.string(),
  requestedAt: z.number().int(),
  /** Past this, the command is refused unanswered. */
  expiresAt: z.number().int(),
});
export type CommandReviewItem = z.infer<typeof CommandReviewItem>;
export const CommandReviewList = z.object({ reviews: z.array(CommandReviewItem) });
export type CommandReviewList = z.infer<typeof CommandReviewList>;

/** A reviewer's answer: let the held command run, or not. */
export const DecideCommandReviewRequest = z.strictObject({ allow: z.boolean() });
export const CommandReviewDecided = z.object({ decided: z.literal(true) });
