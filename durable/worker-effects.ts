// Effects a Durable Object asks of the Worker's code, which durable/ may not import (DESIGN.md, enforced by
// scripts/check-boundaries.ts). The Worker's entry point provides them as it loads (worker/index.ts); it is the
// bundle's main module, so it has run before any object is constructed.
import type { AuditEntry } from "../protocol/index.ts";
import type { Env } from "../worker/env.ts";

export type WorkerEffects = {
  /**
   * The connector refused the user's master password: audit it, and count it on their throttle unless the guess was
   * reserved there at connect (`reserved`).
   */
  masterPasswordWrong(env: Env, user: { id: string; name: string }, reserved: boolean): Promise<void>;
  /** A master password reserved at connect was not found wrong (taken, or the session ended otherwise): give it back. */
  masterPasswordSettled(env: Env, userId: string): Promise<void>;
  /** A command line waits for review (command review, docs/governance.md): tell the session's reviewers. */
  commandReviewWaiting(env: Env, sessionId: string, reviewId: string): Promise<void>;
  /**
   * The audit stream (worker/audit-stream/deliver.ts): delivers what each due sink lacks, reading the ledger through
   * `ledger`; answers when to run again (null: every sink has everything).
   */
  deliverAuditStream(
    env: Env,
    ledger: { page(afterIdx: number, limit: number): AuditEntry[]; count(): number },
  ): Promise<number | null>;
};

let provided: WorkerEffects | undefined;

export function provideWorkerEffects(effects: WorkerEffects): void {
  provided = effects;
}

/** The provided effects; throws if the entry point never ran (an object loaded without the Worker). */
export function workerEffects(): WorkerEffects {
  if (!provided) throw new Error("worker effects not provided: worker/index.ts must be the main module");
  return provided;
}
