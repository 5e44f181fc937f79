// The room core's clock (pure): the named timers on the object's one alarm (durable/timers.ts), the
// deadline and its warnings, extensions, the idle limit, the grace periods for a browser or a
// connector that went away, and the recording's seal. Input time is kept in memory and written to
// storage at most every INPUT_PERSIST_MS (at once after an idle warning).
import type { SealOutcome } from "../recording/seal.ts";
import { due, idleStep, nextDue, nextWarning, type TimerName, type Timers } from "../timers.ts";
import type { RoomCore } from "./core.ts";
import { KEYS, type PeerId, type Saved } from "./types.ts";

/** A connector must dial the session's data socket within 30 s of dispatch. */
export const ATTACH_TIMEOUT_MS = 30_000;
/** A seal the store refused is tried again this much later. */
export const SEAL_RETRY_MS = 30_000;

/** What a seal attempt came to (durable/recording/seal.ts), or why it could not be made. */
export type SealAttempt = SealOutcome | { kind: "failed"; detail: string };

const DEFAULT_WARNINGS_MS = [5 * 60_000, 60_000];
/** Idle sessions are warned 1 minute before they end (or halfway, for limits under 2 minutes). */
const IDLE_WARNING_MS = 60_000;
/** Input time is written to storage at most every 5 s; the alarm checks memory too. */
const INPUT_PERSIST_MS = 5_000;

export class Lifecycle {
  timers: Timers;
  /** Time of the last input in memory, and as last saved (storage lags memory by at most INPUT_PERSIST_MS). */
  private lastInput = Number.NEGATIVE_INFINITY;
  private lastInputSaved: number;
  private idleWarned: boolean;

  constructor(
    private readonly core: RoomCore,
    saved: Saved,
  ) {
    this.timers = saved.timers ?? {};
    this.lastInputSaved = saved.lastInput ?? 0;
    this.idleWarned = saved.idleWarned ?? false;
  }

  /** Unix ms of the last input (the connect counts as input), 0 before any. */
  lastInputAt(): number {
    return Math.max(this.lastInputSaved, this.lastInput);
  }

  /** The session was created: its deadline, the first warning, and the connector's time to dial. */
  started(now: number): void {
    const meta = this.core.meta!;
    // A session shorter than the first warning's lead time is warned as soon as it starts.
    const warn = nextWarning(meta.deadline, this.leads(), now) ?? (meta.deadline > now + 2000 ? now + 1000 : undefined);
    this.setTimers({ deadline: meta.deadline, attach: now + ATTACH_TIMEOUT_MS, ...(warn ? { warn } : {}) });
  }

  /** An extension: the deadline moves later and the warnings start over. False once ended, or not later. */
  extend(deadline: number, now: number): boolean {
    const meta = this.core.meta;
    if (!meta || this.core.ended || deadline <= meta.deadline) return false;
    this.core.meta = { ...meta, deadline };
    this.core.emit({ do: "save", entries: { [KEYS.meta]: this.core.meta } });
    const { warn: _old, ...timers } = this.timers;
    const warn = nextWarning(deadline, this.leads(), now);
    this.setTimers({ ...timers, deadline, ...(warn ? { warn } : {}) });
    return true;
  }

  alarm(now: number): void {
    const { fired, pending } = due(this.timers, now);
    this.setTimers(pending);
    for (const name of fired) this.fire(name, now);
  }

  private fire(name: TimerName, now: number): void {
    const core = this.core;
    if (name === "deadline") core.endNow("time_limit", {}, now);
    if (name === "attach" && !core.connector()) core.endNow("connector_unavailable", {}, now);
    if (name === "warn") this.warnTimeLimit(now);
    if (name === "idle") this.checkIdle(now);
    if (name === "grace" && !core.browser()) core.endNow("disconnected", {}, now);
    if (name === "reconnect" && !core.connector()) core.endNow("connector_lost", {}, now);
    if (name === "snapshot") core.snapshot();
    if (name === "unlock") core.moderation.unlocked(now);
    if (name === "review") core.reviews.expired(now);
    if (name === "seal" && core.meta?.recording)
      core.emit({ do: "seal", recordingId: core.meta.recording.recordingId });
  }

  private leads(): number[] {
    return this.core.meta?.warnBeforeMs ?? DEFAULT_WARNINGS_MS;
  }

  private warnTimeLimit(now: number): void {
    const meta = this.core.meta;
    if (!meta || this.core.ended) return;
    const user = this.core.browser();
    if (user) this.core.send(user.id, { type: "warning", reason: "time_limit", at: meta.deadline });
    this.core.mark("warning: time_limit", now);
    const next = nextWarning(meta.deadline, this.leads(), now);
    if (next) this.addTimer("warn", next);
  }

