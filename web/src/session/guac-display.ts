// A Guacamole display in the page (the desktop page's, the live view's, a replay's): mounted into a
// host element, scaled to fit it, with the desktop's size and image decode failures exposed on <body>
// for the tests (data-desktop-size, data-desktop-decode-failures).
import type Guacamole from "guacamole-common-js";
import { guardImageDecoding } from "./guac-tunnel.ts";

export type MountedDisplay = {
  /** Scales the desktop to the host's current size (call when the host is resized). */
  scale: () => void;
  /** Restores image decoding and removes the body's data attributes. */
  dispose: () => void;
};

export function mountDisplay(display: Guacamole.Display, host: HTMLElement, canvasId: string): MountedDisplay {
  const body = document.body;
  let decodeFailures = 0;
  const unguard = guardImageDecoding(() => {
    body.dataset.desktopDecodeFailures = String(++decodeFailures);
  });
  display.getDefaultLayer().getCanvas().id = canvasId;
  host.append(display.getElement());
  const scale = () => {
    const w = display.getWidth();
    const h = display.getHeight();
    if (!w || !h || !host.clientWidth) return;
    // A host without a height of its own (a replay in the page's flow) scales by its width alone.
    display.scale(Math.min(host.clientWidth / w, (host.clientHeight || h) / h));
  };
  display.onresize = () => {
    body.dataset.desktopSize = `${display.getWidth()}x${display.getHeight()}`;
    scale();
  };
  return {
    scale,
    dispose() {
      unguard();
      delete body.dataset.desktopSize;
      delete body.dataset.desktopDecodeFailures;
    },
  };
}
