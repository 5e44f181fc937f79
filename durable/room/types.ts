// The room core's vocabulary: who is attached (peers), what the session is (meta), what the core
// loads after an eviction (Saved), and the actions it returns for the Durable Object to carry out.
// The core (core.ts) is pure: it never touches a socket, storage, D1 or the clock itself.
import type {
  AuditEntryInput,
  EndReason,
  RoomToBrowser,
  RoomToConnector,
  Witness,
  WitnessMarker,
} from "../../protocol/index.ts";
import type { Timers } from "../timers.ts";
import type { ReviewDecision } from "./reviews.ts";

/** A socket's id in the room: stable across hibernation (kept in the socket's attachment). */
export type PeerId = string;

/**
 * One attached socket, as its attachment keeps it across hibernation (so: small, plain data).
 * `writer`: a viewer that may also type: a person the session's user invited (shared sessions, sharing.ts); the
 * session's own user always writes, one tab at a time (a newer tab takes over).
 */
export type Peer =
  | { id: PeerId; role: "user"; userId: string; hello: boolean; cols: number; rows: number }
  | {
      id: PeerId;
      role: "viewer";
      userId: string;
      username: string;
      hello: boolean;
      writer?: boolean;
      /** Named moderator of this session (moderated sessions): may lock input and end the session. */
      moderator?: boolean;
      /** A moderator's person (linked accounts share one): moderators are counted by person. */
      personId?: string;
    }
  | { id: PeerId; role: "connector"; connectorId: string; hello: boolean; state: "connecting" | "connected" };

export type RoomMeta = {
  sessionId: string;
  userId: string;
  username: string;
  serverId: string;
  /** The checkout the session runs under (absent in rooms started before it was kept). */
  checkoutId?: string;
  siteId: string;
  deadline: number;
  /** Warn the user this long before the deadline, in ms (policy; default 5 min and 1 min). */
  warnBeforeMs?: number[];
  /** End the session after this long without input, in ms; null: never (policy). */
  idleMs?: number | null;
  /** Whether admins may watch live, and whether the user is told they are watched (policy). */
  liveView?: boolean;
  notifyWatched?: boolean;
  /** A browser away this long ends the session as `disconnected`, in ms; null: wait (policy). */
  disconnectGraceMs?: number | null;
  /**
   * Recording policy (docs/recording.md); absent: the session is not recorded. The connector records at
   * the source; the room witnesses what it relayed and seals the manifest.
   */
  recording?: { recordingId: string; required: boolean; keystrokes: boolean; zoneId: string };
  /** Unix ms when the session was created (the witness's start). */
  startedAt?: number;
  /** Moderated session (docs/governance.md): input reaches the target only while `required` moderators watch. */
  moderation?: { required: number };
  /**
   * The grant carries a master password the connector checks (docs/auth.md): one guess was reserved on the user's
   * throttle at connect, given back once the connector took it (the session went active) or the session ended
   * for another reason before that; a `master_password_wrong` end keeps it as the failure.
   */
  masterPassword?: true;
  /**
   * File transfer over SFTP (docs/governance.md), what the policy allows: the user's page is told, and the room
   * refuses a direction that is off before asking the connector (which enforces the whole policy). Absent: none.
   */
  fileTransfer?: { upload: boolean; download: boolean; maxBytes: number; roots?: string[] };
  /** "rdp": DATA carries a Guacamole stream (docs/rdp.md), so no terminal replay or repaint applies. */
  protocol?: "ssh" | "rdp";
};

export type EndOptions = {
  bySite?: string;
  note?: string;
  actor?: { id: string; name: string };
  /** The connector ended the session itself (its `end`), after sending all its output. */
  byConnector?: boolean;
};

