// Keyboard layouts (issue 21, docs/rdp.md "Keyboard layouts"): for US, UK, German and French, a desktop opened
// with that layout gets it as its X keymap (xrdp picks the X layout by the RDP layout through its
// xrdp_keyboard.ini, copied into the test xrdp's own folder), and characters typed as the desktop page sends them
// (keysyms) arrive as themselves, read back with xev: the layout's own letters and symbols, z/y and a/q swapped
// where the layout swaps them, AltGr characters. A bridge that sent a key of another layout, or announced another
// layout, types other characters here. Then the whole path: the user picks German on the Account page in
// Chromium, and the desktop their next session opens has the German keymap and takes keys typed in the page.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { BrowserContext } from "playwright-core";
import { afterAll, beforeAll, expect, it } from "vitest";
import { rdpUnavailable } from "../../connector/rdp/engine.ts";
import type { KeyboardLayout } from "../../protocol/keyboard-layout.ts";
import { waitFor } from "../../scripts/stack/process.ts";
import { startXrdp, type Xrdp, xrdpMissing } from "../../scripts/stack/xrdp.ts";
import { chromiumMissing, launchChromium, signInPage } from "../support/browser.ts";
import { describeWithPeers } from "../support/peers.ts";
import { type RdpStack, rdpPeersMissing, startRdpStack } from "../support/rdp-stack.ts";
import {
  bridgeInput,
  type Desktop,
  desktopToolsMissing,
  desktopXLayout,
  openDesktop,
  startXev,
  typeText,
  type Xev,
} from "../support/rdp-desktop.ts";
import { createTargetUser, newCanary, removeTargetUser } from "../support/stack.ts";
import type { XKeyEvent } from "../support/xev.ts";

/** Keys that only change what the others type: left out of what arrived. */
const MODIFIERS = new Set(["Shift_L", "Shift_R", "ISO_Level3_Shift", "Alt_R", "Alt_L", "Control_L", "Control_R"]);

/** Text typed on each layout and the X keysym of each character, in order. */
type Case = { layout: KeyboardLayout; x: string; typed: [string, string][] };

const CASES: Case[] = [
  {
    layout: "en-us",
    x: "us",
    typed: [
      ["z", "z"],
      ["y", "y"],
      ["a", "a"],
      ["q", "q"],
      ["@", "at"],
      ['"', "quotedbl"],
      ["#", "numbersign"],
      ["~", "asciitilde"],
      ["`", "grave"],
      ["\\", "backslash"],
      ["|", "bar"],
      ["<", "less"],
      [";", "semicolon"],
      ["'", "apostrophe"],
      ["/", "slash"],
      ["[", "bracketleft"],
      ["}", "braceright"],
    ],
  },
  {
    layout: "en-gb",
    x: "gb",
    typed: [
      ["z", "z"],
      ["£", "sterling"],
      ["@", "at"],
      ['"', "quotedbl"],
      ["#", "numbersign"],
      ["~", "asciitilde"],
      ["\\", "backslash"],
      ["|", "bar"],
      ["¬", "notsign"],
      ["€", "EuroSign"],
      ["'", "apostrophe"],
      ["`", "grave"],
    ],
  },
  {
    layout: "de-de",
    x: "de",
    typed: [
      ["z", "z"],
      ["y", "y"],
      ["Z", "Z"],
      ["Y", "Y"],
      ["ß", "ssharp"],
      ["ä", "adiaeresis"],
      ["ö", "odiaeresis"],
      ["ü", "udiaeresis"],
      ["Ä", "Adiaeresis"],
      ["Ü", "Udiaeresis"],
      ["@", "at"],
      ["€", "EuroSign"],
      ["{", "braceleft"],
      ["[", "bracketleft"],
      ["]", "bracketright"],
      ["}", "braceright"],
      ["\\", "backslash"],
      ["~", "asciitilde"],
      ["|", "bar"],
      ["<", "less"],
      [">", "greater"],
      ["/", "slash"],
      ["?", "question"],
      ["°", "degree"],
      ["§", "section"],
      ["²", "twosuperior"],
      ["µ", "mu"],
      ["#", "numbersign"],
      ["'", "apostrophe"],
      ["-", "minus"],
      ["_", "underscore"],
    ],
  },
  {
    layout: "fr-fr",
    x: "fr",
    typed: [
      ["a", "a"],
      ["q", "q"],
      ["z", "z"],
      ["w", "w"],
      ["m", "m"],
      ["A", "A"],
      ["Q", "Q"],
      ["é", "eacute"],
      ["è", "egrave"],
      ["ç", "ccedilla"],
      ["à", "agrave"],
      ["ù", "ugrave"],
      ["1", "1"],
      ["2", "2"],
      ["0", "0"],
      ["&", "ampersand"],
      ['"', "quotedbl"],
      ["(", "parenleft"],
      ["-", "minus"],
      ["_", "underscore"],
      [")", "parenright"],
      ["=", "equal"],
      ["@", "at"],
      ["#", "numbersign"],
      ["{", "braceleft"],
      ["[", "bracketleft"],
      ["|", "bar"],
      ["\\", "backslash"],
      ["^", "asciicircum"],
      ["]", "bracketright"],
      ["}", "braceright"],
      ["€", "EuroSign"],
      ["£", "sterling"],
      ["$", "dollar"],
      ["*", "asterisk"],
      ["µ", "mu"],
      ["!", "exclam"],
      ["§", "section"],
      ["²", "twosuperior"],
      ["<", "less"],
      ["?", "question"],
      [".", "period"],
      ["/", "slash"],
      [";", "semicolon"],
      [":", "colon"],
    ],
  },
];

