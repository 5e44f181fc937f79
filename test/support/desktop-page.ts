// The desktop page in Chromium, for tests that drive it: waiting until the page's canvas shows the test desktop.
import type { Page } from "playwright-core";
import { DESKTOP_BACKGROUND } from "../../scripts/stack/xrdp.ts";

/**
 * Waits until the page's canvas shows the X root window's known colour inside the desktop. With `resized`, the
 * desktop must first have the size the page asks for (its window's; the bridge sends that request 3 s after
 * connecting, and the resized screen is black until the server repaints it, which takes seconds on a loaded machine).
 */
export async function waitForBackground(
  page: Page,
  logs: () => Promise<string>,
  { resized = false }: { resized?: boolean } = {},
): Promise<void> {
  await page
    .waitForFunction(
      ({ r, g, b, resized }) => {
        const canvas = document.getElementById("desktop-canvas") as HTMLCanvasElement | null;
        // The layer's canvas may be larger than the desktop: read inside the desktop's own size.
        const [w, h] = (document.body.dataset.desktopSize ?? "0x0").split("x").map(Number);
        if (!canvas || !w || !h || w < 100) return false;
        const host = document.getElementById("desktop");
        // The page asks for its window's size, the width made even (desktop-page.ts, the bridge's input.c).
        if (resized && (!host || w !== (Math.floor(host.clientWidth) & ~1) || h !== Math.floor(host.clientHeight)))
          return false;
        const [pr, pg, pb] = canvas.getContext("2d")!.getImageData(w - 10, h - 10, 1, 1).data;
        return Math.abs(pr! - r) + Math.abs(pg! - g) + Math.abs(pb! - b) < 30; // lossy (WebP) regions shift colours slightly
      },
      { ...DESKTOP_BACKGROUND, resized },
      { timeout: 60_000, polling: 100 },
    )
    .catch(async (err) => {
      // Say what the canvas showed instead, for whoever reads a failure.
      const seen = await page.evaluate(() => {
        const canvas = document.getElementById("desktop-canvas") as HTMLCanvasElement | null;
        const [w, h] = (document.body.dataset.desktopSize ?? "0x0").split("x").map(Number);
        const at = (x: number, y: number) =>
          canvas ? Array.from(canvas.getContext("2d")!.getImageData(x, y, 1, 1).data) : null;
        return JSON.stringify({
          frames: document.body.dataset.desktopFrames,
          decodeFailures: document.body.dataset.desktopDecodeFailures,
          state: document.body.dataset.sessionState,
          endReason: document.body.dataset.endReason,
          closeCode: document.body.dataset.closeCode,
          size: document.body.dataset.desktopSize,
          window: [document.getElementById("desktop")?.clientWidth, document.getElementById("desktop")?.clientHeight],
          canvas: [canvas?.width, canvas?.height],
          corner: at(w! - 10, h! - 10),
          mid: at(w! / 2, h! / 2),
          origin: at(5, 5),
        });
      });
      const events = (await logs())
        .split("\n")
        .filter((l) => /"event":"(session|rdp)\./.test(l))
        .slice(-15)
        .join("\n");
      throw new Error(`${(err as Error).message}; canvas: ${seen}; connector:\n${events}`);
    });
}
