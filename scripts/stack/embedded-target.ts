// An embedded SSH demo target for `npm start` on machines without OpenSSH's sshd: an ssh2 server on
// loopback that gives one user, with one public key, a real shell on a real pty.
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { timingSafeEqual } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { homedir, userInfo } from "node:os";
import { join } from "node:path";
import type { Readable, Writable } from "node:stream";
import ssh2, { type Connection, type ParsedKey, type ServerChannel } from "ssh2";
import { hostKeyFingerprint } from "../../connector/host-key.ts";
import { ed25519KeyPair } from "../../connector/rotation/secret.ts";

const { Server, utils } = ssh2; // CommonJS: plain Node cannot see its named exports

export type EmbeddedTarget = { port: number; hostKeyFingerprint: string; stop(): Promise<void> };

// Python's standard library can drive a pseudo-terminal, so no native npm module (node-pty) is needed.
// argv: rows cols shell-argv...; fd 0/1 carry the terminal bytes, fd 3 carries "rows cols\n" resizes.
// Exits with the shell's exit code (128+signal if it was killed).
const PTY_HELPER = String.raw`
import fcntl, os, pty, select, signal, struct, sys, termios, time
rows, cols, argv = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3:]
def winsize(fd, r, c): fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", r, c, 0, 0))
pid, master = pty.fork()
if pid == 0:
    try:
        winsize(0, rows, cols)  # before exec, so the shell starts with the right size
        os.execvp(argv[0], argv)
    finally:
        os._exit(127)
def hangup(*_):  # parent gone or stop(): hang up the shell like a closed terminal, and reap it
    for sig in (signal.SIGHUP, signal.SIGKILL):  # (init in a container may never reap a zombie)
        try:
            os.killpg(pid, sig)
            for _ in range(20):
                if os.waitpid(pid, os.WNOHANG)[0]: os._exit(129)
                time.sleep(0.05)
        except OSError: os._exit(129)
    os._exit(129)
signal.signal(signal.SIGTERM, hangup)
def out(data):
    try:
        while data: data = data[os.write(1, data):]
    except OSError: hangup()
os.set_blocking(master, False)
inputs, pending, resizes, status = [3, 0, master], b"", b"", None
while status is None:
    r, w, _ = select.select(inputs, [master] if pending else [], [], 0.5)
    if 3 in r:  # resizes first, so a command typed after a resize sees the new size
        data = os.read(3, 4096)
        if not data: inputs.remove(3)
        resizes += data
        while b"\n" in resizes:
            line, resizes = resizes.split(b"\n", 1)
            winsize(master, *map(int, line.split()))
            try: os.killpg(pid, signal.SIGWINCH)
            except OSError: pass
    if 0 in r:
        data = os.read(0, 65536)
        if not data: hangup()
        pending += data
    if pending:  # the master is non-blocking so a full tty input queue can never stall output
        try: pending = pending[os.write(master, pending):]
        except BlockingIOError: pass
        except OSError: pending = b""
    if master in r:
        try: data = os.read(master, 65536)
        except BlockingIOError: continue
        except OSError: data = b""  # EIO: every slave fd is closed, the shell is gone
        if not data: break
        out(data)
    done, st = os.waitpid(pid, os.WNOHANG)
    if done: status = st
while True:  # drain what the shell wrote just before exiting
    try: data = os.read(master, 65536)
    except OSError: break
    if not data: break
    out(data)
code = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1] if status is None else status)
sys.exit(128 - code if code < 0 else code)
`;

function loadHostKey(dir: string): string {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const file = join(dir, "embedded_ssh_host_ed25519_key");
  if (!existsSync(file)) writeFileSync(file, ed25519KeyPair().private, { mode: 0o600, flag: "wx" });
  return readFileSync(file, "utf8");
}

function parse(key: string): ParsedKey {
  const parsed = utils.parseKey(key);
  if (parsed instanceof Error) throw parsed;
  return parsed;
}

const sameBytes = (a: Buffer, b: Buffer) => a.length === b.length && timingSafeEqual(a, b);

type Pty = { term: string; rows: number; cols: number };
type Session = { child: ChildProcess; resize?: (rows: number, cols: number) => void };

