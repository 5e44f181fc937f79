// The room's account of the session's output stream, apart from its sockets: the offset of every
// byte, what has been witnessed (offered to the recording and to every live viewer), and whether an
// offset a browser sends is one the room actually produced. Pure: the room drives it with events and
// does what it returns.
//
// The rule it keeps (docs/security.md): every byte the user's socket is sent as counted output has
// been witnessed at the same offset. Offsets come from the connector (the one source: `sync`) and
// from the room's own count, never from a browser. A browser's resume is only compared with them:
// past what the room produced, it is refused; inside it, it picks which bytes are resent to that
// browser, never what the recording or the viewers get.
import { OutputLog, RESUME_LOG_BYTES } from "../protocol/index.ts";

/** What the room asks the connector for (`attach`, protocol/messages.ts). */
export type AttachRequest = { acked?: number | null; from: number | null };

/** How the room answers a user's hello. */
export type UserStart =
  /** The resume names output the room never produced: close the socket as a protocol violation. */
  | { kind: "refuse"; resume: number; end: number }
  /** The log holds the rest: `sync` at `at`, send `chunks`, then attach the connector (when live). */
  | { kind: "replay"; at: number; chunks: Uint8Array[]; attach: AttachRequest | null }
  /** The connector must resend: hold the browser until its `sync` (see `connectorSync`). */
  | { kind: "held"; attach: AttachRequest }
  /** Repaint the screen (not counted), then count from the connector's next `sync`. */
  | { kind: "fresh"; attach: AttachRequest | null };

/** How the room answers a connector's `sync`. */
export type SyncOutcome =
  /** No `attach` is waiting for it (one sent to a data socket since replaced): nothing changes. */
  | { kind: "stale" }
  /** The connector broke the protocol (a range it cannot have produced): the session ends. */
  | { kind: "invalid"; detail: string }
  | {
      kind: "ok";
      /** What to tell the user's socket, when one is attached. */
      user: { at: number; reset: boolean } | null;
      /** A held resume turned out to name output never produced: close the user's socket. */
      refuseUser: { resume: number; end: number } | null;
      /** Output the connector no longer holds and the room never saw (bytes), for a recording marker. */
      gap: number;
      /**
       * The room's end was only a lower bound (restored after an eviction): output it witnessed before the
       * eviction may be witnessed again from here, so the viewers are resynchronised (repainted) first.
       */
      resyncViewers: boolean;
    };

/**
 * How sure the room is of `log.end`, the end of the witnessed stream:
 * - `live`: counted in this instance's memory, or restored from a save nothing was witnessed after: exact;
 * - `restored`: read back from storage after an eviction: a lower bound (the last save may be
 *   older than the last byte), so the connector's `to` bounds a resume until the next `sync`;
 * - `none`: unknown (nothing saved): the connector's next `sync` sets it.
 */
type Anchor = "live" | "restored" | "none";

export class OutputStream {
  /** Witnessed output by offset, the last RESUME_LOG_BYTES, for browsers that resume. */
  readonly log = new OutputLog();
  private anchor: Anchor = "none";
  /** `attach`es sent whose `sync` has not come back: connector output is dropped meanwhile. */
  private pendingSyncs = 0;
  /** Bytes at the start of the current resend that were already witnessed (skipped for witnesses). */
  private skip = 0;
  /** Whether `skip` also holds for the user: a resync nobody asked for resends what the user already has. */
  private skipUser = false;
  /**
   * An evicted room's first output, dropped because its offset is unknown (the saved end may be older
   * than the last byte): the bytes dropped until the connector's `sync` answers the room's `attach`.
   * The connector sent all of them before that `sync`, so the witnessed end is its `to` less these.
   */
  private resyncDropped: number | null = null;
  /** A user's resume waiting for the connector's `sync`. */
  private heldResume: number | null = null;

