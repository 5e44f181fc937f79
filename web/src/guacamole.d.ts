// The parts of guacamole-common-js 1.5.0 (a community ES-module republish of Apache Guacamole's
// client, which ships no types) that the desktop page uses.
declare module "guacamole-common-js" {
  namespace Guacamole {
    class Tunnel {
      state: number;
      connect(data?: string): void;
      disconnect(): void;
      sendMessage(...elements: Array<string | number>): void;
      setState(state: number): void;
      oninstruction: ((opcode: string, args: string[]) => void) | null;
      onstatechange: ((state: number) => void) | null;
      static State: { CONNECTING: number; OPEN: number; CLOSED: number; UNSTABLE: number };
    }
    class Layer {
      getCanvas(): HTMLCanvasElement;
    }
    class Display {
      getElement(): HTMLElement;
      getWidth(): number;
      getHeight(): number;
      getScale(): number;
      scale(scale: number): void;
      getDefaultLayer(): Layer;
      showCursor(shown: boolean): void;
      onresize: ((width: number, height: number) => void) | null;
      /** A new canvas with every layer composited (the video export's frames). */
      flatten(): HTMLCanvasElement;
      /** Calls `callback` once every drawing operation queued so far is done (images decode asynchronously). */
      flush(callback?: () => void): void;
    }
    class InputStream {
      index: number;
    }
    class OutputStream {
      index: number;
    }
    class StringReader {
      constructor(stream: InputStream);
      ontext: ((text: string) => void) | null;
      onend: (() => void) | null;
    }
    class StringWriter {
      constructor(stream: OutputStream);
      sendText(text: string): void;
      sendEnd(): void;
    }
    class Status {
      code: number;
      message: string;
    }
    class Client {
      constructor(tunnel: Tunnel);
      connect(data?: string): void;
      disconnect(): void;
      getDisplay(): Display;
      sendKeyEvent(pressed: 0 | 1 | boolean, keysym: number): void;
      sendMouseState(state: Mouse.State, applyDisplayScale?: boolean): void;
      sendSize(width: number, height: number): void;
      createClipboardStream(mimetype: string): OutputStream;
      onclipboard: ((stream: InputStream, mimetype: string) => void) | null;
      onerror: ((status: Status) => void) | null;
      onstatechange: ((state: number) => void) | null;
    }
    class Mouse {
      constructor(element: Element);
      onEach(types: string[], listener: (event: { state: Mouse.State }) => void): void;
    }
    namespace Mouse {
      class State {}
    }
    /** Plays a `.guac` recording (from a Blob) on its own Guacamole.Client; no speed control of its own. */
    class SessionRecording {
      constructor(source: Blob | Tunnel);
      getDisplay(): Display;
      isPlaying(): boolean;
      /** ms since the first frame. */
      getPosition(): number;
      getDuration(): number;
      play(): void;
      pause(): void;
      seek(position: number, callback?: () => void): void;
      cancel(): void;
      abort(): void;
      connect(data?: string): void;
      disconnect(): void;
      onload: (() => void) | null;
      onerror: ((message: string) => void) | null;
      onprogress: ((duration: number, parsedSize: number) => void) | null;
      onplay: (() => void) | null;
      onpause: (() => void) | null;
      onseek: ((position: number, current: number, total: number) => void) | null;
    }
    class Keyboard {
      constructor(element?: Element | Document);
      onkeydown: ((keysym: number) => boolean | undefined) | null;
      onkeyup: ((keysym: number) => void) | null;
      reset(): void;
    }
  }
  export default Guacamole;
}
