// The audit log (#/audit, auditors and admins): filter by user, server, action and time, page back
// with "Load older", export everything as NDJSON and verify the hash chain.
import { type AuditEntry, AuditAction, type AuditVerifyResult } from "../../protocol/index.ts";
import { AUDIT_EXPORT_URL, type AuditFilter, api, errorText } from "./api.ts";
import { type Cleanup, append, field, h, replace, say } from "./dom.ts";
import { formatFullTime, fromLocalInput, timeElement } from "./format.ts";

/** Entries per page (the edge allows up to 500). */
const PAGE_SIZE = 100;

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

function targetText(entry: AuditEntry): string {
  return `${entry.target.type} ${entry.target.name ?? entry.target.id}`;
}

export function renderAudit(container: HTMLElement, isAdmin: boolean): Cleanup {
  document.title = "Audit · PSM";
  let entries: AuditEntry[] = [];
  let filter: AuditFilter = {};
  let disposed = false;
  let loaded = false;
  let serial = 0;

  const userId = h("input", {
    id: "audit-user",
    name: "userId",
    autocomplete: "off",
    spellcheck: "false",
    maxlength: 128,
  });
  const serverId = h("input", {
    id: "audit-server",
    name: "serverId",
    autocomplete: "off",
    spellcheck: "false",
    maxlength: 128,
  });
  const action = h(
    "select",
    { id: "audit-action", name: "action" },
    h("option", { value: "" }, "Any action"),
    ...AuditAction.options.map((a) => h("option", { value: a }, a)),
  );
  const from = h("input", { id: "audit-from", name: "from", type: "datetime-local" });
  const to = h("input", { id: "audit-to", name: "to", type: "datetime-local" });
  const apply = h("button", { type: "submit", id: "audit-apply" }, "Apply filters");
  const reset = h("button", { type: "reset", class: "button-quiet" }, "Clear");
  const form = h(
    "form",
    { id: "audit-filter", class: "grid-form", novalidate: true },
    field("User id", userId),
    field("Server id", serverId),
    field("Action", action),
    field("From", from),
    field("To", to),
    h("div", { class: "form-actions" }, apply, reset),
  );
  const verify = h("button", { type: "button", id: "audit-verify", class: "button-quiet" }, "Verify chain");
  const verifyResult = h("p", { id: "audit-verify-result", class: "alert", role: "status", hidden: true });
  const exportLink = h(
    "a",
    { id: "audit-export", class: "button button-quiet", href: AUDIT_EXPORT_URL, download: "audit.ndjson" },
    "Export NDJSON",
  );
  const message = h("p", { id: "audit-message", class: "alert", role: "alert", hidden: true });
  const count = h("p", { id: "audit-count", class: "muted", "aria-live": "polite" });
  const body = h("tbody");
  const older = h("button", { type: "button", id: "audit-older", class: "button-quiet", hidden: true }, "Load older");
  const table = h(
    "table",
    { id: "audit-table", class: "table audit-table" },
    h("caption", { class: "visually-hidden" }, "Audit entries, newest first"),
    h(
      "thead",
      {},
      h("tr", {}, ...["Time", "Actor", "Action", "Target", "Details"].map((label) => h("th", { scope: "col" }, label))),
    ),
    body,
  );

  function row(entry: AuditEntry): HTMLTableRowElement {
    const details = JSON.stringify({ refs: entry.refs, data: entry.data, hash: entry.hash, prev: entry.prev }, null, 2);
    const checkoutId = entry.refs.checkoutId;
    return h(
      "tr",
      { "data-idx": entry.idx, "data-action": entry.action },
      h("td", { class: "small nowrap" }, timeElement(entry.ts, formatFullTime(entry.ts))),
      h("td", {}, entry.actor ? entry.actor.name : h("span", { class: "muted" }, "system")),
      h("td", { class: "mono small" }, entry.action),
      h("td", {}, targetText(entry)),
      h(
        "td",
        {},
        h(
          "details",
          { class: "audit-details" },
          h("summary", {}, `#${entry.idx}`),
          h("pre", { class: "details-json" }, details),
          isAdmin && checkoutId
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
      replace(body, h("tr", { class: "empty" }, h("td", { colspan: 5 }, text)));
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

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const fromMs = fromLocalInput(from.value);
    const toMs = fromLocalInput(to.value);
    if (fromMs !== undefined && toMs !== undefined && fromMs > toMs) {
      say(message, "“From” must be before “To”.");
      from.focus();
      return;
    }
    filter = {
      userId: userId.value.trim() || undefined,
      serverId: serverId.value.trim() || undefined,
      action: AuditAction.safeParse(action.value).data,
      from: fromMs,
      to: toMs,
    };
    void load(false);
  });
  form.addEventListener("reset", () => {
    filter = {};
    // The reset event fires before the fields clear.
    queueMicrotask(() => void load(false));
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
        "Every entry carries the hash of the one before it. Verify the whole chain, or download it all (oldest first) as evidence.",
      ),
      h("div", { class: "button-row" }, verify, exportLink),
      verifyResult,
    ),
    h("section", { class: "panel", "aria-label": "Filters" }, form),
    message,
    count,
    h("div", { class: "table-wrap" }, table),
    h("div", { class: "load-more" }, older),
  );
  draw();
  void load(false);
  return () => {
    disposed = true;
  };
}
