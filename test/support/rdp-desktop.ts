// A desktop opened straight through the RDP engine (connector/rdp/rdp-stream.ts) on a test xrdp, for tests that
// type into it and read back what its X server got: keys sent as the desktop page sends them, X clients (xev,
// setxkbmap) run as the user on the session's own display, and xev's log parsed (test/support/xev.ts).
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { type RdpFailure, RdpStream } from "../../connector/rdp/rdp-stream.ts";
import { encodeInstruction } from "../../protocol/guacamole.ts";
import { DEFAULT_KEYBOARD_LAYOUT, type KeyboardLayout } from "../../protocol/keyboard-layout.ts";
import { waitFor } from "../../scripts/stack/process.ts";
import type { Xrdp } from "../../scripts/stack/xrdp.ts";
import { parseXev, type XKeyEvent, xevCommand, xevMissing } from "./xev.ts";

/** Why a test cannot run X clients in a desktop here, or undefined: xev and xwininfo, setxkbmap, runuser. */
export const desktopToolsMissing = (): string | undefined =>
  xevMissing() ??
  (existsSync("/usr/bin/xwininfo") && existsSync("/usr/bin/setxkbmap") && existsSync("/usr/sbin/runuser")
    ? undefined
    : "reading a desktop's keys and keymap needs xwininfo (x11-utils), setxkbmap (x11-xkb-utils) and runuser");

/** A key pressed (`key,<keysym>,1`) or released (`key,<keysym>,0`), as the desktop page sends it. */
export const keyText = (keysym: number, pressed: boolean): string => encodeInstruction("key", keysym, pressed ? 1 : 0);
export const tap = (keysym: number): string => keyText(keysym, true) + keyText(keysym, false);

/** The keysym guacamole-common-js sends for a typed character: Latin-1 as itself, others as 0x01000000 + code point. */
export function charKeysym(ch: string): number {
  const cp = ch.codePointAt(0)!;
  if (cp === 0x0a) return 0xff0d; // Enter
  return cp <= 0xff ? cp : 0x01000000 + cp;
}

/** Each character of `text` pressed and released. */
export const typeText = (text: string): string => [...text].map((ch) => tap(charKeysym(ch))).join("");

export type Desktop = {
  stream: RdpStream;
  /** Guacamole instructions to the bridge, as the browser's input. */
  send: (text: string) => void;
  /** Resolves when the bridge exits: the failure when it never connected. */
  closed: Promise<RdpFailure | undefined>;
  close: () => Promise<RdpFailure | undefined>;
};

/** Logs `user` on to `xrdp` through a fresh bridge and resolves once the desktop is up. */
export async function openDesktop(
  xrdp: Xrdp,
  opts: { user: string; password: string; keyboardLayout?: KeyboardLayout; width?: number; height?: number },
): Promise<Desktop> {
  const stream = new RdpStream();
  const closed = new Promise<RdpFailure | undefined>((resolve) =>
    stream.once("close", (info: { failure?: RdpFailure }) => resolve(info.failure)),
  );
  const ready = new Promise<void>((resolve) => stream.once("ready", () => resolve()));
  stream.start({
    host: "127.0.0.1",
    port: xrdp.port,
    certFingerprint: xrdp.certFingerprint,
    username: opts.user,
    password: Buffer.from(opts.password),
    domain: "",
    width: opts.width ?? 1024,
    height: opts.height ?? 768,
    security: "any",
    clipboard: { copy: false, paste: false, maxBytes: 0 },
    keyboardLayout: opts.keyboardLayout ?? DEFAULT_KEYBOARD_LAYOUT,
  });
  const desktop: Desktop = {
    stream,
    send: (text) => stream.write(Buffer.from(text)),
    closed,
    close: () => {
      stream.close();
      return closed;
    },
  };
  await Promise.race([ready, closed.then((failure) => Promise.reject(new Error(`RDP session ended: ${failure}`)))]);
  return desktop;
}

/**
 * The X display and authority file of `user`'s desktop, from the Xorg that xrdp-sesman last started for them
 * (`Xorg :237 -auth .Xauthority ...`, the file relative to their home).
 */
