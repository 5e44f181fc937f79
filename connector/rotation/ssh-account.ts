// Changing and checking the secret of a local account over SSH (ssh2), always to the checked address
// and only after the pinned host key matched:
// - a password, as the account itself (`passwd`, its prompts answered by PasswdDialogue) or through a
//   rotation credential (`chpasswd` on stdin: root directly, anyone else through `sudo -n`);
// - a key: the new public key is added to the account's authorized_keys, the new key must log in, and
//   only then is the old key's line removed, so a failure at any step leaves a key that works.
// No secret is ever on a command line: passwords go to a pty or stdin, and only public keys are written.
import { Client, type ClientChannel, type ConnectConfig } from "ssh2";
import { hostKeyFingerprint } from "../host-key.ts";
import { PasswdDialogue } from "./passwd-dialogue.ts";
import { RotationFailure } from "./failure.ts";

export type SshTarget = { address: string; port: number; hostKey: string };
export type SshLogin = { username: string; password?: string; privateKey?: string };

const READY_TIMEOUT_MS = 15_000;
const COMMAND_TIMEOUT_MS = 30_000;
/** A POSIX login name (and `:`/newline free, so one `chpasswd` line can only ever name this account). */
const ACCOUNT_NAME = /^[A-Za-z_][A-Za-z0-9_.-]{0,31}\$?$/;

/** Logs in; rejects with a RotationFailure that says why not. */
export function sshLogin(target: SshTarget, login: SshLogin): Promise<Client> {
  return new Promise((resolve, reject) => {
    const ssh = new Client();
    let hostKeyRejected = false;
    const config: ConnectConfig = {
      host: target.address,
      port: target.port,
      username: login.username,
      readyTimeout: READY_TIMEOUT_MS,
      tryKeyboard: false,
      hostVerifier: (key: Buffer) => {
        const ok = hostKeyFingerprint(key) === target.hostKey;
        if (!ok) hostKeyRejected = true;
        return ok;
      },
      ...(login.privateKey ? { privateKey: login.privateKey } : { password: login.password ?? "" }),
    };
    ssh.once("ready", () => resolve(ssh));
    ssh.once("error", (err: Error & { level?: string }) => {
      ssh.end();
      reject(
        new RotationFailure(
          hostKeyRejected
            ? "host_key_mismatch"
            : err.level === "client-authentication"
              ? "auth_failed"
              : "target_unreachable",
        ),
      );
    });
    try {
      ssh.connect(config);
    } catch {
      reject(new RotationFailure("auth_failed"));
    }
  });
}

/** Whether `login` still logs in: true, false (refused), or a RotationFailure (unreachable, host key). */
export async function sshLogsIn(target: SshTarget, login: SshLogin): Promise<boolean> {
  try {
    (await sshLogin(target, login)).end();
    return true;
  } catch (err) {
    if (err instanceof RotationFailure && err.code === "auth_failed") return false;
    throw err;
  }
}

type Run = { code: number | null; output: string };

/** Runs `command`, writes `input` to it (then EOF unless `interact` drives it), and waits for its exit. */
function run(
  ssh: Client,
  command: string,
  opts: { input?: string; pty?: boolean; interact?: (chunk: string, stream: ClientChannel) => void } = {},
): Promise<Run> {
  return new Promise((resolve, reject) => {
    ssh.exec(command, opts.pty ? { pty: { term: "dumb", cols: 200, rows: 24 } } : {}, (err, stream) => {
      if (err) {
        reject(new RotationFailure("change_refused"));
        return;
      }
      let output = "";
      const timer = setTimeout(() => {
        stream.close();
        reject(new RotationFailure("change_refused"));
      }, COMMAND_TIMEOUT_MS);
      const onData = (data: Buffer) => {
        const text = data.toString("utf8");
        output = (output + text).slice(-4096);
        opts.interact?.(text, stream);
      };
      stream.on("data", onData);
      stream.stderr.on("data", onData);
      stream.on("close", (code: number | null) => {
        clearTimeout(timer);
        resolve({ code, output });
      });
      if (opts.input !== undefined) stream.end(opts.input);
    });
  });
}

