// A group's members editor that scales to any directory: type part of a name or email, the edge lists the
// matching users (GET /api/users/search, at most MATCH_LIMIT), Add puts one among the members; members show as
// chips, each with a "Remove <user>" button. The caller saves `ids()` (one audited change for the whole edit).
import type { UserMatch } from "../../../protocol/index.ts";
import { errorText } from "../shared/api.ts";
import { h, replace } from "../shared/dom.ts";

/** Quiet time after the last key before the edge is asked, ms. */
const SEARCH_DELAY_MS = 200;
/** Matches listed at once; a longer list means the admin should type more. */
const MATCH_LIMIT = 10;

type Member = { id: string; username: string };

export class MemberPicker {
  readonly element: HTMLElement;
  readonly search: HTMLInputElement;
  private readonly status: HTMLParagraphElement;
  private readonly matches: HTMLUListElement;
  private readonly list: HTMLUListElement;
  private readonly count: HTMLElement;
  /** The members as edited, in the order shown (insertion order of the map). */
  private members = new Map<string, string>();
  private found: UserMatch[] = [];
  private timer: ReturnType<typeof setTimeout> | undefined;
  /** Only the answer to the latest question is shown: a slower, older one is dropped. */
  private serial = 0;

  constructor(
    private readonly find: (q: string, limit: number) => Promise<UserMatch[]>,
    id: string,
  ) {
    this.search = h("input", {
      id: `${id}-search`,
      type: "search",
      autocomplete: "off",
      spellcheck: "false",
      maxlength: 64,
      placeholder: "Part of a username or email",
      "aria-controls": `${id}-matches`,
      "aria-describedby": `${id}-status`,
    });
    this.status = h("p", { id: `${id}-status`, class: "muted small", "aria-live": "polite" });
    this.matches = h("ul", { id: `${id}-matches`, class: "member-matches", "aria-label": "Matching users" });
    this.count = h("span", {});
    this.list = h("ul", { id: `${id}-list`, class: "member-list", "aria-labelledby": `${id}-list-title` });
    this.element = h(
      "div",
      { class: "member-picker" },
      h("div", { class: "field" }, h("label", { for: this.search.id }, "Add a member"), this.search, this.status),
      this.matches,
      h("h4", { id: `${id}-list-title`, class: "small" }, "Members ", this.count),
      this.list,
    );
    this.search.addEventListener("input", () => {
      clearTimeout(this.timer);
      this.timer = setTimeout(() => void this.lookUp(), SEARCH_DELAY_MS);
    });
    this.search.addEventListener("keydown", (event) => {
      if (event.key !== "Enter") return;
      // Enter adds the first match that is not a member yet; it never submits the members form.
      event.preventDefault();
      const first = this.found.find((u) => !this.members.has(u.id));
      if (first) this.add(first, false);
    });
  }

  /** Starts editing these members (clears the search). */
  set(members: readonly Member[]): void {
    this.members = new Map(members.map((m) => [m.id, m.username]));
    this.search.value = "";
    this.found = [];
    this.serial++;
    this.status.textContent = "";
    replace(this.matches);
    this.drawMembers();
  }

  ids(): string[] {
    return [...this.members.keys()];
  }

  dispose(): void {
    clearTimeout(this.timer);
    this.serial++;
  }

  private async lookUp(): Promise<void> {
    const q = this.search.value.trim();
    const mine = ++this.serial;
    if (!q) {
      this.found = [];
      this.status.textContent = "";
      this.drawMatches();
      return;
    }
    try {
      const found = await this.find(q, MATCH_LIMIT);
      if (mine !== this.serial) return;
      this.found = found;
      this.status.textContent =
        found.length === 0
          ? `No user matches “${q}”.`
          : found.length === MATCH_LIMIT
            ? `The first ${MATCH_LIMIT} users matching “${q}”; type more to narrow it down.`
            : `${found.length} user${found.length === 1 ? "" : "s"} match “${q}”.`;
      this.drawMatches();
    } catch (failure) {
      if (mine === this.serial) this.status.textContent = `Could not search users. ${errorText(failure)}`;
    }
  }

  private drawMatches(): void {
    replace(
      this.matches,
      ...this.found.map((user) => {
        const member = this.members.has(user.id);
        return h(
          "li",
          { "data-user-id": user.id },
          h(
            "span",
            {},
            user.username,
            user.email ? h("span", { class: "muted small" }, ` ${user.email}`) : null,
            user.disabled ? h("span", { class: "muted small" }, " (disabled)") : null,
          ),
          member
            ? h("span", { class: "muted small" }, "Member")
            : h(
                "button",
                {
                  type: "button",
                  class: "button-quiet small-button add-member",
                  "aria-label": `Add ${user.username}`,
                  onclick: () => this.add(user, true),
                },
                "Add",
              ),
        );
      }),
    );
  }

  private add(user: UserMatch, fromButton: boolean): void {
    this.members.set(user.id, user.username);
    this.drawMembers();
    this.drawMatches();
    this.status.textContent = `${user.username} added. Save members to keep the change.`;
    // The Add button just went away: continue from the next one, or the search.
    const next = fromButton ? this.matches.querySelector<HTMLButtonElement>("button.add-member") : null;
    (next ?? this.search).focus();
  }

  private remove(id: string, username: string): void {
    const buttons = [...this.list.querySelectorAll<HTMLButtonElement>("button")];
    const at = buttons.findIndex((b) => b.dataset.userId === id);
    this.members.delete(id);
    this.drawMembers();
    this.drawMatches();
    this.status.textContent = `${username} removed. Save members to keep the change.`;
    const rest = [...this.list.querySelectorAll<HTMLButtonElement>("button")];
    (rest[Math.min(at, rest.length - 1)] ?? this.search).focus();
  }

  private drawMembers(): void {
    this.count.textContent = `(${this.members.size})`;
    if (this.members.size === 0) {
      replace(this.list, h("li", { class: "muted" }, "No members yet."));
      return;
    }
    replace(
      this.list,
      ...[...this.members].map(([id, username]) =>
        h(
          "li",
          { "data-user-id": id },
          username,
          h(
            "button",
            {
              type: "button",
              class: "button-quiet small-button remove-member",
              "data-user-id": id,
              "aria-label": `Remove ${username}`,
              onclick: () => this.remove(id, username),
            },
            "Remove",
          ),
        ),
      ),
    );
  }
}
