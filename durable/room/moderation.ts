// Moderated sessions (four eyes, docs/governance.md), the room core's part (pure): a policy may require N
// moderators watching live. Until they are there, and while a moderator locks it, nothing the session's
// writers type reaches the target; output goes on being relayed and recorded. Moderators may lock input for
// a moment and end the session. Every moderator's arrival and departure is audited, marked in the
// recording and shown to everyone in the session.
import type { Moderate, Moderation as ModerationMessage } from "../../protocol/index.ts";
import type { RoomCore } from "./core.ts";
import { KEYS, type Peer, type Saved } from "./types.ts";

/** A lock without a length lasts 30 s. */
export const DEFAULT_LOCK_SECONDS = 30;

type Viewer = Extract<Peer, { role: "viewer" }>;

export class Moderation {
  /** Unix ms until which a moderator locked input (0: not locked). */
  private lockedUntil: number;

  constructor(
    private readonly core: RoomCore,
    saved: Saved,
  ) {
    this.lockedUntil = saved.lockedUntil ?? 0;
  }

  /** How many moderators the policy requires (0: the session is not moderated). */
  get required(): number {
    return this.core.meta?.moderation?.required ?? 0;
  }

  /**
   * The moderators watching now, one entry per person however many tabs or linked accounts (a second account of
   * one person is that person: `personId`, as approvals count).
   */
  present(): Map<string, string> {
    const people = new Map<string, string>();
    for (const peer of this.core.peers.values())
      if (peer.role === "viewer" && peer.moderator && peer.hello && !people.has(personOf(peer)))
        people.set(personOf(peer), peer.username);
    return people;
  }

  /** Whether writers' input may reach the target now. */
  inputOpen(now: number): boolean {
    if (this.required === 0) return true;
    return now >= this.lockedUntil && this.present().size >= this.required;
  }

  message(now: number): ModerationMessage {
    return {
      type: "moderation",
      required: this.required,
      moderators: [...this.present().values()].sort(),
      locked: now < this.lockedUntil,
    };
  }

  /** Tells one socket (at its hello) or everyone in the session how moderation stands. */
  tell(now: number, to?: string): void {
    if (this.required === 0) return;
    const message = this.message(now);
    if (to) {
      this.core.send(to, message);
      return;
    }
    for (const peer of this.core.peers.values())
      if (peer.role !== "connector" && peer.hello) this.core.send(peer.id, message);
  }

  /** A moderator's socket said hello; the person's first socket counts as their arrival. */
  joined(peer: Viewer, now: number): void {
    if (this.socketsOf(personOf(peer)) > 1) return;
    this.record("session.moderator_joined", peer, `moderator joined: ${peer.username}`, now);
    this.tell(now);
  }

  /** A moderator's socket went; the person's last socket counts as their departure. */
  left(peer: Viewer, now: number): void {
    if (this.socketsOf(personOf(peer)) > 0) return;
    this.record("session.moderator_left", peer, `moderator left: ${peer.username}`, now);
    this.tell(now);
    if (!this.inputOpen(now)) this.core.transfers.hold();
  }

  /** A moderator's command. */
  command(peer: Viewer, msg: Moderate, now: number): void {
    if (msg.action === "end") {
      this.core.endNow(
        "killed",
        { actor: { id: peer.userId, name: peer.username }, note: "ended by a moderator" },
        now,
      );
      return;
    }
    const until = msg.action === "lock" ? now + (msg.seconds ?? DEFAULT_LOCK_SECONDS) * 1000 : 0;
    this.lockedUntil = until;
    this.core.emit({ do: "save", entries: { [KEYS.lockedUntil]: until } });
    if (until) this.core.life.addTimer("unlock", until);
    else this.core.life.clearTimer("unlock");
    this.record(
      "session.input_locked",
      peer,
      msg.action === "lock" ? `input locked by ${peer.username}` : `input unlocked by ${peer.username}`,
      now,
      { locked: until > 0, ...(until ? { until } : {}) },
    );
    this.tell(now);
    if (until) this.core.transfers.hold();
  }

  /** The lock ran out. */
  unlocked(now: number): void {
    if (this.lockedUntil > now) return;
    this.lockedUntil = 0;
    this.tell(now);
  }

  /** The sockets of one person's moderator accounts. */
  private socketsOf(person: string): number {
    let n = 0;
    for (const peer of this.core.peers.values())
      if (peer.role === "viewer" && peer.moderator && peer.hello && personOf(peer) === person) n++;
    return n;
  }

  private record(
    action: "session.moderator_joined" | "session.moderator_left" | "session.input_locked",
    peer: Viewer,
    label: string,
    now: number,
    data: Record<string, unknown> = {},
  ): void {
    this.core.mark(label, now);
    this.core.auditSession({ id: peer.userId, name: peer.username }, action, {
      moderators: [...this.present().values()].sort(),
      required: this.required,
      ...data,
    });
  }
}

/** The person behind a moderator's account (rooms from before `personId` was carried count the account). */
const personOf = (peer: Viewer): string => peer.personId ?? peer.userId;
