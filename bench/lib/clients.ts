// The two non-WeTTY clients as Pipes: ours (the page's protocol through wrangler dev, the
// SessionRoom and the connector, via TerminalClient) and the physical baseline (ssh2 straight to sshd).
import ssh2, { type ClientChannel } from "ssh2";
import { hostKeyFingerprint } from "../../connector/host-key.ts";
import type { Stack } from "../../test/support/stack.ts";
import { TerminalClient } from "../../test/support/terminal-client.ts";
import type { Chunk, Pipe } from "./pipe.ts";
import type { Target } from "./target.ts";

const { Client } = ssh2;

/** When a client began opening its terminal and when its first output byte came (performance.now()). */
export type Timed = { startedAt: number; firstByteAt: number };

export type OursPipe = Pipe & Timed & { client: TerminalClient; sessionId: string };

/** One checkout of the benchmark credential, reused for every session (checking out is not timed). */
const checkouts = new WeakMap<Target, string>();

async function checkout(stack: Stack, target: Target, fresh: boolean): Promise<string> {
  const known = checkouts.get(target);
  if (known && !fresh) return known;
  const cart = await stack.user.submitCart([
    { serverId: target.serverId, credentialId: target.credentialId, minutes: 60, justification: "benchmark run" },
  ]);
  const result = cart.results[0];
  if (!result?.ok) throw new Error(`checkout refused: ${result && !result.ok ? result.error : "no result"}`);
  if (result.checkout.status !== "active") throw new Error(`checkout is ${result.checkout.status}`);
  checkouts.set(target, result.checkout.id);
  return result.checkout.id;
}

/**
 * A session through the product, timed from `POST /api/sessions` (on an active checkout) through
 * the browser socket's handshake to the first output byte. Resolves at that byte.
 */
export async function openOurs(stack: Stack, target: Target, timeoutMs = 20_000): Promise<OursPipe> {
  const checkoutId = await checkout(stack, target, false);
  let startedAt = performance.now();
  let id: string;
  try {
    ({ id } = await stack.user.createSession(checkoutId));
  } catch {
    // The checkout may have ended (its window, a revocation): take a new one, once.
    const again = await checkout(stack, target, true);
    startedAt = performance.now();
    ({ id } = await stack.user.createSession(again));
  }
  const client = await TerminalClient.open(stack.edge.url, id, stack.user.sessionCookie, {
    keepReceived: false,
    cols: 80,
    rows: 24,
  });
  let listener: (chunk: Chunk) => void = () => {};
  let firstByteAt = 0;
  client.onData = (payload) => {
    if (!firstByteAt) firstByteAt = performance.now();
    listener(payload);
  };
  // The probe never throws: it runs inside the socket's message handler.
  const outcome = await client
    .until(
      "first output",
      () => (firstByteAt ? "ok" : client.state === "closed" ? "closed" : client.endReason),
      timeoutMs,
    )
    .catch((err: Error) => err.message);
  if (outcome !== "ok") {
    client.close();
    throw new Error(`session ${id}: ${outcome}`);
  }
  return {
    client,
    sessionId: id,
    startedAt,
    firstByteAt,
    write: (data) => client.type(data),
    listen: (fn) => {
      listener = fn;
    },
    close: async () => {
      // `exit` ends the session on the connector (user_exit); then the socket goes.
      if (client.state !== "closed" && client.state !== "ended") {
        // ^C first (ends a running cat); it flushes the tty's input, so `exit` goes separately.
        client.type("\x03");
        await new Promise((r) => setTimeout(r, 50));
        client.type("exit\r");
        await client.waitForEnd(3000).catch(() => undefined);
      }
      client.close();
    },
  };
}

export type DirectPipe = Pipe & Timed;

/** ssh2 straight to the same sshd, same user, same pty type and size: the physical baseline. */
export function openDirect(target: Target, timeoutMs = 20_000): Promise<DirectPipe> {
  const startedAt = performance.now();
  return new Promise((resolve, reject) => {
    const ssh = new Client();
    const timer = setTimeout(() => {
      ssh.end();
      reject(new Error(`direct ssh2: no output within ${timeoutMs} ms`));
    }, timeoutMs);
    ssh.once("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
    ssh.once("ready", () =>
      ssh.shell({ term: "xterm-256color", cols: 80, rows: 24 }, (err, stream: ClientChannel) => {
        if (err) {
          clearTimeout(timer);
          reject(err);
          return;
        }
        let listener: (chunk: Chunk) => void = () => {};
        let pending = true;
        stream.on("data", (data: Buffer) => {
          if (pending) {
            pending = false;
            clearTimeout(timer);
            resolve({
              startedAt,
              firstByteAt: performance.now(),
              write: (text) => stream.write(text),
              listen: (fn) => {
                listener = fn;
              },
              close: async () => {
                const closed = new Promise<void>((done) => ssh.once("close", () => done()));
                ssh.end();
                await Promise.race([closed, new Promise((r) => setTimeout(r, 2000))]);
              },
            });
          }
          listener(data);
        });
      }),
    );
    ssh.connect({
      host: target.host,
      port: target.port,
      username: target.user,
      password: target.password,
      readyTimeout: timeoutMs,
      hostVerifier: (key: Buffer) => hostKeyFingerprint(key) === target.hostKeyFingerprint,
    });
  });
}
