import { describe, expect, it } from "vitest";
import type { RotationResult } from "../../protocol/rotation.ts";
import { applyRotation, handedOut, type Rotation, retryDelay } from "./rotation.ts";

const idle: Rotation = {
  state: "ok",
  op: null,
  cause: null,
  job: null,
  dueAt: null,
  attempts: 0,
  error: null,
  generation: 0,
  verifiedAt: null,
};

function must(r: Rotation | null): Rotation {
  expect(r).not.toBeNull();
  return r!;
}

describe("credential rotation lifecycle", () => {
  it("check-in -> pending -> rotating -> ok, and only ok is handed out along the way", () => {
    const pending = must(applyRotation(idle, { type: "request", op: "rotate", cause: "checkin", at: 10 }));
    expect(pending).toMatchObject({ state: "pending", op: "rotate", dueAt: 10 });
    expect(handedOut(pending)).toBe(false);
    const rotating = must(applyRotation(pending, { type: "dispatched", job: "j1", at: 11 }));
    expect(rotating).toMatchObject({ state: "rotating", job: "j1", dueAt: null });
    expect(handedOut(rotating)).toBe(false);
    const done = must(
      applyRotation(rotating, {
        type: "answer",
        job: "j1",
        issuedAt: 11,
        op: "rotate",
        result: { outcome: "rotated", sealed: "x" },
        at: 12,
      }),
    );
    expect(done).toMatchObject({ state: "ok", job: null, op: null, generation: 11, verifiedAt: 12, attempts: 0 });
    expect(handedOut(done)).toBe(true);
  });

  it("a failure is retried with growing, capped backoff and is not handed out meanwhile", () => {
    let r = must(applyRotation(idle, { type: "request", op: "rotate", cause: "checkin", at: 0 }));
    const seen: number[] = [];
    for (let i = 1; i <= 8; i++) {
      r = must(applyRotation(r, { type: "dispatched", job: `j${i}`, at: r.dueAt! }));
      const at = r.dueAt ?? 1000 * i;
      r = must(
        applyRotation(r, {
          type: "answer",
          job: `j${i}`,
          issuedAt: at,
          op: "rotate",
          result: { outcome: "failed", error: "target_unreachable" },
          at,
        }),
      );
      expect(r).toMatchObject({
        state: "failed",
        attempts: i,
        error: "target_unreachable",
        op: "rotate",
        cause: "retry",
      });
      expect(handedOut(r)).toBe(false);
      seen.push(r.dueAt! - at);
    }
    expect(seen.slice(0, 4)).toEqual([30_000, 60_000, 120_000, 240_000]);
    expect(Math.max(...seen)).toBe(15 * 60_000);
    expect(retryDelay(100)).toBe(15 * 60_000);
  });

  it("an unanswered job times out as a failure; its late answer still lands the secret the target has", () => {
    let r = must(applyRotation(idle, { type: "request", op: "rotate", cause: "manual", at: 0 }));
    r = must(applyRotation(r, { type: "dispatched", job: "j1", at: 0 }));
    r = must(applyRotation(r, { type: "timeout", job: "j1", at: 100 }));
    expect(r).toMatchObject({ state: "failed", error: "no_answer", job: null });
    const late = must(
      applyRotation(r, {
        type: "answer",
        job: "j1",
        issuedAt: 1,
        op: "rotate",
        result: { outcome: "rotated", sealed: "x" },
        at: 200,
      }),
    );
    expect(late).toMatchObject({ state: "ok", generation: 1, op: null });
    // The same late answer again, or one older than the vaulted secret, changes nothing.
    expect(
      applyRotation(late, {
        type: "answer",
        job: "j1",
        issuedAt: 1,
        op: "rotate",
        result: { outcome: "rotated", sealed: "y" },
        at: 300,
      }),
    ).toBeNull();
  });

  it("a late answer while a newer job runs vaults its secret and leaves the state to that job", () => {
    let r: Rotation = { ...idle, state: "rotating", op: "rotate", job: "j2", generation: 5 };
    r = must(
      applyRotation(r, {
        type: "answer",
        job: "j1",
        issuedAt: 7,
        op: "rotate",
        result: { outcome: "rotated", sealed: "x" },
        at: 9,
      }),
    );
    expect(r).toMatchObject({ state: "rotating", job: "j2", generation: 7 });
  });

  it("a failure or verification answer for another job is refused", () => {
    const r = { ...idle, state: "rotating" as const, op: "rotate" as const, job: "j2" };
    for (const result of [
      { outcome: "failed", error: "auth_failed" },
      { outcome: "in_sync" },
      { outcome: "out_of_sync" },
    ] as const)
      expect(applyRotation(r, { type: "answer", job: "j1", issuedAt: 1, op: "rotate", result, at: 2 })).toBeNull();
  });

  it("a request while a job is in flight is refused; a verify never overtakes a waiting rotation", () => {
    const flying = { ...idle, state: "rotating" as const, op: "rotate" as const, job: "j" };
    expect(applyRotation(flying, { type: "request", op: "rotate", cause: "manual", at: 1 })).toBeNull();
    const waiting = { ...idle, state: "pending" as const, op: "rotate" as const, dueAt: 1 };
    expect(applyRotation(waiting, { type: "request", op: "verify", cause: "manual", at: 1 })).toBeNull();
  });

  it("verification: in sync -> ok, out of sync -> out_of_sync (still handed out), unreachable changes no state", () => {
    const asked = must(applyRotation(idle, { type: "request", op: "verify", cause: "schedule", at: 0 }));
    expect(asked).toMatchObject({ state: "ok", op: "verify" });
    const running = must(applyRotation(asked, { type: "dispatched", job: "v", at: 0 }));
    expect(running.state).toBe("ok");
    const answer = (result: RotationResult) =>
      applyRotation(running, { type: "answer", job: "v", issuedAt: 0, op: "verify", result, at: 5 });
    const off = must(answer({ outcome: "out_of_sync" }));
    expect(off).toMatchObject({ state: "out_of_sync", op: null, job: null, verifiedAt: 5 });
    expect(handedOut(off)).toBe(true);
    expect(must(answer({ outcome: "in_sync" }))).toMatchObject({ state: "ok", verifiedAt: 5 });
    expect(must(answer({ outcome: "failed", error: "target_unreachable" }))).toMatchObject({
      state: "ok",
      op: null,
      error: "target_unreachable",
    });
    // A verification never vaults a secret.
    expect(answer({ outcome: "rotated", sealed: "x" })).toBeNull();
  });

  it("a credential no connector can rotate fails at once and is retried", () => {
    const pending = must(applyRotation(idle, { type: "request", op: "rotate", cause: "checkin", at: 0 }));
    expect(must(applyRotation(pending, { type: "unrunnable", error: "unsupported", at: 1 }))).toMatchObject({
      state: "failed",
      error: "unsupported",
      attempts: 1,
      dueAt: 30_001,
    });
  });
});