/** The characters that arrived: key presses other than modifiers. */
const arrived = (events: XKeyEvent[]) =>
  events.filter((e) => e.type === "press" && !MODIFIERS.has(e.keysym)).map((e) => e.keysym);

/** Keys pressed and not released (by keycode): a modifier the bridge left down would show here. */
function stillDown(events: XKeyEvent[]): number[] {
  const down = new Map<number, number>();
  for (const e of events) down.set(e.keycode, (down.get(e.keycode) ?? 0) + (e.type === "press" ? 1 : -1));
  return [...down].filter(([, n]) => n !== 0).map(([code]) => code);
}

/** Waits until `count` characters arrived after `before` events (or 10 s), then a little longer for extras. */
async function waitForTyped(xev: Xev, before: number, count: number): Promise<XKeyEvent[]> {
  await waitFor(
    "the typed characters in xev's log",
    async () => (arrived((await xev.events()).slice(before)).length >= count ? true : undefined),
    10_000,
  ).catch(() => {}); // the comparison says what is missing
  await new Promise((r) => setTimeout(r, 500));
  return (await xev.events()).slice(before);
}

describeWithPeers(
  "each keyboard layout types its own characters into an xrdp desktop",
  xrdpMissing() ?? rdpUnavailable() ?? desktopToolsMissing(),
  () => {
    let dir: string;
    let xrdp: Xrdp;
    let canary: string;
    const users: string[] = [];
    const desktops: Desktop[] = [];

    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), "psm-rdp-layouts-"));
      canary = newCanary();
      xrdp = await startXrdp({ dir: join(dir, "xrdp") });
    }, 60_000);

    afterAll(async () => {
      await Promise.all(desktops.map((d) => d.close()));
      for (const user of users) removeTargetUser(user);
      await xrdp?.stop();
      await rm(dir, { recursive: true, force: true });
    });

    it.each(CASES)(
      "$layout: the desktop gets the $x keymap and every character arrives as itself",
      async (c) => {
        // A user of its own per layout: xrdp would reattach a user's earlier session, keymap and all.
        const user = createTargetUser(canary);
        users.push(user);
        const desktop = await openDesktop(xrdp, { user, password: canary, keyboardLayout: c.layout });
        desktops.push(desktop);
        const xev = await startXev(bridgeInput(desktop), user);
        expect(desktopXLayout(user)).toBe(c.x);

        const before = (await xev.events()).length;
        desktop.send(typeText(c.typed.map(([ch]) => ch).join("")));
        const seen = await waitForTyped(xev, before, c.typed.length);
        xev.stop();
        await desktop.close();
        expect(arrived(seen)).toEqual(c.typed.map(([, x]) => x));
        expect(stillDown(seen)).toEqual([]);
      },
      60_000,
    );
  },
);

describeWithPeers(
  "the layout picked on the Account page reaches the desktop through edge, connector and bridge",
  rdpPeersMissing() ?? chromiumMissing() ?? desktopToolsMissing(),
  () => {
    let rdp: RdpStack;
    let browser: BrowserContext;

    beforeAll(async () => {
      [rdp, browser] = await Promise.all([startRdpStack(), launchChromium()]);
    });
    afterAll(async () => {
      await browser?.close();
      await rdp?.stop();
    });

    it("a German choice gives the next desktop the German keymap, and keys typed in the page arrive as typed", async () => {
      const page = await browser.newPage();
      await signInPage(page, rdp.stack.edge.url, "alice", "alice-password-1");
      await page.goto(`${rdp.stack.edge.url}/#/account`);
      const select = page.locator("#keyboard-layout");
      await expect.poll(() => select.inputValue(), { timeout: 15_000 }).toBe("en-us");
      await select.selectOption("de-de");
      await page.waitForSelector('#keyboard-layout-status[data-tone="ok"]', { timeout: 15_000 });

      const { id } = await rdp.stack.user.openSession(rdp.serverId, rdp.credentialId);
      await page.goto(`${rdp.stack.edge.url}/#/sessions/${id}`);
      await page.waitForSelector('body[data-session-state="connected"]', { timeout: 60_000 });
      const canvas = page.locator("#desktop-canvas");
      await page.waitForFunction(() => Number(document.body.dataset.desktopFrames ?? 0) > 0, null, { timeout: 60_000 });
      const at = async () => {
        const box = (await canvas.boundingBox())!;
        const scale = box.width / (await canvas.evaluate((c: HTMLCanvasElement) => c.width));
        return { x: box.x + 100 * scale, y: box.y + 100 * scale };
      };
      const xev = await startXev(
        {
          point: async () => {
            const { x, y } = await at();
            await page.mouse.click(x, y);
          },
          escape: () => page.keyboard.press("Escape"),
        },
        rdp.stack.targetUser,
      );
      expect(desktopXLayout(rdp.stack.targetUser)).toBe("de");

      // Typed on the page (Playwright's keyboard is a US one): `z` and `y` are the German Z and Y keys, `@` (Shift+2
      // here) is AltGr+Q there, `/` is Shift+7, `-` the key right of the period.
      const before = (await xev.events()).length;
      await page.keyboard.type("zy@/-", { delay: 30 });
      const seen = await waitForTyped(xev, before, 5);
      xev.stop();
      expect(arrived(seen)).toEqual(["z", "y", "at", "slash", "minus"]);
      expect(stillDown(seen)).toEqual([]);
    }, 180_000);
  },
);