/** Storage keys the core writes, and reads back (as `Saved`) when the object wakes after an eviction. */
export const KEYS = {
  meta: "meta",
  ended: "ended",
  timers: "timers",
  markers: "markers",
  lastInput: "lastInput",
  idleWarned: "idleWarned",
  recordingFailed: "recordingFailed",
  connectorSeen: "connectorSeen",
  /** The connector that took the session (its first fresh hello): no other connector's socket is let in. */
  servedBy: "servedBy",
  /** Where the witnessed stream ended when last saved (with the viewers' snapshot and at every break). */
  witnessedEnd: "witnessedEnd",
  /** Set at the first witnessed output after the end was saved: the saved end may then be stale. */
  witnessedPastSave: "witnessedPastSave",
  /** Input bytes relayed to the connector (the witness's count). */
  witnessedInput: "witnessedInput",
  /** Until when a moderator locked input (unix ms; 0: not locked). */
  lockedUntil: "lockedUntil",
  /** The command line held for review (reviews.ts), while one is. */
  review: "review",
  /** Someone joined with input (sharing.ts): input is attributed in the recording from then on. */
  shared: "shared",
  /** The viewers' screen snapshot, saved in pieces `replay:0..n-1`. */
  replayCount: "replay:n",
} as const;

export const replayKey = (i: number) => `replay:${i}`;

/** What the core starts from: all empty for a new room, else what storage held. */
export type Saved = {
  meta?: RoomMeta;
  ended?: EndReason;
  timers?: Timers;
  markers?: WitnessMarker[];
  lastInput?: number;
  idleWarned?: boolean;
  recordingFailed?: string;
  connectorSeen?: boolean;
  servedBy?: string;
  witnessedEnd?: number;
  witnessedPastSave?: boolean;
  witnessedInput?: number;
  lockedUntil?: number;
  review?: PendingReview;
  shared?: boolean;
  /** The viewers' saved screen, its pieces joined, and how many pieces it was saved in. */
  replay?: Uint8Array;
  replayPieces?: number;
};

/** A command line the connector holds for review (reviews.ts); times are unix ms. */
export type PendingReview = {
  id: string;
  line: string;
  rule: number;
  message: string;
  /** The output offset and recording clock when Enter was pressed. */
  at: number;
  ms?: number;
  requestedAt: number;
  expiresAt: number;
};

/** What the core asks the Durable Object to do, in order. */
export type Action =
  | { do: "send"; to: PeerId; msg: RoomToBrowser | RoomToConnector }
  /** A binary frame, passed on as it is (the original bytes when nothing was cut). */
  | { do: "frame"; to: PeerId; frame: ArrayBuffer | Uint8Array }
  /** Close the socket; the core has already forgotten the peer. */
  | { do: "close"; to: PeerId; code: number; reason: string }
  /** The peer's record changed: write it to its socket's attachment. */
  | { do: "peer"; peer: Peer }
  /** Storage writes. `unconfirmed`: outgoing messages need not wait for this write. */
  | { do: "save"; entries: Record<string, unknown>; unconfirmed?: boolean }
  | { do: "remove"; keys: string[] }
  /** Set the object's one alarm (null: delete it); the timers themselves were saved just before. */
  | { do: "alarm"; at: number | null }
  /** Call the core's `tick` at (or after) `at`: a memory-only timer, lost with the object. */
  | { do: "wake"; at: number }
  | { do: "audit"; entry: AuditEntryInput }
  | { do: "log"; line: string }
  /** The connector reached the target: the session row becomes active. */
  | { do: "activated" }
  /** A connector took the session: only it may upload the recording's chunks. */
  | { do: "served"; connectorId: string; recordingId: string }
  /**
   * The session ended: record it (the session row, the ledger), then put the witness on record and seal
   * (`witness` null: not recorded). `tailWait`: the connector may still have chunks to upload.
   */
  | {
      do: "ended";
      reason: EndReason;
      note?: string;
      actor?: { id: string; name: string };
      witness: { recordingId: string; witness: Witness; tailWait: boolean } | null;
    }
  /** Try to sign the recording's manifest now; the outcome goes back to the core's `sealed`. */
  | { do: "seal"; recordingId: string }
  /** A held command awaits a reviewer: list it where reviewers look, and tell them. */
  | { do: "review_open"; review: PendingReview }
  /** It was answered (`by`: the reviewer, or the user who withdrew it; null: nobody in time). */
  | { do: "review_closed"; id: string; decision: ReviewDecision; by: string | null; at: number };
