// What a browser sends toward the RDP bridge, checked before any of it is written to the bridge's
// stdin: Guacamole framing (split anywhere), only what a browser may send (classifyBrowserInstruction:
// clipboard blobs must be non-empty, well-formed base64), and paste streams: the policy, the size cap,
// and a blob or end only for a stream the browser opened. A pure core of RdpStream; the bridge checks
// all of it again (connector/rdp/bridge/clipboard.c), so either layer alone holds.
import {
  classifyBrowserInstruction,
  encodeInstruction,
  type GuacInstruction,
  GuacParser,
} from "../../protocol/guacamole.ts";

export type PastePolicy = { paste: boolean; maxBytes: number };

/**
 * Clipboard streams a browser may have open at once (guacamole-common-js opens one per paste and
 * ends it at once); opening more is a protocol error, so the map below stays this small.
 */
export const MAX_OPEN_PASTE_STREAMS = 8;

/** Decoded bytes of well-formed base64 (classifyBrowserInstruction checked it): 3 per 4, less padding. */
function decodedBytes(base64: string): number {
  const padding = base64.endsWith("==") ? 2 : base64.endsWith("=") ? 1 : 0;
  return (base64.length / 4) * 3 - padding;
}

export class BrowserInput {
  private readonly parser = new GuacParser();
  private readonly decoder = new TextDecoder();
  /** Open clipboard streams by index: decoded bytes forwarded so far, or "dropped" (policy or cap). */
  private readonly streams = new Map<string, number | "dropped">();
  /** The browser broke the rules once: nothing more of it is forwarded while the session ends. */
  private refused = false;

  constructor(private readonly policy: PastePolicy) {}

  /**
   * Takes browser bytes (split anywhere) and returns the text to write to the bridge ("" for
   * nothing yet), or undefined when the browser broke the rules: the session then ends, and nothing
   * of this push, nor of any later one, reaches the bridge.
   */
  push(data: Uint8Array): string | undefined {
    if (this.refused) return undefined;
    const out = this.check(data);
    if (out === undefined) this.refused = true;
    return out;
  }

  private check(data: Uint8Array): string | undefined {
    let instructions: GuacInstruction[];
    try {
      instructions = this.parser.push(this.decoder.decode(data, { stream: true }));
    } catch {
      return undefined;
    }
    let out = "";
    for (const ins of instructions) {
      const verdict = classifyBrowserInstruction(ins);
      if (verdict === "reject") return undefined;
      if (verdict === "drop") continue;
      const paste = this.pasteVerdict(ins);
      if (paste === "reject") return undefined;
      if (paste === "forward") out += encodeInstruction(ins.opcode, ...ins.args);
    }
    return out;
  }

  private pasteVerdict(ins: GuacInstruction): "forward" | "drop" | "reject" {
    const stream = ins.args[0]!;
    const state = this.streams.get(stream);
    switch (ins.opcode) {
      case "clipboard": {
        if (state === undefined && this.streams.size >= MAX_OPEN_PASTE_STREAMS) return "reject";
        const allowed = this.policy.paste && ins.args[1] === "text/plain";
        this.streams.set(stream, allowed ? 0 : "dropped");
        return allowed ? "forward" : "drop";
      }
      case "blob": {
        if (state === undefined) return "reject"; // no such stream: not something a page sends
        if (state === "dropped") return "drop";
        const next = state + decodedBytes(ins.args[1]!);
        if (next > this.policy.maxBytes) {
          // Over the cap: the rest of the stream, its end included, stays here; the bridge never
          // offers the part it got (it offers text only at `end`) and drops it at the next paste.
          this.streams.set(stream, "dropped");
          return "drop";
        }
        this.streams.set(stream, next);
        return "forward";
      }
      case "end":
        if (state === undefined) return "reject";
        this.streams.delete(stream);
        return state === "dropped" ? "drop" : "forward";
      default:
        return "forward";
    }
  }
}
