// The terminal page's Share panel (shared sessions, docs/governance.md): where the session's policy lets its user
// invite, a "Share" button in the bar opens a strip to invite a person by username (for how many minutes the
// invitation waits), and lists the invitations made with where each stands and "Take back" (a person who joined is
// disconnected). The list is re-read while the panel is open and whenever the room says who writes.
// Test hooks: #share-button, #share-panel, #share-username, #share-minutes, #share-invite, #share-message,
// #share-list li[data-invitee][data-state].
import {
  INVITATION_DEFAULT_MINUTES,
  INVITATION_MAX_MINUTES,
  type SessionInvitation,
  type SessionSharing,
} from "../../../protocol/index.ts";
import { busy, rowButton } from "../admin/admin-ui.ts";
import { api, errorText } from "../shared/api.ts";
import { type Cleanup, field, h, replace, say } from "../shared/dom.ts";
import { formatTime } from "../shared/format.ts";
import { poll } from "../shared/poll.ts";
import "./share.css";

/** While the panel is open the list is re-read this often (ms): invitees accept, invitations expire. */
const REFRESH_MS = 5_000;

/** An invitation that still counts: waiting to be accepted, or accepted (it can be taken back). */
const open = (i: Pick<SessionInvitation, "state">) => i.state === "pending" || i.state === "joined";

/** Where an invitation stands, in words. */
export function invitationStateText(i: Pick<SessionInvitation, "state" | "expiresAt" | "acceptedAt">): string {
  switch (i.state) {
    case "pending":
      return `Invited, not joined yet (the invitation lasts until ${formatTime(i.expiresAt)})`;
    case "joined":
      return i.acceptedAt ? `Joined at ${formatTime(i.acceptedAt)}` : "Joined";
    case "expired":
      return "Expired before they joined";
    case "revoked":
      return "Taken back";
    case "ended":
      return "Over: the session ended";
  }
}

export class SharePanel {
  /** The session bar's button; hidden until the edge says this session may be shared. */
  readonly button = h(
    "button",
    {
      type: "button",
      id: "share-button",
      class: "small-button",
      hidden: true,
      "aria-expanded": "false",
      "aria-controls": "share-panel",
    },
    "Share",
  );
  readonly element: HTMLElement;
  private readonly username = h("input", {
    id: "share-username",
    type: "text",
    autocomplete: "off",
    spellcheck: "false",
    maxlength: 128,
    required: true,
  });
  private readonly minutes = h("input", {
    id: "share-minutes",
    type: "number",
    min: 1,
    max: INVITATION_MAX_MINUTES,
    step: 1,
    value: INVITATION_DEFAULT_MINUTES,
    required: true,
  });
  private readonly invite = h("button", { type: "submit", id: "share-invite" }, "Invite");
  private readonly message = h("p", { id: "share-message", class: "alert", role: "alert", hidden: true });
  /** A failure to re-read the list (poll.ts shows it until the next read succeeds). */
  private readonly readError = h("p", { class: "alert", role: "alert", hidden: true });
  private readonly list = h("ul", { id: "share-list", class: "share-list", "aria-label": "Invitations" });
  private stopPolling: Cleanup | undefined;
  private disposed = false;