export function desktopDisplay(user: string): { display: string; xauthority: string } | undefined {
  let line: string;
  try {
    // The newest: a session this user had on another xrdp may still be running.
    line = execFileSync("pgrep", ["-n", "-u", user, "-a", "-x", "Xorg"], { encoding: "utf8" }).split("\n")[0] ?? "";
  } catch {
    return undefined;
  }
  const display = / (:\d+)\b/.exec(line)?.[1];
  const auth = / -auth (\S+)/.exec(line)?.[1];
  if (!display || !auth) return undefined;
  return { display, xauthority: auth.startsWith("/") ? auth : join("/home", user, auth) };
}

/** Runs the shell `command` as `user` on their desktop's display (an X client of the session). */
function inDesktop(user: string, command: string): { file: string; args: string[] } {
  const x = desktopDisplay(user);
  if (!x) throw new Error(`no desktop X server runs for ${user}`);
  return {
    file: "runuser",
    args: ["-u", user, "--", "env", `DISPLAY=${x.display}`, `XAUTHORITY=${x.xauthority}`, "sh", "-c", command],
  };
}

/** What an X client run as `user` in their desktop printed (it must exit). */
export function runInDesktop(user: string, command: string): string {
  const { file, args } = inDesktop(user, command);
  return execFileSync(file, args, { encoding: "utf8", timeout: 10_000 });
}

/** The X keyboard layout of `user`'s desktop (`setxkbmap -query`'s `layout:`), which xrdp chose by the RDP layout. */
export function desktopXLayout(user: string): string | undefined {
  return /^layout:\s*(\S+)/m.exec(runInDesktop(user, "setxkbmap -query"))?.[1];
}

export type Xev = {
  /** Every key event xev logged so far. */
  events: () => Promise<XKeyEvent[]>;
  stop: () => void;
};

/** How a test reaches the desktop's pointer and keyboard: the bridge's input straight, or a page's. */
export type DesktopInput = {
  /** Puts the pointer at (100, 100) of the desktop, over xev's window. */
  point: () => unknown;
  /** Presses and releases Escape (the same key on every layout). */
  escape: () => unknown;
};

export const bridgeInput = (desktop: Desktop): DesktopInput => ({
  point: () => desktop.send(encodeInstruction("mouse", 100, 100, 0)),
  escape: () => desktop.send(tap(0xff1b)),
});

/**
 * Starts xev in `user`'s desktop over its top left, under the pointer (no window manager: keys go to the window
 * under it, and the last one mapped is on top), and resolves once a probe key (Escape) shows in its log. Should
 * the session's own xterm map after xev and cover it, xev is started again, on top.
 */
export async function startXev(input: DesktopInput, user: string): Promise<Xev> {
  // The RDP connection is up before xrdp-sesman has logged the user on, their X server takes clients and the
  // session's xterm (scripts/stack/xrdp.ts) has its window.
  await waitFor(
    "the desktop's X server and xterm",
    async () => {
      try {
        runInDesktop(user, "xwininfo -root -children 2>/dev/null | grep -q XTerm");
        return true;
      } catch {
        await new Promise((r) => setTimeout(r, 200));
        return undefined;
      }
    },
    30_000,
  );
  await input.point();
  let xev: ChildProcess | undefined;
  let log = "";
  const events = async () => (existsSync(log) ? parseXev(await readFile(log, "utf8")) : []);
  await waitFor(
    "xev's window taking keys",
    async () => {
      xev?.kill();
      log = join("/home", user, `xev-${randomBytes(3).toString("hex")}.log`);
      const { file, args } = inDesktop(user, `exec ${xevCommand(log)}`);
      xev = spawn(file, args, { stdio: "ignore" });
      xev.on("error", () => {}); // the probe below says whether it runs
      for (let i = 0; i < 10; i++) {
        await input.escape();
        await new Promise((r) => setTimeout(r, 300));
        if ((await events()).some((e) => e.keysym === "Escape")) return true;
      }
      return undefined;
    },
    30_000,
  );
  await new Promise((r) => setTimeout(r, 300)); // the probe's release too
  return { events, stop: () => xev?.kill() };
}
