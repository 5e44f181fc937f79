// Shared with you (#/shared, docs/governance.md "Shared sessions"): the live sessions someone invited the signed-in
// person to type in (GET /api/invitations: waiting, or joined), re-read every few seconds. Join asks the edge what
// joining needs; where it is the joiner's own second factor, the step-up dialog the connect flow uses asks for it
// (connect-step-up.ts); then the invitation is accepted and the session opens on the join page (join-page.ts).
// Test hooks: #shared-list tr[data-invitation-id][data-state], button.join, #shared-message.
import type { InvitationToMe } from "../../../protocol/index.ts";
import { dataTable, emptyRow, rowButton } from "../admin/admin-ui.ts";
import { api, errorText } from "../shared/api.ts";
import { withStepUp } from "./connect-step-up.ts";
import { type Cleanup, h, replace, say } from "../shared/dom.ts";
import { timeElement } from "../shared/format.ts";
import { poll } from "../shared/poll.ts";

/** The list is re-read this often (ms): invitations arrive, expire and are taken back while the page is open. */
const REFRESH_MS = 4_000;

const HEADERS = ["From", "Server", "State", "Until", "Join"];

export function renderShared(container: HTMLElement, open: (sessionId: string) => void): Cleanup {
  document.title = "Shared with you · PSM";
  let disposed = false;
  const body = h("tbody", {}, emptyRow(HEADERS.length, "Loading…"));
  const message = h("p", { id: "shared-message", class: "alert", role: "alert", hidden: true });
  const readError = h("p", { class: "alert", role: "alert", hidden: true });
  container.append(
    h("h1", {}, "Shared with you"),
    h(
      "p",
      { class: "muted" },
      "Live sessions whose user invited you to type with them. Joining asks you to confirm it is you; everyone in the session sees who types, and what you type is recorded as yours.",
    ),
    message,
    readError,
    dataTable("shared-list", "Sessions shared with you", HEADERS, body),
  );

  async function join(invitation: InvitationToMe, button: HTMLButtonElement): Promise<void> {
    say(message, null);
    button.disabled = true;
    try {
      const decision = await api.invitationStepUp(invitation.id);
      const accept = () => api.acceptInvitation(invitation.id);
      const accepted =
        decision.decision === "allow"
          ? await accept()
          : await withStepUp(decision, {
              title: `Confirm it is you to join ${invitation.from}'s session on ${invitation.server}`,
              action: "Join",
              run: () => accept(),
            });
      if (accepted && !disposed) open(accepted.sessionId);
    } catch (failure) {
      if (disposed) return;
      say(
        message,
        errorText(failure, {
          not_found: "This invitation is no longer open: it was taken back, it expired, or the session ended.",
          forbidden: "Joining was refused: your sign-in does not meet this session's policy.",
        }),
      );
    } finally {
      button.disabled = false;
    }
  }

  function row(i: InvitationToMe): HTMLTableRowElement {
    const what = `${i.from}'s session on ${i.server}`;
    const button: HTMLButtonElement = rowButton(i.state === "joined" ? "Rejoin" : "Join", "join", what, () => {
      void join(i, button);
    });
    return h(
      "tr",
      { "data-invitation-id": i.id, "data-session-id": i.sessionId, "data-state": i.state },
      h("th", { scope: "row" }, i.from),
      h("td", {}, i.server),
      h("td", {}, i.state === "joined" ? "Joined" : "Waiting for you"),
      h(
        "td",
        { class: "nowrap" },
        // A waiting invitation lapses at its own time; a joined one lasts as long as the session.
        i.state === "joined" ? "Session ends " : "Join by ",
        timeElement(i.state === "joined" ? i.deadline : i.expiresAt),
      ),
      h("td", { class: "actions" }, button),
    );
  }

  const stop = poll({
    read: api.invitations,
    everyMs: REFRESH_MS,
    message: readError,
    show: (list) => {
      if (list.length === 0)
        replace(body, emptyRow(HEADERS.length, "Nobody has invited you into a session right now."));
      else replace(body, ...list.map(row));
    },
  });
  return () => {
    disposed = true;
    stop();
  };
}
