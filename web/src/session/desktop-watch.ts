// The live view of a desktop for admins (inside #/watch/<id>): guacamole-common-js renders the session's
// Guacamole stream, read-only. Nothing is sent: no keyboard or mouse is attached, and the tunnel's send
// drops everything, so no viewer input can reach the connector (the room drops viewer DATA as well).
// A viewer joins a running stream: the tunnel waits for the connector's repaint (`size`, then the whole
// screen), which the room asks for when a viewer joins or catches up. Test hook: #watch-desktop canvas.
import "./desktop.css";
import Guacamole from "guacamole-common-js";
import { mountDisplay } from "./guac-display.ts";
import { sessionTunnel } from "./guac-tunnel.ts";

/** What the watch page needs of its view (the terminal's or this desktop's). */
export interface WatchView {
  /** The size sent in the viewer's hello (the room ignores a viewer's size). */
  size(): { cols: number; rows: number };
  output(payload: Uint8Array, rendered: () => void): void;
  reset(): void;
  dispose(): void;
}

/** Renders the desktop into `host`; `broken` is called if the stream cannot be parsed. */
export function mountDesktopWatch(host: HTMLElement, broken: () => void): WatchView {
  const body = document.body;
  // Read-only: whatever the client library would send (sync replies, keep-alives) goes nowhere.
  const guac = sessionTunnel(() => {}, { fromSize: true });
  const client = new Guacamole.Client(guac.tunnel);
  const { scale: scaleToHost, dispose: unmount } = mountDisplay(client.getDisplay(), host, "watch-desktop-canvas");
  const observer = new ResizeObserver(scaleToHost);
  observer.observe(host);
  client.connect();

  let failed = false;
  return {
    size: () => ({ cols: 80, rows: 24 }),
    output(payload, rendered) {
      if (failed) return;
      try {
        guac.receive(payload);
        body.dataset.desktopFrames = String(guac.frames);
      } catch {
        failed = true;
        broken();
        return;
      }
      // Credit goes back as frames are handed to the display: that is how the room measures our lag.
      rendered();
    },
    reset: () => guac.reset(),
    dispose() {
      observer.disconnect();
      client.disconnect();
      unmount();
      delete body.dataset.desktopFrames;
    },
  };
}
