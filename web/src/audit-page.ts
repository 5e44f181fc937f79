// The audit log (#/audit, auditors and admins): each entry as a sentence with linked names (web/src/audit-sentences.ts)
// and its stored JSON one click away; filter by part of a user's, server's or zone's name, action and time, with the
// filter in the URL (#/audit?user=alice&server=web) so a reload or a shared link keeps it; page back with "Load
// older", export what the filter selects as NDJSON, and verify the hash chain.
import { type AuditListEntry, AuditAction, type AuditVerifyResult } from "../../protocol/index.ts";
import { type AuditFilter, api, auditExportUrl, errorText } from "./api.ts";
import { auditSentence } from "./audit-sentences.ts";
import { type Cleanup, append, field, h, replace, say } from "./dom.ts";
import { readFilter, writeFilter } from "./filter-url.ts";
import { formatFullTime, fromLocalInput, timeElement } from "./format.ts";
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
  let entries: AuditListEntry[] = [];
  let filter: AuditFilter = {};
  let disposed = false;
  let loaded = false;
  let serial = 0;

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

  function draw(): void {
    count.textContent = entries.length ? `${entries.length} entries shown` : "";
    if (entries.length === 0) {
      const text = loaded ? "No entries match these filters." : "Loading the audit log…";
      replace(body, h("tr", { class: "empty" }, h("td", { colspan: 3 }, text)));
      return;
    }
    replace(body, ...entries.map(row));
  }

  async function load(append: boolean): Promise<void> {
    const mine = ++serial;
    const before = append ? entries.at(-1)?.idx : undefined;
    older.disabled = true;
    form.setAttribute("aria-busy", "true");
    try {
      const page = await api.audit({ ...filter, ...(before !== undefined ? { before } : {}), limit: PAGE_SIZE });
      if (disposed || mine !== serial) return;
      entries = append ? [...entries, ...page] : page;
      loaded = true;
      older.hidden = page.length < PAGE_SIZE;
      say(message, null);
      draw();
    } catch (failure) {
      if (disposed || mine !== serial) return;
      say(message, `Could not load the audit log. ${errorText(failure)}`);
    } finally {
      older.disabled = false;
      form.removeAttribute("aria-busy");
    }
  }

  /** Reads the fields into the filter, the URL and the export link. False (and says why) when they do not make sense. */
  function takeFilter(): boolean {
    const fromMs = fromLocalInput(from.value);
    const toMs = fromLocalInput(to.value);
    if (fromMs !== undefined && toMs !== undefined && fromMs > toMs) {
      say(message, "“From” must be before “To”.");
      from.focus();
      return false;
    }
    const text = (input: HTMLInputElement) => input.value.trim() || undefined;
    filter = {
      user: text(pickers.user.input),
      server: text(pickers.server.input),
      zone: text(pickers.zone.input),
      action: AuditAction.safeParse(action.value).data,
      from: fromMs,
      to: toMs,
    };
    writeFilter("/audit", {
      user: filter.user,
      server: filter.server,
      zone: filter.zone,
      action: filter.action,
      from: fromMs === undefined ? undefined : from.value,
      to: toMs === undefined ? undefined : to.value,
    });
    exportLink.href = auditExportUrl(filter);
    const filtered = Object.values(filter).some((v) => v !== undefined);
    exportScope.textContent = filtered
      ? "The export holds the entries these filters select, each exactly as stored."
      : "The export holds the whole log.";
    return true;
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    if (takeFilter()) void load(false);
  });
  form.addEventListener("reset", () => {
    // The reset event fires before the fields clear; the fields were filled from the URL, so clear them by hand.
    queueMicrotask(() => {
      for (const input of [pickers.user.input, pickers.server.input, pickers.zone.input, from, to]) input.value = "";
      action.value = "";
      if (takeFilter()) void load(false);
    });
  });
  older.addEventListener("click", () => void load(true));
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
  draw();
  void load(false);
  return () => {
    disposed = true;
    for (const picker of Object.values(pickers)) picker.dispose();
  };
}
