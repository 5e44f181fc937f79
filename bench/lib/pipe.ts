// One interactive terminal seen from a client (ours through the edge, direct ssh2, or WeTTY), and the
// measurements every one of them gets in exactly the same way: keystroke echo and bulk output.

/** Bytes (or, for WeTTY's socket.io text events, characters) arriving from the remote terminal. */
export type Chunk = Uint8Array | string;

/** A client-side terminal: what it types, and one listener for what comes back. */
export interface Pipe {
  write(data: string): void;
  /** Replaces the output listener. Called for every chunk, in order. */
  listen(fn: (chunk: Chunk) => void): void;
  close(): Promise<void>;
}

const X = 0x78; // the byte typed and echoed: "x"

export function countX(chunk: Chunk): number {
  let n = 0;
  if (typeof chunk === "string") {
    for (let i = 0; i < chunk.length; i++) if (chunk.charCodeAt(i) === X) n++;
  } else {
    for (let i = 0; i < chunk.length; i++) if (chunk[i] === X) n++;
  }
  return n;
}

export const chunkLength = (chunk: Chunk) => chunk.length;

/** A chunk as latin1 text (one character per byte; WeTTY's chunks are text already). */
const text = (chunk: Chunk, from = 0) =>
  typeof chunk === "string"
    ? chunk.slice(from)
    : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength).toString("latin1", from);

/** Finds a marker in a stream of chunks, including one split across chunks. */
export class MarkerScanner {
  private carry = "";
  constructor(private readonly marker: string) {}

  /** True once the marker has been seen. Searches the whole chunk (native indexOf, cheap). */
  push(chunk: Chunk): boolean {
    const keep = this.marker.length - 1;
    const head = typeof chunk === "string" ? chunk.slice(0, keep) : text(chunk.subarray(0, keep));
    if ((this.carry + head).includes(this.marker)) return true;
    const found =
      typeof chunk === "string"
        ? chunk.includes(this.marker)
        : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength).includes(this.marker, 0, "latin1");
    if (found) return true;
    const from = Math.max(0, chunk.length - keep);
    this.carry = (this.carry + text(chunk, from)).slice(-keep);
    return false;
  }

  /** Forgets what was seen, to find the next occurrence. */
  reset(): void {
    this.carry = "";
  }
}

/**
 * Waits until `marker` appears in the output, counting bytes on the way. The marker is always
 * typed with a split in it (`"A""B"` in shell), so the terminal's echo of the command never matches.
 */
export function waitForMarker(pipe: Pipe, marker: string, timeoutMs: number): Promise<{ at: number; bytes: number }> {
  return new Promise((resolve, reject) => {
    const scanner = new MarkerScanner(marker);
    let bytes = 0;
    let last = "";
    const timer = setTimeout(() => {
      pipe.listen(() => {});
      reject(new Error(`no "${marker}" within ${Math.round(timeoutMs)} ms; output ended ${JSON.stringify(last)}`));
    }, timeoutMs);
    pipe.listen((chunk) => {
      bytes += chunkLength(chunk);
      last = (last + text(chunk, Math.max(0, chunk.length - 200))).slice(-200);
      if (scanner.push(chunk)) {
        const at = performance.now();
        clearTimeout(timer);
        pipe.listen(() => {});
        resolve({ at, bytes });
      }
    });
  });
}

/** Runs `command` in the pipe's shell and waits for its marker line. */
export async function runAndWait(pipe: Pipe, command: string, marker: string, timeoutMs = 15_000): Promise<void> {
  const [left, right] = [marker.slice(0, 3), marker.slice(3)];
  const done = waitForMarker(pipe, marker, timeoutMs);
  pipe.write(`${command}; echo ${left}""${right}\n`);
  await done;
}

export type EchoResult = { samples: number[]; timedOut: boolean; elapsedMs: number };

/**
 * Keystroke echo: puts the pty in raw mode with `cat -u` echoing each byte, types one "x" at a
 * time and waits for its echo before the next. `warmup` keystrokes are not recorded. Bounded by
 * `count` and by `maxMs`; a keystroke whose echo takes over 2 s stops the run.
 */
export async function measureEcho(
  pipe: Pipe,
  count: number,
  warmup: number,
  maxMs: number,
  /** When given, receives the send time of every keystroke, warm-up included. */
  sendTimes?: number[],
): Promise<EchoResult> {
  // isig stays on so ^C ends cat afterwards; -echo so the tty itself echoes nothing.
  await runAndWait(pipe, "stty raw -echo isig", "ECHOREADY");
  // The first keystroke goes once the shell has taken the line (its output shows it): a gateway that reads the
  // line at Enter (command control) is then settled. cat's first read may still come a moment later; a typed byte
  // waits in the tty meanwhile, so nothing is lost, the first warm-up samples are just slower.
  const go = waitForMarker(pipe, "CATGO", 15_000);
  pipe.write('echo CAT""GO; cat -u\n');
  await go;
  let seen = 0;
  let want = 0;
  let arrived: ((at: number) => void) | undefined;
  pipe.listen((chunk) => {
    seen += countX(chunk);
    if (arrived && seen >= want) {
      const at = performance.now();
      const done = arrived;
      arrived = undefined;
      done(at);
    }
  });
  const samples: number[] = [];
  const started = performance.now();
  let timedOut = false;
  for (let i = 0; i < warmup + count; i++) {
    if (performance.now() - started > maxMs) {
      timedOut = true;
      break;
    }
    want = seen + 1;
    let timer: NodeJS.Timeout | undefined;
    const echo = new Promise<number>((resolve, reject) => {
      arrived = resolve;
      timer = setTimeout(() => reject(new Error(`keystroke ${i}: no echo within 2 s`)), 2000);
    });
    const t0 = performance.now();
    pipe.write("x");
    sendTimes?.push(t0);
    try {
      const t1 = await echo;
      if (i >= warmup) samples.push(t1 - t0);
    } catch {
      timedOut = true;
      break;
    } finally {
      clearTimeout(timer);
    }
  }
  const elapsedMs = performance.now() - started;
  // ^C ends cat (isig is on); the shell then restores its own line discipline.
  pipe.listen(() => {});
  pipe.write("\x03");
  return { samples, timedOut, elapsedMs };
}

export type BulkResult = { bytes: number; ms: number; mbPerS: number };

/**
 * A bulk run before the measured ones, on each client and stack alike: the first bulk output through a process pays
 * its warm-up (code optimised for the bulk path, buffers grown, on our connector the recorder thread's bulk path),
 * and in `npm run bench` it measured 15–30 % slower than the runs after it.
 */
export const WARMUP_BULK_BYTES = 10_000_000;
export const warmUpBulk = (pipe: Pipe, maxMs: number) => measureBulk(pipe, WARMUP_BULK_BYTES, maxMs);

/**
 * Bulk output: `bytes` of "x" printed by the remote shell and read by the client through its
 * flow control, timed from typing the command to the end marker.
 */
export async function measureBulk(pipe: Pipe, bytes: number, maxMs: number): Promise<BulkResult> {
  const done = waitForMarker(pipe, "BULKEND", maxMs);
  const t0 = performance.now();
  pipe.write(`head -c ${bytes} /dev/zero | tr '\\0' x; echo; echo BUL""KEND\n`);
  const { at, bytes: received } = await done;
  const ms = at - t0;
  return { bytes: received, ms, mbPerS: received / 1e6 / (ms / 1000) };
}
