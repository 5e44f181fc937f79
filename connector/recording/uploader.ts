// Uploads the spool's chunks to the edge, one request at a time, oldest first: PUT
// /connector/recordings/<rid>/chunks/<seq> with the gzip bytes and the signed claims in CHUNK_HEADER.
// A 2xx removes the chunk from the spool; a refusal for good (400/403/404/409) moves it to
// spool-rejected; anything else is retried, the same chunk again, after a capped backoff with jitter.
// Runs from the connector's start (a restart uploads what the spool holds) and is kicked by each new chunk.
import { backoffDelay, CHUNK_HEADER, connectorEndpoint, type SpoolHealth } from "../../protocol/index.ts";
import type { Log } from "../log.ts";
import type { Spool, SpooledChunk } from "./spool.ts";

/** Statuses by which the edge refuses a chunk for good: retrying it cannot help. */
const REFUSED = new Set([400, 403, 404, 409]);
/** One upload may take this long (a 2 MiB chunk on a slow link): 60 s. */
const UPLOAD_TIMEOUT_MS = 60_000;
/** Retries start at about 1 s and double up to 60 s: an edge or store outage of hours costs a request a minute. */
export const UPLOAD_RETRY_BASE_MS = 1_000;
export const UPLOAD_RETRY_CAP_MS = 60_000;

/** The uploader's backoff: protocol/backoff.ts with its own bounds. */
export function uploadRetryDelay(attempt: number, random: () => number = Math.random): number {
  return backoffDelay(attempt, random, { baseMs: UPLOAD_RETRY_BASE_MS, capMs: UPLOAD_RETRY_CAP_MS });
}

export type UploaderOptions = {
  spool: Spool;
  edgeUrl: string;
  /** A fresh single-use connector token for exactly this edge path (connectorToken). */
  token: (endpoint: string) => Promise<string>;
  log: Log;
  now?: () => number;
  retryDelay?: (attempt: number) => number;
  timeoutMs?: number;
  /** Whether the next upload should wait (the relay is busy: activity.ts); asked again every YIELD_MS. */
  shouldWait?: () => boolean;
};

/** How often a waiting uploader looks again whether the relay is still busy. */
const YIELD_MS = 250;

type Outcome = "uploaded" | "refused" | "failed";

export class Uploader {
  /** Since when uploads fail (unix ms): the first failure after the last answer from the edge. */
  failingSince: number | null = null;
  private running = false;
  private stopped = false;
  private attempt = 0;
  private wake?: { timer: NodeJS.Timeout; resolve: () => void };
  private readonly now: () => number;

  constructor(private readonly options: UploaderOptions) {
    this.now = options.now ?? Date.now;
  }

  /** Uploads what the spool holds now and every chunk added later. */
  start(): void {
    this.options.spool.onAdded = () => this.kick();
    this.kick();
  }

  stop(): void {
    this.stopped = true;
    if (this.wake) {
      clearTimeout(this.wake.timer);
      this.wake.resolve();
    }
  }

  /** A chunk was added: start the loop unless it runs (a running loop picks it up; a backoff is not cut short). */
  kick(): void {
    if (this.running || this.stopped) return;
    this.running = true;
    this.loop().catch((err: Error) => this.options.log("recording.upload_fault", { error: err.name }));
  }

  /** Whether the loop is idle (nothing to upload, or stopped); for tests and status. */
  get idle(): boolean {
    return !this.running;
  }

  health(): SpoolHealth {
    return { ...this.options.spool.stats(), failingSince: this.failingSince };
  }

  /**
   * Takes the spool's oldest chunk until none is left; a failed one is tried again after the backoff,
   * so nothing is reordered. `running` drops in the same turn that finds the spool empty, so a chunk
   * added right after always gets its kick.
   */
  private async loop(): Promise<void> {
    const { spool, log } = this.options;
    try {
      for (let chunk = spool.next(); chunk && !this.stopped; chunk = spool.next()) {
        if (this.options.shouldWait?.()) {
          await this.backoff(YIELD_MS);
          continue;
        }
        let outcome: Outcome;
        try {
          outcome = await this.upload(chunk);
        } catch (err) {
          // The spool's own disk failed (reading, removing, moving): retried like an upload.
          log("recording.spool_io_failed", { recording: chunk.rid, seq: chunk.seq, error: (err as Error).name });
          outcome = "failed";
        }
        if (outcome !== "failed") {
          this.attempt = 0;
          this.failingSince = null;
          continue;
        }
        await this.backoff((this.options.retryDelay ?? uploadRetryDelay)(this.attempt++));
      }
    } finally {
      this.running = false;
    }
  }

  private async backoff(ms: number): Promise<void> {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      timer.unref();
      this.wake = { timer, resolve };
    });
    this.wake = undefined;
  }

  /** One chunk, one request. Throws only when the spool's disk fails. */
  private async upload(chunk: SpooledChunk): Promise<Outcome> {
    const { spool, edgeUrl, token, log } = this.options;
    const endpoint = connectorEndpoint.recordingChunk(chunk.rid, chunk.seq);
    const files = await spool.read(chunk).catch((err: NodeJS.ErrnoException) => {
      if (err.code === "ENOENT") return null;
      throw err;
    });
    if (!files) {
      // Removed from under the spool (by hand): nothing to upload; what is left of it is moved aside.
      log("recording.chunk_missing", { recording: chunk.rid, seq: chunk.seq });
      await spool.reject(chunk);
      return "refused";
    }
    const { data, jws } = files;
    let status: number;
    try {
      const res = await fetch(new URL(endpoint, edgeUrl), {
        method: "PUT",
        headers: {
          authorization: `Bearer ${await token(endpoint)}`,
          "content-type": "application/octet-stream",
          [CHUNK_HEADER]: jws,
        },
        body: data,
        signal: AbortSignal.timeout(this.options.timeoutMs ?? UPLOAD_TIMEOUT_MS),
      });
      status = res.status;
      await res.body?.cancel();
    } catch (err) {
      this.failing(chunk, { error: (err as Error).name });
      return "failed";
    }
    if (status >= 200 && status < 300) {
      await spool.remove(chunk);
      return "uploaded";
    }
    if (REFUSED.has(status)) {
      await spool.reject(chunk);
      log("recording.chunk_rejected", { recording: chunk.rid, seq: chunk.seq, status });
      return "refused";
    }
    this.failing(chunk, { status });
    return "failed";
  }

  private failing(chunk: SpooledChunk, why: { status?: number; error?: string }): void {
    const fields = { recording: chunk.rid, seq: chunk.seq, attempt: this.attempt + 1, ...why };
    if (this.failingSince === null) {
      this.failingSince = this.now();
      this.options.log("recording.upload_failing", fields);
    } else this.options.log("recording.upload_retry", fields);
  }
}
