// Every key of a full keyboard, typed through the RDP bridge into a real xrdp desktop and read back
// from the X server: `xev` runs in the desktop's session and logs each key event with its keysym, so
// a key the bridge drops or sends as the wrong scancode (issue 21: the E0-prefixed keys) fails here.
// Keys go in as the desktop page sends them (`key,<keysym>,1` then `key,<keysym>,0`), then the page's
// Ctrl-Alt-Del and Windows-key buttons (web/src/session/desktop-page.ts).
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { rdpUnavailable } from "../../connector/rdp/engine.ts";
import { waitFor } from "../../scripts/stack/process.ts";
import { startXrdp, type Xrdp, xrdpMissing } from "../../scripts/stack/xrdp.ts";
import { describeWithPeers } from "../support/peers.ts";
import {
  bridgeInput,
  type Desktop,
  desktopToolsMissing,
  keyText,
  openDesktop,
  startXev,
  tap,
} from "../support/rdp-desktop.ts";
import { createTargetUser, newCanary, removeTargetUser } from "../support/stack.ts";

/**
 * A 105-key keyboard as the browser reports it (keysym) and the X keysym name the desktop must see.
 * Lock keys are pressed twice, so the state they toggle is back where it was for the keys after
 * them. The keypad's names depend on NumLock (`numLockOn`).
 */
type Key = { name: string; keysym: number; x: string | ((numLockOn: boolean) => string); times?: number };

const kp = (on: string, off: string) => (numLockOn: boolean) => (numLockOn ? on : off);

const ascii = (chars: string): Key[] =>
  [...chars].map((c) => ({ name: c, keysym: c.codePointAt(0)!, x: X_NAMES[c] ?? c }));

const X_NAMES: Record<string, string> = {
  "`": "grave",
  "-": "minus",
  "=": "equal",
  "[": "bracketleft",
  "]": "bracketright",
  "\\": "backslash",
  ";": "semicolon",
  "'": "apostrophe",
  ",": "comma",
  ".": "period",
  "/": "slash",
  " ": "space",
};

const KEYBOARD: Key[] = [
  { name: "Escape", keysym: 0xff1b, x: "Escape" },
  ...Array.from({ length: 12 }, (_, i) => ({ name: `F${i + 1}`, keysym: 0xffbe + i, x: `F${i + 1}` })),
  { name: "Print Screen", keysym: 0xff61, x: "Print" },
  { name: "Scroll Lock", keysym: 0xff14, x: "Scroll_Lock", times: 2 },
  { name: "Pause", keysym: 0xff13, x: "Pause" },
  ...ascii("`1234567890-="),
  { name: "Backspace", keysym: 0xff08, x: "BackSpace" },
  { name: "Tab", keysym: 0xff09, x: "Tab" },
  ...ascii("qwertyuiop[]\\"),
  { name: "Caps Lock", keysym: 0xffe5, x: "Caps_Lock", times: 2 },
  ...ascii("asdfghjkl;'"),
  { name: "Enter", keysym: 0xff0d, x: "Return" },
  { name: "Left Shift", keysym: 0xffe1, x: "Shift_L" },
  ...ascii("zxcvbnm,./"),
  { name: "Right Shift", keysym: 0xffe2, x: "Shift_R" },
  { name: "Left Ctrl", keysym: 0xffe3, x: "Control_L" },
  { name: "Left Windows", keysym: 0xffe7, x: "Super_L" },
  { name: "Left Alt", keysym: 0xffe9, x: "Alt_L" },
  ...ascii(" "),
  { name: "AltGr", keysym: 0xfe03, x: "Alt_R" },
  { name: "Right Windows", keysym: 0xffe8, x: "Super_R" },
  { name: "Menu", keysym: 0xff67, x: "Menu" },
  { name: "Right Ctrl", keysym: 0xffe4, x: "Control_R" },
  { name: "Insert", keysym: 0xff63, x: "Insert" },
  { name: "Home", keysym: 0xff50, x: "Home" },
  { name: "Page Up", keysym: 0xff55, x: "Prior" },
  { name: "Delete", keysym: 0xffff, x: "Delete" },
  { name: "End", keysym: 0xff57, x: "End" },
  { name: "Page Down", keysym: 0xff56, x: "Next" },
  { name: "Up", keysym: 0xff52, x: "Up" },
  { name: "Left", keysym: 0xff51, x: "Left" },
  { name: "Down", keysym: 0xff54, x: "Down" },
  { name: "Right", keysym: 0xff53, x: "Right" },
  { name: "Num Lock", keysym: 0xff7f, x: "Num_Lock", times: 2 },
  { name: "KP /", keysym: 0xffaf, x: "KP_Divide" },
  { name: "KP *", keysym: 0xffaa, x: "KP_Multiply" },
  { name: "KP -", keysym: 0xffad, x: "KP_Subtract" },
  { name: "KP 7", keysym: 0xffb7, x: kp("KP_7", "KP_Home") },
  { name: "KP 8", keysym: 0xffb8, x: kp("KP_8", "KP_Up") },
  { name: "KP 9", keysym: 0xffb9, x: kp("KP_9", "KP_Prior") },
  { name: "KP +", keysym: 0xffab, x: "KP_Add" },
  { name: "KP 4", keysym: 0xffb4, x: kp("KP_4", "KP_Left") },
  { name: "KP 5", keysym: 0xffb5, x: kp("KP_5", "KP_Begin") },
  { name: "KP 6", keysym: 0xffb6, x: kp("KP_6", "KP_Right") },
  { name: "KP 1", keysym: 0xffb1, x: kp("KP_1", "KP_End") },
  { name: "KP 2", keysym: 0xffb2, x: kp("KP_2", "KP_Down") },
  { name: "KP 3", keysym: 0xffb3, x: kp("KP_3", "KP_Next") },
  { name: "KP Enter", keysym: 0xff8d, x: "KP_Enter" },
  { name: "KP 0", keysym: 0xffb0, x: kp("KP_0", "KP_Insert") },
  { name: "KP .", keysym: 0xffae, x: kp("KP_Decimal", "KP_Delete") },
];

