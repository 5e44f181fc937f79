// Who else types in a shared session (docs/governance.md "Shared sessions"), in the terminal bar of everyone in it:
// "Typing with: bob" from the room's `participants`, and "bob is typing" for a few seconds after each `typing`.
// The words and the clock are pure (tested in session-presence.test.ts); `Presence` puts them in the bar.
// Test hooks: #session-participants, #session-typing.
import type { Participants } from "../../../protocol/index.ts";
import { h } from "../shared/dom.ts";

/** "bob is typing" stays this long (ms) after the room last said so; the room repeats it at most once a second. */
export const TYPING_SHOWN_MS = 3_000;

/** The people besides `self` whose keys reach the target: the session's user first, then the invited writers. */
export function others(state: Participants, self: string): string[] {
  return [state.user, ...state.writers].filter((name, i, all) => name !== self && all.indexOf(name) === i);
}

/** "Typing with: alice, bob", or null when nobody else writes. */
export function participantsText(state: Participants, self: string): string | null {
  const names = others(state, self);
  return names.length ? `Typing with: ${names.join(", ")}` : null;
}

/** "bob is typing", "bob and carol are typing", "bob, carol and dan are typing", or null. */
export function typingText(names: readonly string[]): string | null {
  if (names.length === 0) return null;
  const list = names.length === 1 ? names[0]! : `${names.slice(0, -1).join(", ")} and ${names.at(-1)}`;
  return `${list} ${names.length === 1 ? "is" : "are"} typing`;
}

/** Who typed in the last TYPING_SHOWN_MS, from the room's `typing` messages (times in ms; no timers here). */
export class TypingClock {
  private readonly last = new Map<string, number>();

  seen(name: string, now: number): void {
    this.last.set(name, now);
  }

  /** The people typing at `now`, in the order they started. */
  typing(now: number): string[] {
    for (const [name, at] of this.last) if (now - at >= TYPING_SHOWN_MS) this.last.delete(name);
    return [...this.last.keys()];
  }

  /** When the shown names next change on their own (ms), or null when nobody is shown. */
  nextChange(): number | null {
    const times = [...this.last.values()];
    return times.length ? Math.min(...times) + TYPING_SHOWN_MS : null;
  }
}

/**
 * The two notices in the bar. `self`: the signed-in person (their own typing is not announced to them); on the
 * session user's own page it is the session's user, which every `participants` message names.
 */
export class Presence {
  readonly participants = h("span", { id: "session-participants", class: "session-participants", hidden: true });
  readonly typingNotice = h("span", {
    id: "session-typing",
    class: "session-typing",
    role: "status",
    "aria-live": "polite",
    hidden: true,
  });
  private readonly clock = new TypingClock();
  private timer: ReturnType<typeof setTimeout> | undefined;

  constructor(private self: string | null) {}

  /** The room said who writes now. */
  setParticipants(state: Participants): void {
    this.self ??= state.user;
    const text = participantsText(state, this.self);
    this.participants.textContent = text ?? "";
    this.participants.hidden = text === null;
    this.participants.dataset.writers = state.writers.join(" ");
  }

  /** The room said `name`'s input reached the target. */
  typed(name: string): void {
    if (name === this.self) return;
    this.clock.seen(name, Date.now());
    this.redraw();
  }

  /** The session ended for this page: nobody is typing any more. */
  clear(): void {
    clearTimeout(this.timer);
    this.clock.typing(Number.POSITIVE_INFINITY);
    this.redraw();
  }

  dispose(): void {
    clearTimeout(this.timer);
  }

  private redraw(): void {
    const now = Date.now();
    const text = typingText(this.clock.typing(now));
    // Set only when it changes: a live region re-announces on every write.
    if (this.typingNotice.textContent !== (text ?? "")) this.typingNotice.textContent = text ?? "";
    this.typingNotice.hidden = text === null;
    clearTimeout(this.timer);
    const next = this.clock.nextChange();
    if (next !== null) this.timer = setTimeout(() => this.redraw(), Math.max(0, next - now));
  }
}
