// Answers `passwd`'s prompts when an account changes its own password (no rotation credential): the
// current password once, the new one twice. Anything else it is asked, or asked again, aborts: a
// re-prompt means the old password was wrong or the new one was refused. Pure; the caller feeds it
// the pty's output and writes what it answers. The exit status and a login with the new password
// decide success, not the text.
export type PasswdAnswer = { send: string } | { abort: "auth_failed" | "change_refused" } | null;

const CURRENT = /(current|old)[^\n:]*password[^\n:]*:\s*$/i;
const RETYPE = /(retype|re-enter|again|confirm)[^\n:]*password[^\n:]*:\s*$/i;
const NEW = /new[^\n:]*password[^\n:]*:\s*$/i;
const REFUSED = /BAD PASSWORD|do not match|must wait|unchanged|try again|too (short|simple|similar)/i;

export class PasswdDialogue {
  private pending = "";
  private sentCurrent = false;
  private sentNew = 0;

  constructor(
    private readonly current: string,
    private readonly next: string,
  ) {}

  /** The next chunk of output; what to type, an abort, or null to wait for more. */
  feed(text: string): PasswdAnswer {
    this.pending = (this.pending + text).slice(-2048);
    const tail = this.pending;
    if (REFUSED.test(tail)) return { abort: this.sentNew > 0 ? "change_refused" : "auth_failed" };
    if (CURRENT.test(tail)) {
      if (this.sentCurrent) return { abort: "auth_failed" };
      this.sentCurrent = true;
      return this.answer(this.current);
    }
    if (RETYPE.test(tail)) {
      if (this.sentNew !== 1) return { abort: "change_refused" };
      this.sentNew++;
      return this.answer(this.next);
    }
    if (NEW.test(tail)) {
      if (this.sentNew !== 0) return { abort: "change_refused" };
      this.sentNew++;
      return this.answer(this.next);
    }
    return null;
  }

  private answer(secret: string): PasswdAnswer {
    this.pending = "";
    return { send: `${secret}\n` };
  }
}
