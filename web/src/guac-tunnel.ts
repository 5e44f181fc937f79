// A Guacamole tunnel over the session socket: Guacamole instructions travel as the bytes of DATA
// frames (the room relays them as it relays terminal bytes, without looking inside). Frame
// acknowledgements and keep-alives are not sent: the connector acknowledges frames by output credit,
// and the socket has its own heartbeat.
import Guacamole from "guacamole-common-js";
import { encodeInstruction, GuacParser } from "../../protocol/guacamole.ts";

/** Instructions the page never needs to send (see above). */
const NOT_SENT = new Set(["sync", "nop", "ack"]);

export interface SessionTunnel {
  tunnel: Guacamole.Tunnel;
  /** Output from the room, split anywhere. Throws on malformed input (the page then stops). */
  receive(bytes: Uint8Array): void;
  /** A new socket: the connector repaints everything, starting at an instruction boundary. */
  reset(): void;
}

/** `send` puts Guacamole text on the session socket. */
export function sessionTunnel(send: (text: string) => void): SessionTunnel {
  // Guacamole.Tunnel assigns its methods in its constructor, so they are replaced on the instance.
  const tunnel = new Guacamole.Tunnel();
  let parser = new GuacParser();
  let decoder = new TextDecoder();
  tunnel.connect = () => tunnel.setState(Guacamole.Tunnel.State.OPEN);
  tunnel.disconnect = () => tunnel.setState(Guacamole.Tunnel.State.CLOSED);
  tunnel.sendMessage = (...elements: Array<string | number>) => {
    const [opcode, ...args] = elements;
    if (opcode === undefined || NOT_SENT.has(String(opcode))) return;
    send(encodeInstruction(String(opcode), ...args));
  };
  return {
    tunnel,
    receive(bytes) {
      for (const { opcode, args } of parser.push(decoder.decode(bytes, { stream: true })))
        tunnel.oninstruction?.(opcode, args);
    },
    reset() {
      parser = new GuacParser();
      decoder = new TextDecoder();
    },
  };
}
