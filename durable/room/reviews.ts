// Command review (docs/governance.md), the room core's part (pure): the connector holds a line a `review` rule
// matched and asks the room; the room keeps the one pending review (saved, so an eviction keeps it), tells the
// user it waits, opens it for the reviewers (the Durable Object writes it where the reviewers' list reads it), and
// answers the connector when a reviewer decides (an RPC), when the rule's bound passes, or never when the user
// withdrew it. Every step is audited and marked in the recording.
import {
  type CommandReview,
  type CommandReviewDecision,
  REVIEW_SECONDS,
  type RoomToConnector,
} from "../../protocol/index.ts";
import type { RoomCore } from "./core.ts";
import { KEYS, type PendingReview, type Saved } from "./types.ts";

/** The core closes a review these ways; `ended` is written for the ones still open when the session ends. */
export type ReviewDecision = Exclude<CommandReviewDecision, "ended">;

const TIMED_OUT = "No reviewer answered in time: the command did not run.";

export class Reviews {
  private pending: PendingReview | null;

  constructor(
    private readonly core: RoomCore,
    saved: Saved,
  ) {
    this.pending = saved.review ?? null;
  }

  /** The connector holds a line. One at a time: the guard holds one line, so a second while one waits is refused. */
  requested(msg: CommandReview, now: number): void {
    const meta = this.core.meta!;
    if (this.pending) {
      this.answer(msg.id, false, "Another command is waiting for review.");
      return;
    }
    const seconds = Math.min(REVIEW_SECONDS.max, Math.max(REVIEW_SECONDS.min, msg.seconds));
    const review: PendingReview = {
      id: msg.id,
      line: msg.line,
      rule: msg.rule,
      message: msg.message,
      at: msg.at,
      ...(msg.ms !== undefined ? { ms: msg.ms } : {}),
      requestedAt: now,
      expiresAt: now + seconds * 1000,
    };
    this.pending = review;
    this.core.emit({ do: "save", entries: { [KEYS.review]: review } });
    this.core.life.addTimer("review", review.expiresAt);
    this.core.emit({ do: "review_open", review });
    this.core.mark(`command review: rule ${msg.rule}`, now, false);
    this.audit("session.command_review", { id: meta.userId, name: meta.username }, review, {});
    this.tellUser(
      "command_review",
      `Waiting for a reviewer to allow this command (up to ${seconds} s)${msg.message ? `: ${msg.message}` : "."}`,
    );
  }

  /**
   * A reviewer's decision (the Worker checked who may review). False when this review is not the one pending
   * (answered already, timed out, withdrawn, or never asked).
   */
  decide(id: string, allowed: boolean, reviewer: { id: string; name: string }, now: number): boolean {
    const review = this.pending;
    if (!review || review.id !== id || this.core.ended || now >= review.expiresAt) return false;
    const decision: ReviewDecision = allowed ? "approved" : "refused";
    this.close(review, decision, reviewer, now);
    this.answer(id, allowed, allowed ? "" : `${reviewer.name} refused this command: it did not run.`);
    if (allowed) this.tellUser("command_approved", `${reviewer.name} allowed the command.`);
    return true;
  }

  /** The user took the line back (Ctrl-C at the connector). */
  withdrawn(id: string, now: number): void {
    const review = this.pending;
    if (!review || review.id !== id) return;
    const meta = this.core.meta!;
    this.close(review, "withdrawn", { id: meta.userId, name: meta.username }, now);
  }

  /** The review timer fired (it is set for the pending review's bound and cleared when that review closes). */
  expired(now: number): void {
    const review = this.pending;
    if (!review) return;
    this.close(review, "timed_out", null, now);
    this.answer(review.id, false, TIMED_OUT);
  }

  private close(
    review: PendingReview,
    decision: ReviewDecision,
    actor: { id: string; name: string } | null,
    now: number,
  ): void {
    this.pending = null;
    this.core.emit({ do: "remove", keys: [KEYS.review] });
    this.core.life.clearTimer("review");
    this.core.emit({ do: "review_closed", id: review.id, decision, by: actor?.name ?? null, at: now });
    this.core.mark(
      `command review ${decision}${actor && decision !== "withdrawn" ? ` by ${actor.name}` : ""}`,
      now,
      false,
    );
    this.audit(
      decision === "approved" ? "session.command_approved" : "session.command_refused",
      actor ?? { id: "system", name: "system" },
      review,
      { decision },
    );
  }

  private answer(id: string, allowed: boolean, message: string): void {
    const connector = this.core.connector();
    const msg: RoomToConnector = { type: "command_review_answer", id, allowed, message };
    if (connector) this.core.send(connector.id, msg);
  }

  private tellUser(code: "command_review" | "command_approved", message: string): void {
    const user = this.core.browser();
    if (user) this.core.send(user.id, { type: "notice", code, message: message.slice(0, 300) });
  }

  private audit(
    action: "session.command_review" | "session.command_approved" | "session.command_refused",
    actor: { id: string; name: string },
    review: PendingReview,
    data: Record<string, unknown>,
  ): void {
    this.core.auditSession(actor, action, {
      review: review.id,
      line: review.line,
      rule: review.rule,
      at: review.at,
      ...(review.ms !== undefined ? { ms: review.ms } : {}),
      ...(review.message ? { message: review.message } : {}),
      ...data,
    });
  }
}
