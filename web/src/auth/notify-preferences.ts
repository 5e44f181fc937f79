// The Account page's notification preferences: for each kind of event, whether it reaches the user by email or not
// at all (the pages and the organisation's webhook show it either way). Defaults: everything by email.
import type { NotifyChannel, NotifyPreferences, NotifyTopic } from "../../../protocol/index.ts";
import { api, errorText } from "../shared/api.ts";
import { type Cleanup, h, replace, say } from "../shared/dom.ts";

const TOPICS: Record<NotifyTopic, string> = {
  requests: "Checkout requests to approve, and decisions on mine",
  extensions: "Extensions to decide, and decisions on mine",
  kills: "My session ended by an administrator",
  recording_alerts: "Recording alerts (administrators)",
  rotation_failures: "Failed credential rotations (administrators)",
  connectors: "Connectors offline (administrators)",
  moderation: "Moderated sessions waiting for me as a moderator",
};

export function renderNotifyPreferences(card: HTMLElement): Cleanup {
  let disposed = false;
  const status = h("p", { id: "notify-status", class: "note", role: "status", hidden: true });
  const show = (p: NotifyPreferences) => {
    const rows = (Object.keys(TOPICS) as NotifyTopic[]).map((topic) => {
      const select = h(
        "select",
        { id: `notify-${topic}`, "data-topic": topic },
        h("option", { value: "email", selected: p.topics[topic] === "email" }, "Email"),
        h("option", { value: "off", selected: p.topics[topic] === "off" }, "Off"),
      );
      select.addEventListener("change", () => {
        say(status, null);
        api.saveNotifyPreferences({ topics: { [topic]: select.value as NotifyChannel } }).then(
          (saved) => !disposed && say(status, `Saved: ${TOPICS[topic]}: ${saved.topics[topic]}.`, "ok"),
          (failure: unknown) => !disposed && say(status, errorText(failure)),
        );
      });
      return h("div", { class: "field" }, h("label", { for: `notify-${topic}` }, TOPICS[topic]), select);
    });
    replace(
      card,
      h("h2", { id: "notify-title" }, "Notifications"),
      h(
        "p",
        {},
        p.email
          ? `Email goes to ${p.email}.`
          : "No email address is on file for you: ask an administrator to add one, or nothing can be sent.",
      ),
      ...rows,
      status,
    );
  };
  api.notifyPreferences().then(
    (p) => !disposed && show(p),
    (failure: unknown) => !disposed && say(status, errorText(failure)),
  );
  replace(card, h("h2", { id: "notify-title" }, "Notifications"), status);
  return () => {
    disposed = true;
  };
}
