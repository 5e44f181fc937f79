// The same echo and bulk checks once through real Chromium and the real page: log in as alice,
// click "Connect" on the server `target`, and drive the page's own xterm.js terminal.
//
// How it is timed (all in the page, with performance.now(), so no CDP round trip is counted):
// an init script wraps window.WebSocket before the app loads, so the page's own session socket
// (created by SessionSocket) carries one extra 'message' listener that counts echoed bytes and
// spots markers; nothing else about the page changes (it still decodes frames, writes to xterm
// and returns credit only after xterm has parsed the output).
// - "synthetic input": an InputEvent('input', insertText "x") dispatched on xterm's helper textarea
//   goes through xterm's real input handler -> onData -> SessionSocket.sendInput -> socket. Timed
//   from dispatch to the echo frame's arrival in the page.
// - "real keyboard": page.keyboard.press('x') (CDP Input.dispatchKeyEvent, as a user's key);
//   timed from the page's capturing keydown listener to the echo frame's arrival.
// Neither includes painting: xterm renders on the next animation frame (~16 ms at 60 Hz), the
// same for any xterm.js page, WeTTY's included.
// - bulk: the command goes in as synthetic input; timed to the end marker's arrival. The page
//   credits output only after xterm.write's callback, so the rate is bounded by xterm's parser;
//   at most one 1 MiB window is unparsed when the marker arrives (< 1.1% of 100 MB).
import type { BrowserContext, CDPSession, Page } from "playwright-core";
import { launchChromium } from "../../test/support/browser.ts";
import type { Stack } from "../../test/support/stack.ts";
import { ascending } from "./stats.ts";
import type { Target } from "./target.ts";
import type { MemoryTrace } from "./system.ts";

type BenchState = {
  xs: number;
  bytes: number;
  tail: string;
  countXs: boolean;
  want: number;
  echoAt: number;
  keydownAt: number;
  onData: ((now: number) => void) | null;
  startedAt: number;
  firstDataAt: number;
  /** When the page's socket last sent a 1-byte DATA frame (a keystroke). */
  sentAt: number;
};
type BenchWindow = Window & { __bench: BenchState };

/** Runs in the page before the app: counts and timestamps what the session socket receives. */
function instrument(): void {
  const bench: BenchState = {
    xs: 0,
    bytes: 0,
    tail: "",
    countXs: true,
    want: Number.POSITIVE_INFINITY,
    echoAt: 0,
    keydownAt: 0,
    onData: null,
    startedAt: 0,
    firstDataAt: 0,
    sentAt: 0,
  };
  (window as unknown as BenchWindow).__bench = bench;
  document.addEventListener(
    "keydown",
    () => {
      bench.keydownAt = performance.now();
    },
    true,
  );
  const latin1 = new TextDecoder("latin1");
  const Native = window.WebSocket;
  class BenchWebSocket extends Native {
    override send(data: string | ArrayBufferLike | Blob | ArrayBufferView): void {
      if (typeof data !== "string" && "byteLength" in data && data.byteLength === 2) bench.sentAt = performance.now();
      super.send(data);
    }

    constructor(url: string | URL, protocols?: string | string[]) {
      super(url, protocols);
      if (!String(url).includes("/api/sessions/")) return;
      this.addEventListener("message", (event: MessageEvent) => {
        if (typeof event.data === "string") return;
        const now = performance.now();
        const frame = new Uint8Array(event.data as ArrayBuffer);
        if (frame[0] !== 1) return;
        if (!bench.firstDataAt) bench.firstDataAt = now;
        bench.bytes += frame.length - 1;
        if (bench.countXs) {
          for (let i = 1; i < frame.length; i++) if (frame[i] === 0x78) bench.xs++;
          if (bench.xs >= bench.want && !bench.echoAt) bench.echoAt = now;
        }
        // The last 4 KiB of output as text, for markers (which are followed by ~100 bytes of prompt).
        const from = Math.max(1, frame.length - 4096);
        bench.tail = (bench.tail + latin1.decode(frame.subarray(from))).slice(-4096);
        bench.onData?.(now);
      });
    }
  }
  window.WebSocket = BenchWebSocket;
}

export type ChromiumResult = {
  version: string;
  startMs: number;
  synthetic: number[];
  keyboard: number[];
  /** Real keyboard: keydown to the keystroke's frame leaving the page (xterm + page input path). */
  keyboardToSend: number[];
  bulk?: { bytes: number; ms: number; mbPerS: number };
  heap?: MemoryTrace;
  notes: string[];
};