  /** End of the witnessed stream (the offset of the next byte to witness), or null when unknown. */
  get witnessedEnd(): number | null {
    return this.anchor === "none" ? null : this.log.end;
  }

  /** The witnessed end when this instance knows it exactly (the one worth saving), else null. */
  get exactEnd(): number | null {
    return this.anchor === "live" ? this.log.end : null;
  }

  /**
   * After an eviction: the witnessed end last saved. `exact`: nothing was witnessed after that save;
   * otherwise it is only a lower bound of the true end.
   */
  restore(end: number, exact: boolean): void {
    this.log.reset(end);
    this.anchor = exact ? "live" : "restored";
  }

  /** The connector reached the target: output starts at offset 0. */
  connected(): void {
    this.log.reset(0);
    this.anchor = "live";
    this.skip = 0;
    this.skipUser = false;
    this.heldResume = null;
    this.pendingSyncs = 0;
    this.resyncDropped = null;
  }

  /** The room sent an `attach`: output is dropped until the `sync` that answers it. */
  attachSent(): void {
    this.pendingSyncs++;
  }

  /** The connector's data socket went away, or another replaced it: no `sync` is coming for earlier attaches. */
  connectorGone(): void {
    this.pendingSyncs = 0;
    this.resyncDropped = null;
  }

  /**
   * The user said hello. `resume`: the output offset it says it has received up to (untrusted).
   * `live`: a connector is attached and connected to the target.
   */
  userHello(resume: number | undefined, live: boolean): UserStart {
    this.heldResume = null;
    if (resume !== undefined && this.anchor === "live") {
      if (resume > this.log.end) return { kind: "refuse", resume, end: this.log.end };
      const rest = this.log.since(resume);
      if (rest)
        return {
          kind: "replay",
          at: resume,
          chunks: rest,
          attach: live ? { acked: resume, from: this.log.end } : null,
        };
    }
    if (resume !== undefined && live) {
      // The room no longer holds it (or does not know its own end yet): the connector resends from its
      // log, and the browser waits for the `sync` that says from where. Its `acked` is clamped by the
      // connector to what it produced, and the resume is checked against `to` when the sync comes.
      this.heldResume = resume;
      return { kind: "held", attach: { acked: resume, from: resume } };
    }
    if (!live) return { kind: "fresh", attach: null };
    // A fresh page: the connector resends whatever the room has not witnessed yet (dropped while an
    // earlier attach was pending), so the recording keeps it; the page is repainted and counts from there.
    const end = this.witnessedEnd;
    return { kind: "fresh", attach: end === null ? { acked: null, from: null } : { acked: end, from: end } };
  }

  /** The connector's data socket redialled with its SSH session up: what to ask it to resend. */
  connectorResumed(): AttachRequest {
    return { from: this.witnessedEnd };
  }

