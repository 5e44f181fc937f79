// Recording at the source, as the rest of the connector sees it: the spool and its uploader (opened
// at start), whether a session can be recorded now, a recorder per recorded session, the spool's
// health for the report and metrics, and a drain at shutdown so ended sessions' last chunks reach disk.
import type { JWK } from "jose";
import { z } from "zod";
import {
  type GrantClaims,
  RECORDING_CHUNK_MS,
  SPOOL_MAX_BYTES,
  SPOOL_OUTAGE_MS,
  type SpoolHealth,
} from "../../protocol/index.ts";
import { connectorToken } from "../keys.ts";
import type { Log } from "../log.ts";
import type { ConnectorState } from "../state.ts";
import { type ChunkSign, chunkSigner, type RecordingFailure, SessionRecorder } from "./recorder.ts";
import { RecorderThread } from "./recorder-thread.ts";
import { Spool } from "./spool.ts";
import { RelayActivity, uploadsWait } from "./activity.ts";
import { Uploader } from "./uploader.ts";

const positive = z.coerce.number().int().positive();

/** Settings, overridable by environment for operators and tests. */
export const RecordingSettings = z.object({
  /** PSM_SPOOL_MAX_BYTES: the spool's bound (default 1 GiB). */
  spoolMaxBytes: positive.default(SPOOL_MAX_BYTES),
  /** PSM_SPOOL_OUTAGE_MS: uploads failing this long refuse required recordings (default 6 h). */
  outageMs: positive.default(SPOOL_OUTAGE_MS),
  /** PSM_RECORDING_CHUNK_MS: a chunk is cut this long after its first line (default 10 s). */
  chunkMs: positive.default(RECORDING_CHUNK_MS),
});
export type RecordingSettings = z.infer<typeof RecordingSettings>;

export function recordingSettings(env: Record<string, string | undefined> = process.env): RecordingSettings {
  const parsed = RecordingSettings.safeParse({
    spoolMaxBytes: env.PSM_SPOOL_MAX_BYTES || undefined,
    outageMs: env.PSM_SPOOL_OUTAGE_MS || undefined,
    chunkMs: env.PSM_RECORDING_CHUNK_MS || undefined,
  });
  if (!parsed.success)
    throw new Error("PSM_SPOOL_MAX_BYTES, PSM_SPOOL_OUTAGE_MS and PSM_RECORDING_CHUNK_MS take a positive integer");
  return parsed.data;
}

/** Why a session cannot be recorded now (a fixed phrase: it goes to the room as the `recording` detail). */
export type RecordingUnavailable = "spool_unwritable" | "spool_full" | "upload_outage";

export type RecordedSession = {
  sessionId: string;
  grant: GrantClaims;
  /** The terminal's size at the start (the shell opens at 80×24). */
  cols: number;
  rows: number;
  onFailure: (failure: RecordingFailure) => void;
  onDrain: () => void;
};

/** Ended sessions' last chunks get this long to reach the spool at shutdown: 5 s. */
const DRAIN_MS = 5_000;

export class Recordings {
  private readonly live = new Set<SessionRecorder>();

  constructor(
    readonly spool: Spool,
    readonly uploader: Uploader,
    private readonly sign: ChunkSign,
    private readonly settings: RecordingSettings,
    private readonly now: () => number = Date.now,
    private readonly activity = new RelayActivity(),
    /** Where recordings' text is made: the recorder thread (by default, a track on the relay's thread). */
    private readonly thread?: RecorderThread,
  ) {}

  /** Opens the spool under the state directory (a crash's debris removed) and its uploader, not started. */
  static async open(
    stateDir: string,
    state: ConnectorState,
    log: Log,
    settings: RecordingSettings,
  ): Promise<Recordings> {
    const spool = await Spool.open(stateDir, { maxBytes: settings.spoolMaxBytes, log });
    // The state object is shared: after an identity rotation, tokens and chunk claims use the new key.
    const identityKey = () => state.identityKey as JWK;
    // Uploads give way to a busy relay (activity.ts): recorded output is counted as it passes.
    const activity = new RelayActivity();
    const uploader = new Uploader({
      spool,
      edgeUrl: state.edgeUrl,
      token: (endpoint) => connectorToken(state.connectorId, identityKey(), endpoint),
      log,
      shouldWait: () => uploadsWait(activity, spool.stats(), Date.now()),
    });
    // The per-byte work of recording runs on its own thread, off the relay's event loop (recorder-thread.ts).
    const thread = new RecorderThread(
      (err) => log("recording.thread_error", { error: String(err) }),
      () => log("recording.thread_ready"),
    );
    return new Recordings(spool, uploader, chunkSigner(identityKey), settings, Date.now, activity, thread);
  }

  /** Starts uploading: what a previous run left in the spool first. */
  start(): void {
    this.uploader.start();
  }

  stop(): void {
    this.uploader.stop();
    void this.thread?.close();
  }

  health(): SpoolHealth {
    return this.uploader.health();
  }

  /** Why a recording could not be kept now, or null: the spool takes a write, has room, and uploads work. */
  async unavailable(): Promise<RecordingUnavailable | null> {
    if (!(await this.spool.writable())) return "spool_unwritable";
    if (this.spool.full()) return "spool_full";
    const failingSince = this.uploader.failingSince;
    if (failingSince !== null && this.now() - failingSince > this.settings.outageMs) return "upload_outage";
    return null;
  }

  /** The session's recorder (its grant names a recording id), or why there can be none now. */
  async begin(
    session: RecordedSession,
  ): Promise<{ recorder: SessionRecorder } | { unavailable: RecordingUnavailable }> {
    const { id, keystrokes } = session.grant.rec;
    if (!id) throw new Error("the grant names no recording");
    const unavailable = await this.unavailable();
    if (unavailable) return { unavailable };
    const recorder = new SessionRecorder({
      recordingId: id,
      sessionId: session.sessionId,
      format: session.grant.tgt.protocol === "rdp" ? "guacamole" : "asciicast-v2",
      keystrokes,
      cols: session.cols,
      rows: session.rows,
      spool: this.spool,
      sign: this.sign,
      now: this.now,
      chunkMs: this.settings.chunkMs,
      openTrack: this.thread?.open,
      onFailure: session.onFailure,
      onDrain: session.onDrain,
      noteOutput: (bytes) => this.activity.note(bytes, this.now()),
    });
    this.live.add(recorder);
    void recorder.closed.then(() => this.live.delete(recorder));
    return { recorder };
  }

  /** Waits (at most DRAIN_MS) for every recorder to have its last chunk in the spool. */
  async drain(ms = DRAIN_MS): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.all([...this.live].map((r) => r.closed)),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, ms);
      }),
    ]);
    clearTimeout(timer);
  }
}
