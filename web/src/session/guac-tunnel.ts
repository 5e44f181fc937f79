// A Guacamole tunnel over the session socket: Guacamole instructions travel as the bytes of DATA
// frames (the room relays them as it relays terminal bytes, without looking inside). Frame
// acknowledgements and keep-alives are not sent: the connector acknowledges frames by output credit,
// and the socket has its own heartbeat.
import Guacamole from "guacamole-common-js";
import { encodeInstruction, GuacParser } from "../../../protocol/guacamole.ts";

/** Instructions the page never needs to send (see above). */
const NOT_SENT = new Set(["sync", "nop", "ack"]);

export interface SessionTunnel {
  tunnel: Guacamole.Tunnel;
  /** Output from the room, split anywhere. Throws on malformed input (the page then stops). */
  receive(bytes: Uint8Array): void;
  /** A new socket: the connector repaints everything, starting at an instruction boundary. */
  reset(): void;
  /** Frames (`sync` instructions) received so far. */
  frames: number;
}

/**
 * guacamole-common-js waits forever for an image that fails to decode, and its display then stops
 * drawing for good. A failed decode becomes an empty 1x1 image instead (and is counted), so one bad
 * region costs one region. Returns the function that restores the original.
 */
export function guardImageDecoding(onFailure: () => void): () => void {
  const original = window.createImageBitmap;
  const guarded = (...args: unknown[]) =>
    (original as (...a: unknown[]) => Promise<ImageBitmap>).apply(window, args).catch(() => {
      onFailure();
      return (original as (image: ImageData) => Promise<ImageBitmap>).call(window, new ImageData(1, 1));
    });
  window.createImageBitmap = guarded as typeof window.createImageBitmap;
  return () => {
    window.createImageBitmap = original;
  };
}

/**
 * `send` puts Guacamole text on the session socket. `fromSize`: a viewer joins a stream already
 * running, so everything up to the desktop's next `size` (the connector's repaint starts with one)
 * is dropped, after a reset too; that way no region of a half-seen image is drawn.
 */
export function sessionTunnel(send: (text: string) => void, { fromSize = false } = {}): SessionTunnel {
  // Guacamole.Tunnel assigns its methods in its constructor, so they are replaced on the instance.
  const tunnel = new Guacamole.Tunnel();
  let parser = new GuacParser();
  let decoder = new TextDecoder();
  let waiting = fromSize;
  tunnel.connect = () => tunnel.setState(Guacamole.Tunnel.State.OPEN);
  tunnel.disconnect = () => tunnel.setState(Guacamole.Tunnel.State.CLOSED);
  tunnel.sendMessage = (...elements: Array<string | number>) => {
    const [opcode, ...args] = elements;
    if (opcode === undefined || NOT_SENT.has(String(opcode))) return;
    send(encodeInstruction(String(opcode), ...args));
  };
  return {
    tunnel,
    frames: 0,
    receive(bytes) {
      for (const { opcode, args } of parser.push(decoder.decode(bytes, { stream: true }))) {
        if (waiting && !(opcode === "size" && args[0] === "0")) continue;
        waiting = false;
        if (opcode === "sync") this.frames++;
        tunnel.oninstruction?.(opcode, args);
      }
    },
    reset() {
      parser = new GuacParser();
      decoder = new TextDecoder();
      waiting = fromSize;
    },
  };
}
