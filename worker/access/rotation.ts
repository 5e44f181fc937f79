// A credential's rotation lifecycle, pure. The edge asks (check-in, an admin's "Rotate now" or
// "Verify", the schedule, a retry), a job goes to a connector, and the connector's answer settles it.
//
//   ok / out_of_sync --request rotate--> pending --dispatch--> rotating --rotated--> ok
//                                                                      --failed---> failed --due--> rotating ...
//   (verify jobs run beside the state: in_sync -> ok, out_of_sync -> out_of_sync)
//
// A credential that is pending, rotating or failed is not handed out: no new checkout, no session.
// Failures retry forever with capped backoff, so a target that is down at check-in is rotated when it
// is back, and nobody holds the old secret meanwhile.
import type { RotationError, RotationOp, RotationResult, RotationState } from "../../protocol/rotation.ts";

export type RotationCause = "checkin" | "manual" | "schedule" | "retry";

export type Rotation = {
  state: RotationState;
  /** The next or running job's kind; null when nothing is asked. */
  op: RotationOp | null;
  cause: RotationCause | null;
  /** The job in flight. */
  job: string | null;
  dueAt: number | null;
  attempts: number;
  error: RotationError | null;
  /** Issue time of the job whose secret is vaulted (a late answer from an older job is refused). */
  generation: number;
  verifiedAt: number | null;
};

/** How long a connector has to answer a job before it counts as failed (`no_answer`) and is retried. */
export const JOB_TIMEOUT_MS = 3 * 60_000;
/** How often a credential with rotation on check-in is verified, when nothing else happens to it. */
export const VERIFY_INTERVAL_MS = 24 * 60 * 60_000;

/** Backoff before retry n (1-based): 30 s, 1, 2, 4, 8 min, then every 15 min. */
export function retryDelay(attempts: number): number {
  return Math.min(15 * 60_000, 30_000 * 2 ** Math.max(0, attempts - 1));
}

/** Whether sessions and checkouts may use the credential's vaulted secret now. */
export const handedOut = (r: Pick<Rotation, "state">) => r.state === "ok" || r.state === "out_of_sync";

export type RotationEvent =
  | { type: "request"; op: RotationOp; cause: RotationCause; at: number }
  | { type: "dispatched"; job: string; at: number }
  | { type: "answer"; job: string; issuedAt: number; op: RotationOp; result: RotationResult; at: number }
  | { type: "timeout"; job: string; at: number }
  /** The edge cannot build a job for it (no single SSH server, no sealed secret). */
  | { type: "unrunnable"; error: RotationError; at: number };

/** The next state, or null when the event does not apply (a stale answer, a request while rotating). */
export function applyRotation(r: Rotation, e: RotationEvent): Rotation | null {
  switch (e.type) {
    case "request": {
      if (r.job !== null) return null;
      if (e.op === "verify") {
        // A check never overtakes a rotation that is waiting.
        if (r.op === "rotate") return null;
        return { ...r, op: "verify", cause: e.cause, dueAt: e.at };
      }
      return { ...r, state: "pending", op: "rotate", cause: e.cause, dueAt: e.at, attempts: 0, error: null };
    }
    case "dispatched": {
      if (r.job !== null || r.op === null) return null;
      return { ...r, job: e.job, state: r.op === "rotate" ? "rotating" : r.state, dueAt: null };
    }
    case "timeout":
      if (r.job !== e.job) return null;
      return failed(r, "no_answer", e.at);
    case "unrunnable":
      if (r.job !== null || r.op === null) return null;
      return failed(r, e.error, e.at);
    case "answer":
      return answer(r, e);
  }
}

function answer(r: Rotation, e: Extract<RotationEvent, { type: "answer" }>): Rotation | null {
  const current = r.job === e.job;
  const idle = { job: null, op: null, cause: null, dueAt: null } as const;
  if (e.result.outcome === "rotated") {
    if (e.op !== "rotate") return null;
    const vaulted = { attempts: 0, error: null, generation: e.issuedAt, verifiedAt: e.at };
    if (current) return { ...r, ...idle, ...vaulted, state: "ok" };
    // A late answer (its job timed out, or the connector resent it after a restart) still holds the
    // secret the target now has, unless a newer rotation already replaced it. A job in flight meanwhile
    // settles the state itself (it started from the older secret, so it fails and is retried).
    if (e.issuedAt <= r.generation) return null;
    if (r.job !== null) return { ...r, generation: e.issuedAt };
    return { ...r, ...idle, ...vaulted, state: "ok" };
  }
  if (!current) return null;
  if (e.result.outcome === "failed") {
    if (e.op === "verify") return { ...r, ...idle, error: e.result.error };
    return failed(r, e.result.error, e.at);
  }
  const inSync = e.result.outcome === "in_sync";
  return { ...r, ...idle, state: inSync ? "ok" : "out_of_sync", error: null, verifiedAt: e.at };
}

function failed(r: Rotation, error: RotationError, at: number): Rotation {
  if (r.op === "verify") return { ...r, job: null, op: null, cause: null, dueAt: null, error };
  const attempts = r.attempts + 1;
  return { ...r, state: "failed", job: null, cause: "retry", error, attempts, dueAt: at + retryDelay(attempts) };
}
