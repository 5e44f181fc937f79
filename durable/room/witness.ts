// What the room witnesses of a recorded session (pure): the markers in the order they happened, the
// input bytes it relayed (attributed to each writer), and whether the connector said it cannot record.
// At the end this becomes the `Witness` that the edge binds to the connector's chunks
// (durable/recording/seal.ts, docs/recording.md).
import type { EndReason, Witness, WitnessMarker } from "../../protocol/index.ts";
import { type Action, KEYS, type Saved } from "./types.ts";

/** Input counts are saved at most this long after the bytes pass (a memory timer, not a write per keystroke). */
export const INPUT_COUNT_SAVE_MS = 500;
/** Bounded like the manifest's list: a session warned a thousand times keeps its first thousand markers. */
const MAX_MARKERS = 1000;

export class WitnessLog {
  private readonly markers: WitnessMarker[];
  /** Input bytes relayed to the connector, in all and by writer (user id). */
  private inputBytes: number;
  private readonly inputBy = new Map<string, number>();
  /** When the input count is next saved (null: saved). */
  private inputSaveAt: number | null = null;
  /** The connector said it cannot record (a fixed phrase), for the witness and the live list. */
  failed: string | null;
  /** A connector took the session: its chunks may still be uploading when the session ends. */
  connectorSeen: boolean;
  /** Which connector took it (unknown for a session taken before this was kept). */
  servedBy: string | null;

  constructor(saved: Saved) {
    this.markers = saved.markers ?? [];
    this.inputBytes = saved.witnessedInput ?? 0;
    this.failed = saved.recordingFailed ?? null;
    this.connectorSeen = saved.connectorSeen ?? false;
    this.servedBy = saved.servedBy ?? null;
  }

  /** Adds a marker; false when the list is full. */
  mark(label: string, now: number, out: Action[]): boolean {
    if (this.markers.length >= MAX_MARKERS) return false;
    this.markers.push({ at: now, label });
    out.push({ do: "save", entries: { [KEYS.markers]: [...this.markers] } });
    return true;
  }

  /** Input relayed from `writer`; returns when the core should `tick` to save the count (or null). */
  input(bytes: number, writer: string, now: number): number | null {
    this.inputBytes += bytes;
    this.inputBy.set(writer, (this.inputBy.get(writer) ?? 0) + bytes);
    if (this.inputSaveAt !== null) return null;
    this.inputSaveAt = now + INPUT_COUNT_SAVE_MS;
    return this.inputSaveAt;
  }

  /** Input bytes relayed to the connector in all (kept durably). */
  get inputTotal(): number {
    return this.inputBytes;
  }

  /** Input bytes relayed by each writer since this object woke (attribution; the total is kept durably). */
  inputByWriter(): Record<string, number> {
    return Object.fromEntries(this.inputBy);
  }

  tick(now: number, out: Action[]): void {
    if (this.inputSaveAt === null || now < this.inputSaveAt) return;
    this.inputSaveAt = null;
    out.push({ do: "save", entries: { [KEYS.witnessedInput]: this.inputBytes }, unconfirmed: true });
  }

  /** The connector cannot record. Returns the phrase to alert with, or null when it was said before. */
  failing(detail: string | undefined, out: Action[]): string | null {
    if (this.failed) return null;
    this.failed = detail?.match(/^[a-z_]{1,64}$/) ? detail : "failing";
    out.push({ do: "save", entries: { [KEYS.recordingFailed]: this.failed } });
    return this.failed;
  }

  tookSession(connectorId: string, out: Action[]): void {
    this.connectorSeen = true;
    this.servedBy = connectorId;
    out.push({ do: "save", entries: { [KEYS.connectorSeen]: true, [KEYS.servedBy]: connectorId } });
  }

  /** The session ended: the witness, with the input count saved for good. */
  end(
    output: number,
    times: { startedAt: number; endedAt: number },
    reason: EndReason,
    endedBy: Witness["endedBy"],
    out: Action[],
  ): Witness {
    this.inputSaveAt = null;
    out.push({ do: "save", entries: { [KEYS.witnessedInput]: this.inputBytes } });
    return {
      output,
      input: this.inputBytes,
      markers: [...this.markers],
      ...times,
      endReason: reason,
      endedBy,
      recordingFailed: this.failed,
    };
  }
}
