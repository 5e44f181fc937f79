// The user's pointer, for desktop viewers (pure): the server-to-client stream carries the cursor's
// image but not where it is (the user's browser draws its own pointer), so viewers would see the
// desktop change without seeing the pointer move. This picks the user's latest `mouse` position out
// of their input and makes it a `mouse` instruction, which guacamole-common-js shows as the cursor
// (as guacd does for other users of a shared connection). Buttons are not passed on.
import { encodeInstruction, GuacParser } from "../protocol/guacamole.ts";

export class PointerRelay {
  private parser = new GuacParser();
  private decoder = new TextDecoder();

  /** Input bytes from the user (split anywhere); the instruction for viewers, or null when the pointer did not move. */
  push(bytes: Uint8Array): Uint8Array | null {
    let last: [string, string] | null = null;
    try {
      for (const { opcode, args } of this.parser.push(this.decoder.decode(bytes, { stream: true })))
        if (opcode === "mouse" && /^\d{1,5}$/.test(args[0] ?? "") && /^\d{1,5}$/.test(args[1] ?? ""))
          last = [args[0]!, args[1]!];
    } catch {
      // Malformed input (the connector ends such a session); start over with the next frame.
      this.parser = new GuacParser();
      this.decoder = new TextDecoder();
      return null;
    }
    return last ? new TextEncoder().encode(encodeInstruction("mouse", last[0], last[1])) : null;
  }
}