  constructor(
    private readonly sessionId: string,
    /** Where the keyboard goes back to when the panel closes (the terminal). */
    private readonly refocus: () => void = () => {},
  ) {
    const form = h(
      "form",
      { class: "share-form", novalidate: true },
      field("Username", this.username),
      field("Invitation lasts (minutes)", this.minutes),
      this.invite,
    );
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      void busy(this.invite, () => this.send());
    });
    this.element = h(
      "section",
      { id: "share-panel", class: "session-strip share-panel", "aria-labelledby": "share-title", hidden: true },
      h("h2", { id: "share-title" }, "Share this session"),
      h(
        "p",
        { class: "muted" },
        "Invite a colleague who may use this credential (or a helper your policy names) to type in this session with you. They confirm it is them before they join; what each person types is recorded as theirs.",
      ),
      form,
      this.message,
      this.readError,
      this.list,
    );
    this.button.addEventListener("click", () => this.toggle());
    this.element.addEventListener("keydown", (event) => {
      if (event.key === "Escape") this.toggle(false);
    });
  }

  /** Asks the edge once whether this session may be shared; shows the button when it may. */
  async load(): Promise<void> {
    try {
      const sharing = await api.sessionSharing(this.sessionId);
      if (!this.disposed) this.show(sharing);
    } catch {
      // Not shareable as far as this page can tell (the bar stays as it was); the session goes on.
    }
  }

  /** The room said who writes: someone joined or left, so the list's states changed. */
  refresh(): void {
    if (!this.button.hidden) void this.load();
  }

  /** The session ended for this page: nothing more to share. */
  close(): void {
    this.toggle(false, false);
    this.button.hidden = true;
  }

  dispose(): void {
    this.disposed = true;
    this.stopPolling?.();
  }

  /** Shows or hides the panel; while open, the list is re-read. */
  toggle(open = this.element.hidden, refocus = true): void {
    this.element.hidden = !open;
    this.button.setAttribute("aria-expanded", String(open));
    this.stopPolling?.();
    this.stopPolling = undefined;
    if (open) {
      this.stopPolling = poll({
        read: () => api.sessionSharing(this.sessionId),
        everyMs: REFRESH_MS,
        message: this.readError,
        show: (sharing) => this.show(sharing),
      });
      this.username.focus();
    } else if (refocus) this.refocus();
  }

  private show(sharing: SessionSharing): void {
    this.button.hidden = !sharing.allowed;
    if (!sharing.allowed && !this.element.hidden) this.toggle(false);
    // Open invitations first, then the closed ones, newest first within each.
    const sorted = [...sharing.invitations].sort(
      (a, b) => Number(open(b)) - Number(open(a)) || b.createdAt - a.createdAt,
    );
    if (sorted.length === 0) {
      replace(this.list, h("li", { class: "muted" }, "Nobody is invited yet."));
      return;
    }
    replace(this.list, ...sorted.map((i) => this.row(i)));
  }

  private row(i: SessionInvitation): HTMLLIElement {
    const takeBack = open(i)
      ? rowButton("Take back", "share-take-back", i.invitee, () => void this.takeBack(i, takeBack!))
      : null;
    return h(
      "li",
      { "data-invitation-id": i.id, "data-invitee": i.invitee, "data-state": i.state },
      h("strong", {}, i.invitee),
      i.basis === "helper" ? h("span", { class: "muted" }, " (helper)") : null,
      " — ",
      h("span", { class: "share-state" }, invitationStateText(i)),
      takeBack ? " " : null,
      takeBack,
    );
  }

  private async send(): Promise<void> {
    say(this.message, null);
    const username = this.username.value.trim();
    const minutes = Number(this.minutes.value);
    if (!username) {
      this.username.focus();
      return say(this.message, "Enter the username of the person to invite.");
    }
    if (!Number.isInteger(minutes) || minutes < 1 || minutes > INVITATION_MAX_MINUTES) {
      this.minutes.focus();
      return say(this.message, `The invitation lasts from 1 to ${INVITATION_MAX_MINUTES} minutes.`);
    }
    try {
      const made = await api.invite(this.sessionId, { username, minutes });
      if (this.disposed) return;
      this.username.value = "";
      say(
        this.message,
        `${made.invitee} is invited until ${formatTime(made.expiresAt)}. They find it under "Shared with you".`,
        "ok",
      );
      await this.load();
    } catch (failure) {
      if (this.disposed) return;
      say(
        this.message,
        errorText(failure, {
          conflict: "This session has ended, or it already has as many open invitations as it may.",
          not_found: "This session is not yours, or it no longer exists.",
        }),
      );
    }
  }

  private async takeBack(i: SessionInvitation, button: HTMLButtonElement): Promise<void> {
    say(this.message, null);
    button.disabled = true;
    try {
      await api.takeBackInvitation(this.sessionId, i.id);
      if (this.disposed) return;
      say(
        this.message,
        i.state === "joined"
          ? `${i.invitee}'s invitation is taken back: they were disconnected.`
          : `${i.invitee}'s invitation is taken back.`,
        "ok",
      );
      await this.load();
    } catch (failure) {
      if (this.disposed) return;
      button.disabled = false;
      say(this.message, errorText(failure, { conflict: "That invitation was already taken back." }));
    }
  }
}