export async function startEmbeddedTarget(opts: {
  dir: string;
  authorizedKey: string;
  username: string;
  port?: number;
}): Promise<EmbeddedTarget> {
  const hostKey = loadHostKey(opts.dir);
  const allowed = parse(opts.authorizedKey);
  const allowedBlob = allowed.getPublicSSH();
  const allowedUser = Buffer.from(opts.username);
  const python = spawnSync("python3", ["-c", ""], { stdio: "ignore" }).status === 0;
  const shell = process.env.SHELL || "/bin/bash";
  const home = process.env.HOME || homedir();
  const user = userInfo().username;
  // The shell runs as this process's user, so USER/HOME describe that user. Only a small, fixed
  // environment is passed: the dev stack's own variables (tokens, secrets) must not leak into it.
  const baseEnv = {
    PATH: process.env.PATH || "/usr/local/bin:/usr/bin:/bin",
    LANG: process.env.LANG || "C.UTF-8",
    HOME: home,
    USER: user,
    LOGNAME: user,
    SHELL: shell,
    PS1: "demo$ ",
  };
  const children = new Set<ChildProcess>();
  const clients = new Set<Connection>();

  function start(pty: Pty | undefined, command: string | undefined): Session {
    const argv = command === undefined ? [shell, "-i"] : [shell, "-c", command];
    const env = { ...baseEnv, TERM: pty?.term || "xterm-256color" };
    let session: Session;
    if (!pty) {
      // Like sshd without a pty: plain pipes, and a shell without -i (there is no terminal to drive).
      const args = command === undefined ? [] : ["-c", command];
      session = { child: spawn(shell, args, { cwd: home, env, stdio: "pipe" }) };
    } else if (python) {
      const child = spawn("python3", ["-c", PTY_HELPER, String(pty.rows || 24), String(pty.cols || 80), ...argv], {
        cwd: home,
        env,
        stdio: ["pipe", "pipe", "pipe", "pipe"],
      });
      const control = child.stdio[3] as Writable;
      control.on("error", () => {});
      session = { child, resize: (rows, cols) => control.write(`${rows || 24} ${cols || 80}\n`) };
    } else {
      // Fallback without python3: util-linux `script` allocates the pty. Its size cannot be set or
      // changed from here (it copies it from its own stdin, which is a pipe), so there is no resize.
      const cmd = argv.map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(" ");
      session = { child: spawn("script", ["-qfec", cmd, "/dev/null"], { cwd: home, env, stdio: "pipe" }) };
    }
    children.add(session.child);
    session.child.once("exit", () => children.delete(session.child));
    return session;
  }

  // Moves bytes both ways with backpressure: whichever side cannot keep up pauses the other.
  function relay(from: Readable, to: Writable) {
    from.on("data", (chunk: Buffer) => {
      if (!to.write(chunk)) {
        from.pause();
        to.once("drain", () => from.resume());
      }
    });
  }

  function attach(channel: ServerChannel, child: ChildProcess, pty: boolean) {
    child.stdin!.on("error", () => {});
    relay(child.stdout!, channel);
    relay(child.stderr!, pty ? channel : channel.stderr);
    relay(channel, child.stdin!);
    // With a pty, sshd ignores the client's EOF (the terminal stays open); without one it is the
    // command's end of input.
    if (!pty) channel.on("end", () => child.stdin!.end());
    channel.on("close", () => child.kill());
    child.on("error", (err) => channel.stderr.write(`embedded target: ${err.message}\r\n`));
    // 'close' comes after stdout/stderr ended, so every byte is written before the exit status.
    child.on("close", (code, signal) => {
      if (signal) channel.exit(signal.replace(/^SIG/, ""), false, "");
      else channel.exit(code ?? 255);
      channel.end();
    });
  }

  function onConnection(client: Connection) {
    clients.add(client);
    const mine = new Set<ChildProcess>();
    client.on("error", () => {});
    client.on("close", () => {
      clients.delete(client);
      for (const child of mine) child.kill();
    });
    client.on("authentication", (ctx) => {
      if (
        !sameBytes(Buffer.from(ctx.username), allowedUser) ||
        ctx.method !== "publickey" ||
        ctx.key.algo !== allowed.type ||
        !sameBytes(ctx.key.data, allowedBlob) ||
        // No signature yet means the client only asks whether this key would do.
        (ctx.signature && ctx.blob && allowed.verify(ctx.blob, ctx.signature, ctx.hashAlgo) !== true)
      ) {
        return ctx.reject(["publickey"]);
      }
      ctx.accept();
    });
    client.on("ready", () => {
      client.on("session", (acceptSession) => {
        const sessionChannel = acceptSession();
        let pty: Pty | undefined;
        let running: Session | undefined;
        sessionChannel.on("pty", (accept, _reject, info) => {
          pty = { term: info.term, rows: info.rows, cols: info.cols };
          accept?.();
        });
        sessionChannel.on("window-change", (accept, _reject, info) => {
          if (pty) Object.assign(pty, { rows: info.rows, cols: info.cols });
          running?.resize?.(info.rows, info.cols);
          accept?.();
        });
        sessionChannel.on("env", (accept) => accept?.()); // accepted but ignored
        const run = (channel: ServerChannel, command?: string) => {
          running = start(pty, command);
          mine.add(running.child);
          attach(channel, running.child, pty !== undefined);
        };
        sessionChannel.on("shell", (accept) => run(accept()));
        sessionChannel.on("exec", (accept, _reject, info) => run(accept(), info.command));
      });
    });
  }

  const server = new Server({ hostKeys: [hostKey] }, onConnection);
  await new Promise<void>((resolve, reject) =>
    server.once("error", reject).listen(opts.port ?? 0, "127.0.0.1", () => resolve()),
  );
  return {
    port: (server.address() as { port: number }).port,
    hostKeyFingerprint: hostKeyFingerprint(parse(hostKey).getPublicSSH()),
    async stop() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const client of clients) client.end();
      const exits = [...children].map((child) => new Promise<void>((resolve) => child.once("exit", () => resolve())));
      for (const child of children) child.kill();
      const timer = setTimeout(() => {
        for (const child of children) child.kill("SIGKILL");
      }, 3000);
      await Promise.all([closed, ...exits]);
      clearTimeout(timer);
    },
  };
}
