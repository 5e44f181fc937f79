import { describe, expect, it } from "vitest";
import { PasswdDialogue } from "./passwd-dialogue.ts";

describe("passwd dialogue", () => {
  it("answers Debian's passwd: current once, new twice", () => {
    const d = new PasswdDialogue("old-secret", "new-secret");
    expect(d.feed("Changing password for alice.\r\n")).toBeNull();
    expect(d.feed("Current password: ")).toEqual({ send: "old-secret\n" });
    expect(d.feed("\r\nNew ")).toBeNull();
    expect(d.feed("password: ")).toEqual({ send: "new-secret\n" });
    expect(d.feed("\r\nRetype new password: ")).toEqual({ send: "new-secret\n" });
    expect(d.feed("\r\npasswd: password updated successfully\r\n")).toBeNull();
  });

  it("answers the older '(current) UNIX password' prompt and 'Re-enter'", () => {
    const d = new PasswdDialogue("o", "n");
    expect(d.feed("(current) UNIX password: ")).toEqual({ send: "o\n" });
    expect(d.feed("Enter new UNIX password: ")).toEqual({ send: "n\n" });
    expect(d.feed("Re-enter new UNIX password: ")).toEqual({ send: "n\n" });
  });

  it("a second ask for the current password is a wrong password: it aborts, never retries", () => {
    const d = new PasswdDialogue("o", "n");
    d.feed("Current password: ");
    expect(d.feed("passwd: Authentication token manipulation error\r\nCurrent password: ")).toEqual({
      abort: "auth_failed",
    });
  });

  it("a refused new password aborts instead of answering the re-prompt", () => {
    const d = new PasswdDialogue("o", "n");
    d.feed("Current password: ");
    d.feed("New password: ");
    expect(d.feed("BAD PASSWORD: it is based on a dictionary word\r\n")).toEqual({ abort: "change_refused" });
    const e = new PasswdDialogue("o", "n");
    e.feed("Current password: ");
    e.feed("New password: ");
    e.feed("Retype new password: ");
    expect(e.feed("\r\nNew password: ")).toEqual({ abort: "change_refused" });
  });
});