/**
 * Changes `username`'s password to `next`: as itself with `current`, or through `via`. `changing` is called just
 * before the command that changes it is sent: from then on, a failure may come after the target took the change.
 */
export async function changeSshPassword(
  target: SshTarget,
  account: { username: string; current: string },
  next: string,
  via?: SshLogin,
  changing?: () => void,
): Promise<void> {
  if (!ACCOUNT_NAME.test(account.username)) throw new RotationFailure("unsupported");
  const ssh = await sshLogin(target, via ?? { username: account.username, password: account.current });
  try {
    changing?.();
    let result: Run;
    if (via) {
      const command = via.username === "root" ? "chpasswd" : "sudo -n chpasswd";
      result = await run(ssh, command, { input: `${account.username}:${next}\n` });
    } else {
      const dialogue = new PasswdDialogue(account.current, next);
      let aborted: RotationFailure | undefined;
      result = await run(ssh, "LC_ALL=C passwd", {
        pty: true,
        interact: (chunk, stream) => {
          const answer = dialogue.feed(chunk);
          if (!answer) return;
          if ("send" in answer) stream.write(answer.send);
          else {
            aborted ??= new RotationFailure(answer.abort);
            stream.close();
          }
        },
      });
      if (aborted) throw aborted;
    }
    if (result.code !== 0) throw new RotationFailure("change_refused");
  } finally {
    ssh.end();
  }
  if (!(await sshLogsIn(target, { username: account.username, password: next })))
    throw new RotationFailure("verify_failed");
}

/** A base64 key blob: safe inside single quotes, and what identifies a key's line. */
const BLOB = /^[A-Za-z0-9+/]+={0,2}$/;
const KEY_LINE = /^[a-z0-9@.-]+ [A-Za-z0-9+/]+={0,2}( [A-Za-z0-9@._:-]+)?$/;

/** Replaces `current` by `next` in the account's ~/.ssh/authorized_keys (`changing`: as changeSshPassword's). */
export async function changeSshKey(
  target: SshTarget,
  username: string,
  current: { privateKey: string; blob: string },
  next: { privateKey: string; publicLine: string; blob: string },
  changing?: () => void,
): Promise<void> {
  if (!BLOB.test(current.blob) || !BLOB.test(next.blob) || !KEY_LINE.test(next.publicLine))
    throw new RotationFailure("internal_error");
  const old = await sshLogin(target, { username, privateKey: current.privateKey });
  try {
    changing?.();
    const add = await run(old, "sh -s", {
      input: [
        "set -eu",
        "umask 077",
        'mkdir -p "$HOME/.ssh"',
        `printf '%s\\n' '${next.publicLine}' >> "$HOME/.ssh/authorized_keys"`,
        "",
      ].join("\n"),
    });
    if (add.code !== 0) throw new RotationFailure("change_refused");
  } finally {
    old.end();
  }
  // The new key must log in before the old one goes: else the account keeps the key that works.
  const fresh = await sshLogin(target, { username, privateKey: next.privateKey }).catch((err) => {
    throw err instanceof RotationFailure && err.code === "auth_failed" ? new RotationFailure("verify_failed") : err;
  });
  try {
    const remove = await run(fresh, "sh -s", {
      input: [
        "set -eu",
        'f="$HOME/.ssh/authorized_keys"',
        `grep -v -F '${current.blob}' "$f" > "$f.psm-rotate" || true`,
        // Rewritten in place (cat, not mv): the file keeps its owner, mode and any ACL.
        'cat "$f.psm-rotate" > "$f"',
        'rm -f "$f.psm-rotate"',
        "",
      ].join("\n"),
    });
    if (remove.code !== 0) throw new RotationFailure("change_refused");
  } finally {
    fresh.end();
  }
}