async function heapUsed(cdp: CDPSession): Promise<number | undefined> {
  const { metrics } = (await cdp.send("Performance.getMetrics")) as { metrics: { name: string; value: number }[] };
  return metrics.find((m) => m.name === "JSHeapUsedSize")?.value;
}

async function waitForTail(page: Page, marker: string, timeoutMs: number): Promise<void> {
  await page.waitForFunction((m) => (window as unknown as BenchWindow).__bench.tail.includes(m), marker, {
    timeout: timeoutMs,
    polling: 50,
  });
}

export async function runChromium(
  stack: Stack,
  target: Target,
  opts: { synthetic: number; keyboard: number; warmup: number; bulkBytes: number; maxMs: number },
): Promise<ChromiumResult> {
  const notes: string[] = [];
  let context: BrowserContext | undefined;
  const deadline = performance.now() + opts.maxMs;
  const left = () => Math.max(1000, deadline - performance.now());
  try {
    context = await launchChromium();
    const page = await context.newPage();
    // tsx (esbuild keepNames) wraps named functions in __name(); give the page a no-op one.
    await page.addInitScript({ content: "globalThis.__name ??= (fn) => fn;" });
    await page.addInitScript(instrument);
    const version = await page.evaluate(() => navigator.userAgent.match(/Chrome\/([\d.]+)/)?.[1] ?? "unknown");
    await page.goto(`${stack.edge.url}/#/login`);
    await page.fill("#login-username", "alice");
    await page.fill("#login-password", "alice-password-1");
    await page.click("#login-submit");
    await page.waitForFunction(
      () => document.body.dataset.route && document.body.dataset.route !== "login",
      undefined,
      {
        timeout: 20_000,
      },
    );
    // The session is opened with the page's own API calls (same origin, its cookie): a checkout of
    // the target's credential, then POST /api/sessions and the terminal route. The catalog/cart UI
    // in front of these calls is being reworked, so clicking through it is not what is timed here.
    const sessionId = await page.evaluate(
      async ({ serverId, credentialId }) => {
        const post = async (path: string, body: unknown) => {
          const res = await fetch(path, {
            method: "POST",
            headers: { "content-type": "application/json" },
            body: JSON.stringify(body),
          });
          if (!res.ok) throw new Error(`${path}: HTTP ${res.status} ${await res.text()}`);
          return res.json();
        };
        const cart = (await post("/api/checkouts", {
          items: [{ serverId, credentialId, minutes: 60, justification: "benchmark run (Chromium)" }],
        })) as { results: { ok: boolean; checkout?: { id: string }; error?: string }[] };
        const checkoutId = cart.results[0]?.checkout?.id;
        if (!checkoutId) throw new Error(`checkout refused: ${JSON.stringify(cart.results[0])}`);
        const bench = (window as unknown as BenchWindow).__bench;
        bench.startedAt = performance.now();
        const { id } = (await post("/api/sessions", { checkoutId })) as { id: string };
        location.hash = `#/sessions/${id}`;
        return id;
      },
      { serverId: target.serverId, credentialId: target.credentialId },
    );
    await page.waitForSelector('body[data-session-state="connected"]', { timeout: 20_000 });
    await page.waitForFunction(() => (window as unknown as BenchWindow).__bench.bytes > 0, undefined, {
      timeout: 20_000,
    });
    const startMs = await page.evaluate(() => {
      const bench = (window as unknown as BenchWindow).__bench;
      return bench.firstDataAt - bench.startedAt;
    });
    void sessionId;
    await page.click("#terminal");

    // Raw mode + cat, typed with the real keyboard.
    await page.keyboard.type('stty raw -echo isig; echo ECH""OREADY; cat -u\n');
    await waitForTail(page, "ECHOREADY", 10_000);
    await page.waitForTimeout(100);

    // Synthetic input through xterm's input handler, timed in the page.
    const synthetic = await page.evaluate(
      async ({ count, warmup, maxMs }) => {
        const bench = (window as unknown as BenchWindow).__bench;
        const textarea = document.querySelector<HTMLTextAreaElement>("#terminal textarea.xterm-helper-textarea");
        if (!textarea) throw new Error("no xterm textarea");
        const samples: number[] = [];
        const started = performance.now();
        for (let i = 0; i < warmup + count && performance.now() - started < maxMs; i++) {
          const want = bench.xs + 1;
          const echoed = new Promise<number>((resolve, reject) => {
            const timer = setTimeout(() => {
              bench.onData = null;
              reject(new Error(`keystroke ${i}: no echo in 2 s`));
            }, 2000);
            bench.onData = (now) => {
              if (bench.xs < want) return;
              clearTimeout(timer);
              bench.onData = null;
              resolve(now);
            };
          });
          const t0 = performance.now();
          textarea.dispatchEvent(new InputEvent("input", { data: "x", inputType: "insertText", bubbles: true }));
          const t1 = await echoed;
          if (i >= warmup) samples.push(t1 - t0);
        }
        return samples;
      },
      { count: opts.synthetic, warmup: opts.warmup, maxMs: Math.min(60_000, left()) },
    );

    // The real keyboard, a smaller sample: each key costs CDP round trips from here.
    const keyboard: number[] = [];
    const keyboardToSend: number[] = [];
    const kbStarted = performance.now();
    for (let i = 0; i < opts.keyboard && performance.now() - kbStarted < 20_000; i++) {
      await page.evaluate(() => {
        const bench = (window as unknown as BenchWindow).__bench;
        bench.want = bench.xs + 1;
        bench.echoAt = 0;
        bench.keydownAt = 0;
        bench.sentAt = 0;
      });
      await page.keyboard.press("x");
      const sample = await page.evaluate(async () => {
        const bench = (window as unknown as BenchWindow).__bench;
        const until = performance.now() + 2000;
        while (!bench.echoAt && performance.now() < until) await new Promise((r) => setTimeout(r, 1));
        return bench.echoAt && bench.keydownAt
          ? { total: bench.echoAt - bench.keydownAt, toSend: bench.sentAt - bench.keydownAt }
          : null;
      });
      if (sample === null) {
        notes.push(`real keyboard: keystroke ${i} had no echo within 2 s; stopped`);
        break;
      }
      keyboard.push(sample.total);
      keyboardToSend.push(sample.toSend);
    }
    await page.evaluate(() => {
      (window as unknown as BenchWindow).__bench.want = Number.POSITIVE_INFINITY;
    });
    await page.keyboard.press("Control+C");
    await page.waitForTimeout(200);

    // Bulk through the page, honouring its flow control (credit after xterm parsed the bytes).
    let bulk: ChromiumResult["bulk"];
    let heap: MemoryTrace | undefined;
    const cdp = await context.newCDPSession(page);
    await cdp.send("Performance.enable");
    const first = await heapUsed(cdp);
    if (first !== undefined) heap = { start: first, max: first, end: first, samples: 1 };
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        const value = await heapUsed(cdp).catch(() => undefined);
        if (value !== undefined && heap) {
          heap.max = Math.max(heap.max, value);
          heap.end = value;
          heap.samples++;
        }
        await new Promise((r) => setTimeout(r, 250));
      }
    })();
    try {
      bulk = await page.evaluate(
        async ({ bytes, maxMs }) => {
          const bench = (window as unknown as BenchWindow).__bench;
          const textarea = document.querySelector<HTMLTextAreaElement>("#terminal textarea.xterm-helper-textarea")!;
          bench.countXs = false;
          bench.tail = "";
          const before = bench.bytes;
          const done = new Promise<number>((resolve, reject) => {
            const timer = setTimeout(() => {
              bench.onData = null;
              reject(new Error(`bulk: no end marker within ${maxMs} ms`));
            }, maxMs);
            bench.onData = (now) => {
              if (!bench.tail.includes("BULKEND")) return;
              clearTimeout(timer);
              bench.onData = null;
              resolve(now);
            };
          });
          const t0 = performance.now();
          const command = `head -c ${bytes} /dev/zero | tr '\\0' x; echo; echo BUL""KEND\r`;
          textarea.dispatchEvent(new InputEvent("input", { data: command, inputType: "insertText", bubbles: true }));
          const t1 = await done;
          const received = bench.bytes - before;
          return { bytes: received, ms: t1 - t0, mbPerS: received / 1e6 / ((t1 - t0) / 1000) };
        },
        { bytes: opts.bulkBytes, maxMs: Math.min(90_000, left()) },
      );
    } catch (err) {
      notes.push(`bulk in Chromium failed: ${(err as Error).message}`);
    } finally {
      sampling = false;
      await sampler;
    }
    await page.keyboard.type("exit\n");
    await page.waitForSelector('body[data-session-state="ended"]', { timeout: 5000 }).catch(() => {
      notes.push("the Chromium session did not report its end within 5 s");
    });
    return {
      version,
      startMs,
      synthetic: ascending(synthetic),
      keyboard: ascending(keyboard),
      keyboardToSend: ascending(keyboardToSend),
      bulk,
      heap,
      notes,
    };
  } finally {
    await context?.close().catch(() => undefined);
  }
}
