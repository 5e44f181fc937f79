// A shared session's bar words: who else writes (never oneself), who is typing, and for how long after the room's
// last `typing` the name stays up.
import { describe, expect, it } from "vitest";
import { others, participantsText, TYPING_SHOWN_MS, TypingClock, typingText } from "./session-presence.ts";

const state = (user: string, writers: string[]) => ({ type: "participants" as const, user, writers });

describe("shared session presence", () => {
  it("names the others who write: the session's user to a joiner, the joiners to the user", () => {
    expect(participantsText(state("alice", ["bob"]), "alice")).toBe("Typing with: bob");
    expect(participantsText(state("alice", ["bob", "carol"]), "bob")).toBe("Typing with: alice, carol");
    expect(participantsText(state("alice", []), "alice")).toBeNull();
    expect(others(state("alice", ["alice", "bob"]), "carol")).toEqual(["alice", "bob"]);
  });

  it("says who is typing in words", () => {
    expect(typingText([])).toBeNull();
    expect(typingText(["bob"])).toBe("bob is typing");
    expect(typingText(["bob", "carol"])).toBe("bob and carol are typing");
    expect(typingText(["bob", "carol", "dan"])).toBe("bob, carol and dan are typing");
  });

  it("shows a name until TYPING_SHOWN_MS after the room last said it, each name on its own clock", () => {
    const clock = new TypingClock();
    expect(clock.nextChange()).toBeNull();
    clock.seen("bob", 1_000);
    clock.seen("carol", 2_000);
    expect(clock.typing(2_500)).toEqual(["bob", "carol"]);
    expect(clock.nextChange()).toBe(1_000 + TYPING_SHOWN_MS);
    // The room repeats bob at most once a second while he goes on: he stays.
    clock.seen("bob", 3_500);
    expect(clock.typing(1_000 + TYPING_SHOWN_MS)).toEqual(["bob", "carol"]);
    expect(clock.typing(2_000 + TYPING_SHOWN_MS)).toEqual(["bob"]);
    expect(clock.typing(3_500 + TYPING_SHOWN_MS)).toEqual([]);
    expect(clock.nextChange()).toBeNull();
  });
});