/** Key events as `press <keysym name>` / `release <keysym name>`. */
type Typed = { got: string[]; numLockOn: boolean };

describeWithPeers(
  "every key of a full keyboard reaches an xrdp desktop",
  xrdpMissing() ?? rdpUnavailable() ?? desktopToolsMissing(),
  () => {
    let dir: string;
    let fastPath: Xrdp;
    let slowPath: Xrdp;
    let user: string;
    let canary: string;
    const desktops: Desktop[] = [];

    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), "psm-rdp-keys-"));
      canary = newCanary();
      user = createTargetUser(canary);
      [fastPath, slowPath] = await Promise.all([
        startXrdp({ dir: join(dir, "xrdp-fast") }),
        startXrdp({ dir: join(dir, "xrdp-slow"), slowPathInput: true }),
      ]);
    }, 60_000);

    afterAll(async () => {
      await Promise.all(desktops.map((d) => d.close()));
      if (user) removeTargetUser(user);
      await Promise.all([fastPath?.stop(), slowPath?.stop()]);
      await rm(dir, { recursive: true, force: true });
    });

    /** Logs on, starts xev in the desktop, types the keyboard and the page's buttons, returns what X saw. */
    async function typeKeyboard(xrdp: Xrdp): Promise<Typed> {
      const desktop = await openDesktop(xrdp, { user, password: canary });
      desktops.push(desktop);
      const xev = await startXev(bridgeInput(desktop), user);
      const before = (await xev.events()).length;

      let input = "";
      for (const key of KEYBOARD) for (let i = 0; i < (key.times ?? 1); i++) input += tap(key.keysym);
      // The ISO key left of Z types `<` on DE/FR layouts; the browser sends the character, which
      // goes as Shift + the US comma key (Shift is let go before the key, as the bridge does).
      input += tap(0x3c);
      // The desktop page's buttons: Ctrl-Alt-Del (all down, then up in reverse) and the Windows key.
      input += keyText(0xffe3, true) + keyText(0xffe9, true) + keyText(0xffff, true);
      input += keyText(0xffff, false) + keyText(0xffe9, false) + keyText(0xffe3, false);
      input += tap(0xffeb);
      desktop.send(input);

      const wanted = expected(false, []).length;
      await waitFor(
        "every key event in xev's log",
        async () => ((await xev.events()).length - before >= wanted ? true : undefined),
        10_000,
      ).catch(() => {}); // the comparison below says which keys are missing
      await new Promise((r) => setTimeout(r, 500)); // anything extra arrives too
      const seen = (await xev.events()).slice(before);
      xev.stop();
      await desktop.close();
      // NumLock as the keypad keys saw it (Mod2), so the keypad's names are exact either way.
      const keypad = seen.find((e) => e.keysym.startsWith("KP_") && e.keysym !== "KP_Enter");
      return { got: seen.map((e) => `${e.type} ${e.keysym}`), numLockOn: ((keypad?.state ?? 0) & 0x10) !== 0 };
    }

    /** What X must see: each key pressed and released, with `pause` for the Pause key. */
    function expected(numLockOn: boolean, pause: string[]): string[] {
      const out: string[] = [];
      for (const key of KEYBOARD)
        for (let i = 0; i < (key.times ?? 1); i++) {
          if (key.keysym === 0xff13) {
            out.push(...pause);
            continue;
          }
          const name = typeof key.x === "string" ? key.x : key.x(numLockOn);
          out.push(`press ${name}`, `release ${name}`);
        }
      out.push("press Shift_L", "press less", "release Shift_L", "release comma");
      out.push("press Control_L", "press Alt_L", "press Delete", "release Delete", "release Alt_L");
      out.push("release Control_L", "press Super_L", "release Super_L");
      return out;
    }

    const PAUSE = ["press Pause", "release Pause"];

    it("over slow-path input: every key, Pause included, arrives as itself", async () => {
      const { got, numLockOn } = await typeKeyboard(slowPath);
      expect(got).toEqual(expected(numLockOn, PAUSE));
    }, 60_000);

    it("over fast-path input (xrdp's default): every key arrives as itself, Pause as xrdp reads it", async () => {
      const { got, numLockOn } = await typeKeyboard(fastPath);
      // xrdp up to 0.10.1 (Debian 12: 0.9.21) drops the E1 prefix of fast-path key events, so it
      // reads the Pause sequence as Ctrl + NumLock, which its keyboard turns into Control_L and Break
      // (and Break is never released). Its development branch keeps the prefix (commit ef14039c);
      // the slow-path test above holds the bridge to the real sequence either way.
      const XRDP_PAUSE_WITHOUT_E1 = ["press Control_L", "press Break", "release Control_L"];
      const pause = got.includes("press Pause") ? PAUSE : XRDP_PAUSE_WITHOUT_E1;
      expect(got).toEqual(expected(numLockOn, pause));
    }, 60_000);
  },
);