  /**
   * A browser that (re)attaches inside a warning's lead time hears the warnings it missed: the room warns
   * whoever is attached when a warning is due, and a page opened a moment later must not miss it.
   */
  repeatWarnings(user: PeerId, now: number): void {
    const meta = this.core.meta!;
    if (meta.deadline - now <= Math.max(...this.leads()))
      this.core.send(user, { type: "warning", reason: "time_limit", at: meta.deadline });
    if (meta.idleMs && this.idleWarned)
      this.core.send(user, { type: "warning", reason: "idle", at: this.lastInputAt() + meta.idleMs });
  }

  private checkIdle(now: number): void {
    const meta = this.core.meta;
    if (!meta?.idleMs || this.core.ended) return;
    const step = idleStep(this.lastInputAt(), meta.idleMs, IDLE_WARNING_MS, this.idleWarned, now);
    if (step.action === "end") {
      this.core.endNow("idle", {}, now);
      return;
    }
    if (step.action === "warn") {
      this.idleWarned = true;
      this.core.emit({ do: "save", entries: { [KEYS.idleWarned]: true } });
      const user = this.core.browser();
      if (user) this.core.send(user.id, { type: "warning", reason: "idle", at: step.at });
      this.core.mark("warning: idle", now);
    }
    this.addTimer("idle", step.at);
  }

  /** The connector reached the target: the connect counts as input. */
  connected(now: number): void {
    this.lastInput = Number.NEGATIVE_INFINITY;
    this.noteInput(now);
  }

  /** Input, for the idle limit and the live list's idle time, without a storage write per keystroke. */
  noteInput(now: number): void {
    const meta = this.core.meta;
    const previous = this.lastInput;
    this.lastInput = now;
    // After a warning, the first input is written at once: memory alone would not survive an eviction.
    const warned = meta?.idleMs ? this.idleWarned : false;
    if (!warned && now - previous < INPUT_PERSIST_MS) return;
    this.lastInputSaved = now;
    if (!meta?.idleMs) {
      // No idle limit: kept only so the live list's idle time survives an eviction; output need not wait.
      this.core.emit({ do: "save", entries: { [KEYS.lastInput]: now }, unconfirmed: true });
      return;
    }
    this.idleWarned = false;
    this.core.emit({ do: "save", entries: { [KEYS.lastInput]: now, [KEYS.idleWarned]: false } });
    this.addTimer("idle", now + meta.idleMs - Math.min(IDLE_WARNING_MS, meta.idleMs / 2));
  }

  /** The user's last browser went away: it has the policy's grace period to come back. */
  browserGone(now: number): void {
    const grace = this.core.meta?.disconnectGraceMs;
    if (grace != null) this.addTimer("grace", now + grace);
  }

  /** A connector said hello: it no longer has to dial, or to come back. */
  connectorBack(): void {
    const { attach: _attached, reconnect: _back, ...timers } = this.timers;
    this.setTimers(timers);
  }

  /** The connector cannot record (an optional recording goes on without it): shown as failing, audited once. */
  recordingFailing(detail: string | undefined): void {
    const meta = this.core.meta;
    if (!meta?.recording) return;
    const why = this.core.witness.failing(detail, this.core.outbox);
    if (why) this.recordingAlert(`the connector cannot record (${why}); the session goes on`);
  }

  /** How a seal went: wait for the tail, retry later, or audit the signed manifest. */
  sealed(outcome: SealAttempt, now: number): void {
    const meta = this.core.meta;
    if (!meta?.recording) return;
    if (outcome.kind === "failed") {
      this.core.emit({
        do: "log",
        line: `room ${meta.sessionId}: recording ${meta.recording.recordingId} not sealed yet: ${outcome.detail}`,
      });
      this.addTimer("seal", now + SEAL_RETRY_MS);
      return;
    }
    if (outcome.kind === "waiting") this.addTimer("seal", outcome.until);
    if (outcome.kind !== "sealed" || !outcome.changed) return;
    this.clearTimer("seal");
    this.core.auditSession(
      null,
      "recording.sealed",
      { complete: outcome.complete },
      { type: "recording", id: meta.recording.recordingId },
    );
  }

  private recordingAlert(detail: string): void {
    this.core.emit({ do: "log", line: `room ${this.core.meta!.sessionId}: recording alert: ${detail}` });
    this.core.auditSession(null, "recording.alert", { detail });
  }

  addTimer(name: TimerName, at: number): void {
    this.setTimers({ ...this.timers, [name]: at });
  }

  clearTimer(name: TimerName): void {
    if (this.timers[name] === undefined) return;
    const { [name]: _gone, ...rest } = this.timers;
    this.setTimers(rest);
  }

  setTimers(timers: Timers): void {
    this.timers = timers;
    this.core.emit({ do: "save", entries: { [KEYS.timers]: timers } });
    this.core.emit({ do: "alarm", at: nextDue(timers) });
  }
}
