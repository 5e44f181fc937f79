// Child processes of the dev stack and the tests: started in their own process group so that
// stopping one stops everything it started (wrangler leaves workerd running otherwise).
import { type ChildProcess, spawn, type SpawnOptions } from "node:child_process";
import { connect, createServer } from "node:net";

export type Proc = { child: ChildProcess; output: () => string; stop: () => Promise<void> };

export function startProcess(
  command: string,
  args: string[],
  options: SpawnOptions & { name: string; echo?: boolean },
): Proc {
  const child = spawn(command, args, { ...options, detached: true, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  const collect = (chunk: Buffer) => {
    const text = chunk.toString("utf8");
    output += text;
    if (output.length > 4 * 1024 * 1024) output = output.slice(-2 * 1024 * 1024);
    if (options.echo)
      for (const line of text.split("\n")) if (line.trim()) process.stderr.write(`[${options.name}] ${line}\n`);
  };
  child.stdout?.on("data", collect);
  child.stderr?.on("data", collect);
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  return {
    child,
    output: () => output,
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      try {
        process.kill(-child.pid!, "SIGTERM");
      } catch {
        return;
      }
      const timer = setTimeout(() => {
        try {
          process.kill(-child.pid!, "SIGKILL");
        } catch {}
      }, 3000);
      await exited;
      clearTimeout(timer);
      // The leader may exit before its children (wrangler before workerd): make sure none outlive it.
      try {
        process.kill(-child.pid!, "SIGKILL");
      } catch {}
    },
  };
}

/**
 * A free loopback port for a peer we start. It is drawn below the kernel's ephemeral range
 * (32768–60999 on Linux), so a port we pick and release before the peer binds it cannot meanwhile be
 * handed to some other process's outgoing connection or `listen(0)`: that race once failed a CI run.
 */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    if (await canListen(port)) return port;
  }
  throw new Error("no free loopback port between 20000 and 32000");
}

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.once("error", () => resolve(false));
    server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
  });
}

export async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < until) {
    // A probe that never settles (a request a half-started peer accepted and holds) must not outlast the wait.
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error("the last probe did not answer")), until - Date.now());
    });
    try {
      const value = await Promise.race([probe(), expired]);
      if (value !== undefined) return value;
    } catch (err) {
      lastError = err;
    } finally {
      clearTimeout(timer);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}${lastError ? `: ${(lastError as Error).message}` : ""}`);
}

/** Waits until `port` on loopback accepts a connection; fails at once if `proc` exits first. */
export function waitForPort(what: string, proc: Proc, port: number): Promise<true> {
  return waitFor(
    what,
    () =>
      new Promise<true | undefined>((resolve, reject) => {
        if (proc.child.exitCode !== null) reject(new Error(`${what} exited: ${proc.output()}`));
        const socket = connect(port, "127.0.0.1");
        socket.once("connect", () => {
          socket.destroy();
          resolve(true);
        });
        socket.once("error", () => resolve(undefined));
      }),
  );
}
