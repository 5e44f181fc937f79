// The audit log (#/audit, auditors and admins): each entry as a sentence with linked names (web/src/recordings/audit-sentences.ts)
// and its stored JSON one click away; filter by part of a user's, server's or zone's name, action and time, with the
// filter in the URL (#/audit?user=alice&server=web) so a reload or a shared link keeps it; page back with "Load
// older", export what the filter selects as NDJSON, and verify the hash chain.
import { type AuditListEntry, AuditAction, type AuditVerifyResult } from "../../../protocol/index.ts";
import { type AuditFilter, api, auditExportUrl, errorText } from "../shared/api.ts";
import { auditSentence } from "./audit-sentences.ts";
import { type Cleanup, append, field, h, say } from "../shared/dom.ts";
import { readFilter, writeFilter } from "./filter-url.ts";
import { fieldText, filteredList, timeRange } from "./filtered-list.ts";
import { formatFullTime, timeElement } from "../shared/format.ts";
import { namePicker } from "./name-picker.ts";

/** Entries per page (the edge allows up to 500). */
const PAGE_SIZE = 100;

/** The filter's fields, as they appear in the URL. */
const URL_KEYS = ["user", "server", "zone", "action", "from", "to"] as const;

const PROBLEM_TEXT: Record<Extract<AuditVerifyResult, { ok: false }>["problem"], string> = {
  hash_mismatch: "its content does not match its hash",
  broken_link: "it does not point at the previous entry's hash",
  index_gap: "entries are missing before it",
  malformed: "it is malformed",
};

export function verifyText(result: AuditVerifyResult): string {
  if (result.ok) return `Chain intact: ${result.count} entries, head ${result.head.slice(0, 12)}…`;
  return `Tampering detected at entry ${result.firstBadIndex} (${result.problem}): ${PROBLEM_TEXT[result.problem]}. ${result.count} entries checked.`;
}

/** The entry as the ledger stored it (and the export carries it): what the hash covers, without the context. */
function storedJson(entry: AuditListEntry): string {
  const { context: _context, ...stored } = entry;
  return JSON.stringify(stored, null, 2);
}

