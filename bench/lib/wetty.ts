// WeTTY 3.2.0, the comparison peer: installed in its own folder (bench/wetty, own lockfile) so its
// native node-pty build can never break the project's `npm ci`, started as its own process group,
// and driven by a Node socket.io client that does what WeTTY's page does (events `input`, `resize`,
// `data`, and `commit` every 256 KiB consumed for its flow control).
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { chmod, mkdir, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { freePort, type Proc, startProcess, waitFor } from "../../scripts/stack/process.ts";
import type { Timed } from "./clients.ts";
import type { Chunk, Pipe } from "./pipe.ts";

export const WETTY_DIR = new URL("../wetty/", import.meta.url).pathname;
const WETTY_MAIN = join(WETTY_DIR, "node_modules", "wetty", "build", "main.js");

/** WeTTY's page commits this many characters at a time (FlowControlClient.ackBytes = 2^18). */
const WETTY_ACK = 262_144;

/** Installs bench/wetty from its lockfile when missing. */
export function ensureWettyInstalled(): void {
  if (existsSync(join(WETTY_DIR, "node_modules")) && existsSync(WETTY_MAIN)) return;
  console.error("bench: installing WeTTY into bench/wetty (npm ci --prefix bench/wetty) …");
  const result = spawnSync("npm", ["ci", "--prefix", WETTY_DIR, "--no-audit", "--no-fund"], {
    stdio: ["ignore", "inherit", "inherit"],
  });
  if (result.status !== 0) throw new Error(`npm ci --prefix bench/wetty failed with status ${result.status}`);
}

export type Wetty = { url: string; port: number; proc: Proc; stop: () => Promise<void> };

/**
 * Starts WeTTY against the stack's sshd. WeTTY runs OpenSSH's `ssh` in a pty; the password reaches
 * it through SSH_ASKPASS (forced, OpenSSH >= 8.4) so no prompt is typed and no `sshpass` is needed.
 * `--ssh-pass` exists but shells out to `sshpass`, which is not installed here.
 */
export async function startWetty(opts: {
  dir: string;
  sshPort: number;
  user: string;
  password: string;
}): Promise<Wetty> {
  await mkdir(opts.dir, { recursive: true, mode: 0o700 });
  const passwordFile = join(opts.dir, "password");
  await writeFile(passwordFile, `${opts.password}\n`, { mode: 0o600 });
  const askpass = join(opts.dir, "askpass.sh");
  await writeFile(askpass, `#!/bin/sh\nexec cat '${passwordFile}'\n`, { mode: 0o700 });
  await chmod(askpass, 0o700);
  // LogLevel ERROR: no "Permanently added … to the list of known hosts" line as the first output.
  const sshConfig = join(opts.dir, "ssh_config");
  await writeFile(sshConfig, "Host *\n  LogLevel ERROR\n  PubkeyAuthentication no\n");
  const port = await freePort();
  const proc = startProcess(
    process.execPath,
    [
      WETTY_MAIN,
      "--host",
      "127.0.0.1",
      "--port",
      String(port),
      "--base",
      "/wetty",
      "--ssh-host",
      "127.0.0.1",
      "--ssh-port",
      String(opts.sshPort),
      "--ssh-user",
      opts.user,
      "--ssh-auth",
      "password",
      "--ssh-config",
      sshConfig,
      "--known-hosts",
      "/dev/null",
      // As root with a loopback host WeTTY would run `login` locally instead of ssh.
      "--force-ssh",
      "--log-level",
      "warn",
    ],
    {
      name: "wetty",
      cwd: opts.dir,
      env: { ...process.env, SSH_ASKPASS: askpass, SSH_ASKPASS_REQUIRE: "force", DISPLAY: "" },
    },
  );
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitFor(
      "WeTTY",
      async () => {
        if (proc.child.exitCode !== null) throw new Error(`wetty exited:\n${proc.output()}`);
        const res = await fetch(`${url}/wetty`);
        return res.ok ? true : undefined;
      },
      30_000,
    );
  } catch (err) {
    await proc.stop();
    throw err;
  }
  return { url, port, proc, stop: () => proc.stop() };
}

/** The parts of socket.io-client's Socket the benchmark uses (the package lives in bench/wetty). */
type IoSocket = {
  on(event: string, fn: (...args: never[]) => void): IoSocket;
  once(event: string, fn: (...args: never[]) => void): IoSocket;
  emit(event: string, ...args: unknown[]): IoSocket;
  disconnect(): IoSocket;
  connected: boolean;
};
type Io = (url: string, opts: Record<string, unknown>) => IoSocket;

let ioPromise: Promise<Io> | undefined;

function loadIo(): Promise<Io> {
  ioPromise ??= (async () => {
    const require = createRequire(join(WETTY_DIR, "package.json"));
    const mod = (await import(pathToFileURL(require.resolve("socket.io-client")).href)) as { io?: Io; default?: Io };
    const io = mod.io ?? mod.default;
    if (!io) throw new Error("socket.io-client has no io export");
    return io;
  })();
  return ioPromise;
}

export type WettyPipe = Pipe & Timed;

/**
 * A WeTTY terminal, as WeTTY's page opens it: socket.io on `/wetty/socket.io`, a resize on connect,
 * `input` for keys, `data` for output, `commit` every 256 KiB consumed. WebSocket transport only
 * (no long-polling first), which is WeTTY's fastest configuration. Resolves at the first output.
 */
export async function openWetty(wetty: Wetty, timeoutMs = 20_000): Promise<WettyPipe> {
  const io = await loadIo();
  const startedAt = performance.now();
  const socket = io(wetty.url, {
    path: "/wetty/socket.io",
    transports: ["websocket"],
    forceNew: true,
    reconnection: false,
  });
  let listener: (chunk: Chunk) => void = () => {};
  let uncommitted = 0;
  let gone = false;
  const closed = new Promise<void>((resolve) =>
    socket.once("disconnect", () => {
      gone = true;
      resolve();
    }),
  );
  return new Promise<WettyPipe>((resolve, reject) => {
    const timer = setTimeout(() => {
      socket.disconnect();
      reject(new Error(`WeTTY: no output within ${timeoutMs} ms`));
    }, timeoutMs);
    let first = true;
    socket.on("connect_error", ((err: Error) => {
      clearTimeout(timer);
      reject(err);
    }) as (...args: never[]) => void);
    socket.on("connect", () => socket.emit("resize", { cols: 80, rows: 24 }));
    socket.on("logout", () => socket.disconnect());
    socket.on("data", ((data: string) => {
      if (first) {
        first = false;
        clearTimeout(timer);
        resolve({
          firstByteAt: performance.now(),
          startedAt,
          write: (text) => socket.emit("input", text),
          listen: (fn) => {
            listener = fn;
          },
          close: async () => {
            if (!gone) socket.disconnect();
            await Promise.race([closed, new Promise((r) => setTimeout(r, 1000))]);
          },
        });
      }
      listener(data);
      // WeTTY's flow control: the server pauses the pty above 2 MiB uncommitted.
      uncommitted += data.length;
      while (uncommitted >= WETTY_ACK) {
        uncommitted -= WETTY_ACK;
        socket.emit("commit", WETTY_ACK);
      }
    }) as (...args: never[]) => void);
  });
}
