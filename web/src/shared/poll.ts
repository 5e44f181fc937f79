// A list re-read while its page is open (moderation, held commands): read now and again `everyMs` after each answer;
// redraw only when the answer changed, so a focused control keeps its focus; a failure is said in `message` until
// the next read succeeds.
import { errorText } from "./api.ts";
import type { Cleanup } from "./dom.ts";

export function poll<T>(opts: {
  read: () => Promise<T>;
  everyMs: number;
  show: (value: T) => void;
  message: HTMLElement;
}): Cleanup {
  let disposed = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let shown: string | undefined;
  const load = async () => {
    try {
      const value = await opts.read();
      if (disposed) return;
      opts.message.hidden = true;
      const key = JSON.stringify(value);
      if (key === shown) return;
      shown = key;
      opts.show(value);
    } catch (error) {
      if (disposed) return;
      opts.message.textContent = errorText(error);
      opts.message.hidden = false;
    } finally {
      if (!disposed) timer = setTimeout(() => void load(), opts.everyMs);
    }
  };
  void load();
  return () => {
    disposed = true;
    clearTimeout(timer);
  };
}
