// What the searchable, paged list pages share (the audit log, the commands timeline): the time range read from two
// datetime-local fields, the table body's rows with their empty and loading lines, the page loads (a newer search
// wins over an older answer still on its way; "Load older" appends), and the filter form's submit and clear.
import { h, replace, say } from "../shared/dom.ts";
import { fromLocalInput } from "../shared/format.ts";

/** The range in unix ms (undefined: open), or null after saying at `from` that it is backwards. */
export function timeRange(
  from: HTMLInputElement,
  to: HTMLInputElement,
  message: HTMLElement,
): { from?: number; to?: number } | null {
  const fromMs = fromLocalInput(from.value);
  const toMs = fromLocalInput(to.value);
  if (fromMs !== undefined && toMs !== undefined && fromMs > toMs) {
    say(message, "“From” must be before “To”.");
    from.focus();
    return null;
  }
  return { from: fromMs, to: toMs };
}

/** A field's text, trimmed; undefined when empty. */
export const fieldText = (input: HTMLInputElement) => input.value.trim() || undefined;

export type FilteredList = {
  /** Loads the first page again (`more` false) or the next one, appended. */
  load: (more: boolean) => Promise<void>;
  dispose: () => void;
};

export function filteredList<T, C>(opts: {
  form: HTMLFormElement;
  body: HTMLTableSectionElement;
  older: HTMLButtonElement;
  message: HTMLElement;
  count: HTMLElement;
  columns: number;
  /** "entries", "commands": the count line's noun. */
  noun: string;
  loading: string;
  empty: string;
  /** "Could not load the audit log." */
  failure: string;
  row: (item: T) => HTMLTableRowElement;
  /** One page from `cursor` (undefined: the first page), and the cursor of the next (undefined: no more). */
  fetch: (cursor: C | undefined) => Promise<{ page: T[]; next: C | undefined }>;
  /** Reads the fields into the caller's filter; false (having said why) when they do not make sense. */
  take: () => boolean;
  /** The fields to empty on Clear (selects go back to their first option). */
  clear: (HTMLInputElement | HTMLSelectElement)[];
  errorText: (failure: unknown) => string;
}): FilteredList {
  let rows: T[] = [];
  let next: C | undefined;
  let loaded = false;
  let disposed = false;
  let serial = 0;

  const draw = () => {
    opts.count.textContent = rows.length ? `${rows.length} ${opts.noun} shown` : "";
    if (rows.length === 0) {
      const text = loaded ? opts.empty : opts.loading;
      replace(opts.body, h("tr", { class: "empty" }, h("td", { colspan: opts.columns }, text)));
      return;
    }
    replace(opts.body, ...rows.map(opts.row));
  };

  const load = async (more: boolean) => {
    const mine = ++serial;
    opts.older.disabled = true;
    opts.form.setAttribute("aria-busy", "true");
    try {
      const answer = await opts.fetch(more ? next : undefined);
      if (disposed || mine !== serial) return;
      rows = more ? [...rows, ...answer.page] : answer.page;
      next = answer.next;
      loaded = true;
      opts.older.hidden = next === undefined;
      say(opts.message, null);
      draw();
    } catch (failure) {
      if (disposed || mine !== serial) return;
      say(opts.message, `${opts.failure} ${opts.errorText(failure)}`);
    } finally {
      // An older answer arriving late leaves the newer search busy.
      if (mine === serial) {
        opts.older.disabled = false;
        opts.form.removeAttribute("aria-busy");
      }
    }
  };

  opts.form.addEventListener("submit", (event) => {
    event.preventDefault();
    if (opts.take()) void load(false);
  });
  opts.form.addEventListener("reset", () => {
    // The reset event fires before the fields clear; they were filled from the URL, so clear them by hand.
    queueMicrotask(() => {
      for (const control of opts.clear) control.value = "";
      if (opts.take()) void load(false);
    });
  });
  opts.older.addEventListener("click", () => void load(true));
  draw();
  return {
    load,
    dispose: () => {
      disposed = true;
    },
  };
}