  /** The connector answered `attach`: its output from `from` follows; `to` is its next new byte. */
  connectorSync(from: number, to: number): SyncOutcome {
    if (this.pendingSyncs === 0) return { kind: "stale" };
    if (from > to) return { kind: "invalid", detail: `sync from ${from} past its end ${to}` };
    if (this.anchor === "live" && to < this.log.end)
      return { kind: "invalid", detail: `sync end ${to} before the witnessed end ${this.log.end}` };
    this.pendingSyncs--;
    let gap = 0;
    this.skipUser = false;
    if (this.resyncDropped !== null) {
      // The room's own resync: the stream it witnessed before the eviction ended where the connector's
      // output now ends, but for what was dropped waiting for this sync. The user already has it too.
      const end = Math.max(this.log.end, to - this.resyncDropped);
      this.resyncDropped = null;
      this.log.reset(end);
      if (from > end) {
        gap = from - end;
        this.log.reset(from);
        this.skip = 0;
      } else {
        this.skip = end - from;
        this.skipUser = true;
      }
      this.anchor = "live";
      // A user held meanwhile waits for the sync that answers its own attach, which comes next.
      const user = this.heldResume === null ? { at: Math.max(from, end), reset: false } : null;
      return { kind: "ok", user, refuseUser: null, gap, resyncViewers: false };
    }
    const restored = this.anchor === "restored";
    if (this.anchor === "none") {
      // Nothing known: take the connector's word that what it produced before `to` was witnessed
      // (this instance cannot tell otherwise); only bytes from `to` on are witnessed here.
      this.log.reset(to);
      this.skip = to - from;
    } else if (from > this.log.end) {
      // The connector no longer holds bytes the room never saw: nobody gets them; say so (a restored
      // end is only a lower bound, so there it may be no gap at all).
      gap = this.anchor === "live" ? from - this.log.end : 0;
      this.log.reset(from);
      this.skip = 0;
    } else {
      // A resend of bytes already witnessed: they go to the browser that asked, not to the witnesses.
      this.skip = this.log.end - from;
    }
    this.anchor = "live";
    const asked = this.heldResume;
    this.heldResume = null;
    const resyncViewers = restored && from < to;
    if (asked !== null && asked > to)
      return { kind: "ok", user: null, refuseUser: { resume: asked, end: to }, gap, resyncViewers };
    return {
      kind: "ok",
      user: { at: from, reset: asked !== null && asked !== from },
      refuseUser: null,
      gap,
      resyncViewers,
    };
  }

  /**
   * Output from the connector. Returns null when it is dropped (an `attach` is pending: it will be
   * resent after the `sync`); `resync` when it is dropped because this instance does not know the
   * offset it starts at (an evicted room, whose saved end may be older than the last byte): the room
   * sends that `attach`, and the connector resends from there; else the bytes to witness (record and
   * fan out to viewers), which are the whole payload but for the already-witnessed head of a resend,
   * and the bytes for the user: the whole payload when it asked for the resend, else the same bytes.
   */
  output(payload: Uint8Array): { witness: Uint8Array; user: Uint8Array } | { resync: AttachRequest } | null {
    if (this.pendingSyncs > 0) {
      if (this.resyncDropped !== null) this.resyncDropped += payload.byteLength;
      return null;
    }
    if (this.anchor !== "live") {
      this.resyncDropped = payload.byteLength;
      // From the saved end, or with none saved from the start: the connector resends what it still holds.
      return { resync: { from: this.anchor === "none" ? 0 : this.log.end } };
    }
    let witness = payload;
    if (this.skip > 0) {
      const cut = Math.min(this.skip, payload.byteLength);
      this.skip -= cut;
      witness = payload.subarray(cut);
    }
    this.log.append(witness);
    this.log.keepLast(RESUME_LOG_BYTES);
    return { witness, user: this.skipUser ? witness : payload };
  }
}

/**
 * Flow-control credit a browser or viewer returns, checked against what its socket was actually sent:
 * a peer that acknowledges bytes it never received is refused (it would open the connector's window
 * past what anyone reads, and make the room queue without bound). Pure.
 */
export class CreditAccount {
  /** Counted bytes sent to the socket, and credit it returned. */
  private sent = 0;
  private credited = 0;

  /**
   * `counting`: whether bytes sent now are counted output (a user's socket is not counting during a
   * repaint, between `sync` at null and the next `sync`; a viewer counts everything).
   * `allowance`: bytes the socket may credit beyond what this account saw it sent: after an eviction
   * the room forgets its counts while the socket may still hold up to one window of uncredited output.
   */
  constructor(
    public counting: boolean,
    private readonly allowance = 0,
  ) {}

  /** Bytes sent and not yet credited back. */
  get outstanding(): number {
    return Math.max(0, this.sent - this.credited);
  }

  sentBytes(bytes: number): void {
    if (this.counting) this.sent += bytes;
  }

  /** Returns false when the credit acknowledges bytes the socket was never sent. */
  credit(bytes: number): boolean {
    this.credited += bytes;
    return this.credited <= this.sent + this.allowance;
  }
}
