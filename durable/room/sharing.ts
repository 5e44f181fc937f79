// Shared sessions (docs/governance.md "Shared sessions"), the room core's part (pure): people the session's user
// invited join with input, as viewer sockets the Worker marked `writer` (worker/routes/sharing.ts decided who may).
// Everyone in the session is told who writes (`participants`) and who is typing (`typing`). Authorship reaches the
// recording as markers: once the session has been shared, every change of writer puts `typing: <username>` into the
// recording right before that writer's input (the connector writes it in order with the bytes), so a replay can say
// who typed each keystroke: what follows a `typing:` marker is that person's, and input before the first one is the
// session's user's. Joins and departures are audited, marked and shown to everyone.
import type { Participants } from "../../protocol/index.ts";
import type { RoomCore } from "./core.ts";
import { KEYS, type Peer, type Saved } from "./types.ts";

/** While the same person keeps typing, everyone is told again at most once a second. */
export const TYPING_EVERY_MS = 1_000;

/** The recording's authorship marker: `typing: <username>` (docs/recording.md). */
export const TYPING_MARKER = "typing: ";

type Viewer = Extract<Peer, { role: "viewer" }>;

export class Sharing {
  /** A person joined with input at some point: from then on input is attributed (saved: an eviction keeps it). */
  private shared: boolean;
  /** Whose input reached the target last, and when everyone was last told who is typing (memory). */
  private lastWriter: string | null = null;
  private toldAt = 0;

  constructor(
    private readonly core: RoomCore,
    saved: Saved,
  ) {
    this.shared = saved.shared ?? false;
  }

  /** The invited people writing now (user id → username), one entry per person however many tabs. */
  writers(): Map<string, string> {
    const people = new Map<string, string>();
    for (const peer of this.core.peers.values())
      if (peer.role === "viewer" && peer.writer && peer.hello) people.set(peer.userId, peer.username);
    return people;
  }

  message(): Participants {
    return { type: "participants", user: this.core.meta!.username, writers: [...this.writers().values()].sort() };
  }

  /** Tells one socket (at its hello) or everyone in the session who writes; nothing before the session was shared. */
  tell(to?: string): void {
    if (!this.shared) return;
    const message = this.message();
    if (to) this.core.send(to, message);
    else this.everyone((id) => this.core.send(id, message));
  }

  /** An invited person's socket said hello; their first socket counts as their arrival. */
  joined(peer: Viewer, now: number): void {
    if (this.socketsOf(peer.userId) > 1) return;
    if (!this.shared) {
      this.shared = true;
      this.core.emit({ do: "save", entries: { [KEYS.shared]: true } });
    }
    this.record("session.participant_joined", peer, `joined with input: ${peer.username}`, now);
    this.tell();
  }

  /** An invited person's socket went; their last socket counts as their departure. */
  left(peer: Viewer, now: number): void {
    if (this.socketsOf(peer.userId) > 0) return;
    this.record("session.participant_left", peer, `left: ${peer.username}`, now);
    this.tell();
  }

  /**
   * A writer's input is about to be relayed to the connector (`connector`): in a shared session a change of writer
   * is marked into the recording first, and everyone is told who is typing.
   */
  input(writer: { id: string; name: string }, connector: string, now: number): void {
    if (!this.shared) return;
    const changed = writer.id !== this.lastWriter;
    if (changed) {
      this.lastWriter = writer.id;
      // Straight to the connector, in order before the input: the room's own marker list keeps the rarer events.
      if (this.core.meta?.recording)
        this.core.send(connector, { type: "marker", label: `${TYPING_MARKER}${writer.name}` });
    }
    if (!changed && now - this.toldAt < TYPING_EVERY_MS) return;
    this.toldAt = now;
    this.everyone((id) => this.core.send(id, { type: "typing", name: writer.name }));
  }

  private everyone(send: (id: string) => void): void {
    for (const peer of this.core.peers.values()) if (peer.role !== "connector" && peer.hello) send(peer.id);
  }

  private socketsOf(userId: string): number {
    let n = 0;
    for (const peer of this.core.peers.values())
      if (peer.role === "viewer" && peer.writer && peer.hello && peer.userId === userId) n++;
    return n;
  }

  private record(
    action: "session.participant_joined" | "session.participant_left",
    peer: Viewer,
    label: string,
    now: number,
  ): void {
    this.core.mark(label, now);
    this.core.auditSession({ id: peer.userId, name: peer.username }, action, {
      writers: [...this.writers().values()].sort(),
    });
  }
}
