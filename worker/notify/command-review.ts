// Command review's notice (docs/governance.md): when a line is held, the session's reviewers' notified devices
// hear of it at once (Web Push through the outbox, delivered now rather than at the next cron sweep: the line
// waits minutes at most). The room asks for it through the worker effects (durable/worker-effects.ts).
import { REVIEW_SECONDS } from "../../protocol/index.ts";
import { reviewersOf } from "../../edge-shared/command-reviews.ts";
import type { Env } from "../env.ts";
import { pushNow } from "./push-now.ts";
import { commandReviewNotice } from "./push-notices.ts";

export async function notifyCommandReview(env: Env, sessionId: string, reviewId: string): Promise<void> {
  const reviewers = await reviewersOf(env.DB, sessionId);
  if (!reviewers) return;
  const notice = commandReviewNotice({ sessionId, reviewId, user: reviewers.user, server: reviewers.server });
  // A notice outliving the longest review would only send the reviewer to an empty list.
  await pushNow(env, "session.command_review", reviewers.userIds, notice, REVIEW_SECONDS.max * 1000);
}