export function renderAudit(container: HTMLElement, isAdmin: boolean): Cleanup {
  document.title = "Audit · PSM";
  let filter: AuditFilter = {};

  const initial = readFilter(URL_KEYS);
  const pickers = {
    user: namePicker({ id: "audit-user", kind: "user", value: initial.user, names: api.auditNames }),
    server: namePicker({ id: "audit-server", kind: "server", value: initial.server, names: api.auditNames }),
    zone: namePicker({ id: "audit-zone", kind: "zone", value: initial.zone, names: api.auditNames }),
  };
  const action = h(
    "select",
    { id: "audit-action", name: "action" },
    h("option", { value: "" }, "Any action"),
    ...AuditAction.options.map((a) => h("option", { value: a, selected: a === initial.action }, a)),
  );
  const from = h("input", { id: "audit-from", name: "from", type: "datetime-local", value: initial.from ?? "" });
  const to = h("input", { id: "audit-to", name: "to", type: "datetime-local", value: initial.to ?? "" });
  const apply = h("button", { type: "submit", id: "audit-apply" }, "Apply filters");
  const reset = h("button", { type: "reset", class: "button-quiet" }, "Clear");
  const form = h(
    "form",
    { id: "audit-filter", class: "grid-form", role: "search", novalidate: true },
    field("User", pickers.user.input, "Part of a name: “ali” finds alice"),
    field("Server", pickers.server.input),
    field("Zone", pickers.zone.input),
    field("Action", action),
    field("From", from),
    field("To", to),
    pickers.user.list,
    pickers.server.list,
    pickers.zone.list,
    h("div", { class: "form-actions" }, apply, reset),
  );
  const verify = h("button", { type: "button", id: "audit-verify", class: "button-quiet" }, "Verify chain");
  const verifyResult = h("p", { id: "audit-verify-result", class: "alert", role: "status", hidden: true });
  const exportLink = h(
    "a",
    { id: "audit-export", class: "button button-quiet", href: auditExportUrl({}), download: "audit.ndjson" },
    "Export NDJSON",
  );
  const exportScope = h("p", { id: "audit-export-scope", class: "muted small" });
  const message = h("p", { id: "audit-message", class: "alert", role: "alert", hidden: true });
  const count = h("p", { id: "audit-count", class: "muted", "aria-live": "polite" });
  const body = h("tbody");
  const older = h("button", { type: "button", id: "audit-older", class: "button-quiet", hidden: true }, "Load older");
  const table = h(
    "table",
    { id: "audit-table", class: "table audit-table" },
    h("caption", { class: "visually-hidden" }, "Audit entries, newest first"),
    h("thead", {}, h("tr", {}, ...["Time", "What happened", "Entry"].map((label) => h("th", { scope: "col" }, label)))),
    body,
  );

  function sentence(entry: AuditListEntry): HTMLElement {
    const parts = auditSentence(entry, { isAdmin });
    return h(
      "span",
      { class: "audit-sentence" },
      ...parts.map((p) =>
        typeof p === "string" ? p : h("a", { href: p.href, class: `audit-link audit-${p.kind}` }, p.text),
      ),
    );
  }

  function row(entry: AuditListEntry): HTMLTableRowElement {
    const checkoutId = entry.refs.checkoutId;
    return h(
      "tr",
      {
        "data-idx": entry.idx,
        "data-action": entry.action,
        ...(entry.refs.sessionId ? { "data-session-id": entry.refs.sessionId } : {}),
      },
      h("td", { class: "small nowrap" }, timeElement(entry.ts, formatFullTime(entry.ts))),
      h(
        "td",
        {},
        sentence(entry),
        h("div", { class: "muted small" }, entry.action, entry.context.zone ? ` · zone ${entry.context.zone}` : ""),
      ),
      h(
        "td",
        {},
        h(
          "details",
          { class: "audit-details" },
          h("summary", {}, `#${entry.idx}`, h("span", { class: "visually-hidden" }, " raw JSON")),
          // It scrolls (max-height): focusable, so a keyboard can scroll it too.
          h(
            "pre",
            { class: "details-json", tabindex: 0, "aria-label": `Entry ${entry.idx} as stored` },
            storedJson(entry),
          ),
          isAdmin && checkoutId && entry.target.type !== "checkout"
            ? h("a", { href: `#/admin/checkouts/${encodeURIComponent(checkoutId)}` }, "Revoke this checkout…")
            : null,
        ),
      ),
    );
  }

  /** Reads the fields into the filter, the URL and the export link. False (and says why) when they do not make sense. */
  function takeFilter(): boolean {
    const range = timeRange(from, to, message);
    if (!range) return false;
    filter = {
      user: fieldText(pickers.user.input),
      server: fieldText(pickers.server.input),
      zone: fieldText(pickers.zone.input),
      action: AuditAction.safeParse(action.value).data,
      ...range,
    };
    writeFilter("/audit", {
      user: filter.user,
      server: filter.server,
      zone: filter.zone,
      action: filter.action,
      from: range.from === undefined ? undefined : from.value,
      to: range.to === undefined ? undefined : to.value,
    });
    exportLink.href = auditExportUrl(filter);
    const filtered = Object.values(filter).some((v) => v !== undefined);
    exportScope.textContent = filtered
      ? "The export holds the entries these filters select, each exactly as stored."
      : "The export holds the whole log.";
    return true;
  }

  const list = filteredList<AuditListEntry, number>({
    form,
    body,
    older,
    message,
    count,
    columns: 3,
    noun: "entries",
    loading: "Loading the audit log…",
    empty: "No entries match these filters.",
    failure: "Could not load the audit log.",
    row,
    fetch: async (before) => {
      const page = await api.audit({ ...filter, ...(before !== undefined ? { before } : {}), limit: PAGE_SIZE });
      return { page, next: page.length === PAGE_SIZE ? page.at(-1)?.idx : undefined };
    },
    take: takeFilter,
    clear: [pickers.user.input, pickers.server.input, pickers.zone.input, from, to, action],
    errorText,
  });
  let disposed = false;
  verify.addEventListener("click", async () => {
    verify.disabled = true;
    say(verifyResult, "Verifying the chain…", "info");
    try {
      const result = await api.verifyAudit();
      if (disposed) return;
      say(verifyResult, verifyText(result), result.ok ? "ok" : "error");
      verifyResult.dataset.ok = String(result.ok);
    } catch (failure) {
      if (disposed) return;
      say(verifyResult, `Could not verify the chain. ${errorText(failure)}`);
      delete verifyResult.dataset.ok;
    } finally {
      verify.disabled = false;
    }
  });

  append(
    container,
    h("h1", {}, "Audit log"),
    h(
      "section",
      { class: "panel", "aria-labelledby": "audit-integrity-title" },
      h("h2", { id: "audit-integrity-title" }, "Integrity and evidence"),
      h(
        "p",
        { class: "muted" },
        "Every entry carries the hash of the one before it. Verify the whole chain, or download the entries (oldest first) as evidence.",
      ),
      h("div", { class: "button-row" }, verify, exportLink),
      exportScope,
      verifyResult,
    ),
    h("section", { class: "panel", "aria-label": "Filters" }, form),
    message,
    count,
    h("div", { class: "table-wrap" }, table),
    h("div", { class: "load-more" }, older),
  );
  takeFilter();
  void list.load(false);
  return () => {
    disposed = true;
    list.dispose();
    for (const picker of Object.values(pickers)) picker.dispose();
  };
}
