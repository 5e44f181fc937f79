// While a viewer's or joiner's socket reconnects, the page asks the edge again every few seconds whether it may still
// be there (the session ended, the invitation was taken back, the right was lost): a room that is gone sends no close,
// so without asking the page would say "reconnecting" for ever.
import type { SocketState } from "./session-socket.ts";

export type Recheck = {
  /** The socket's new state: reconnecting (and not stopped) asks now and every `everyMs`; anything else stops asking. */
  follow(state: SocketState, stopped: boolean): void;
  dispose(): void;
};

export function recheckWhileReconnecting(ask: () => Promise<void>, everyMs: number): Recheck {
  let timer: ReturnType<typeof setInterval> | undefined;
  const stop = () => {
    clearInterval(timer);
    timer = undefined;
  };
  return {
    follow(state, stopped) {
      if (state !== "reconnecting" || stopped) return stop();
      void ask();
      timer ??= setInterval(() => void ask(), everyMs);
    },
    dispose: stop,
  };
}
