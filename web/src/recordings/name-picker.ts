// A filter field for a user's, server's or zone's name: as the auditor types, a <datalist> offers the names
// the edge knows that contain what was typed (any case). What is typed is the filter either way: the edge
// matches part of a name, so "ali" finds alice without picking her.
import type { FilterName, FilterNamesQuery } from "../../../protocol/index.ts";
import { h } from "../shared/dom.ts";

/** Quiet time after the last key before the edge is asked, ms. */
const SUGGEST_DELAY_MS = 200;

export type NamePicker = { input: HTMLInputElement; list: HTMLDataListElement; dispose: () => void };

export function namePicker(options: {
  id: string;
  kind: FilterNamesQuery["kind"];
  value?: string;
  names: (kind: FilterNamesQuery["kind"], q: string) => Promise<FilterName[]>;
}): NamePicker {
  const listId = `${options.id}-names`;
  const input = h("input", {
    id: options.id,
    name: options.kind,
    type: "search",
    list: listId,
    autocomplete: "off",
    spellcheck: "false",
    maxlength: 64,
    placeholder: `Part of a ${options.kind}'s name`,
    value: options.value ?? "",
  });
  const list = h("datalist", { id: listId });
  let timer: ReturnType<typeof setTimeout> | undefined;
  // Only the answer to the latest question is shown: a slower, older one is dropped.
  let serial = 0;
  let asked: string | undefined;

  async function suggest(): Promise<void> {
    const q = input.value.trim();
    if (q === asked) return;
    asked = q;
    const mine = ++serial;
    try {
      const names = await options.names(options.kind, q);
      if (mine !== serial) return;
      list.replaceChildren(...names.map((n) => h("option", { value: n.name })));
    } catch {
      // Suggestions only: the field still filters by what is typed.
      if (mine === serial) asked = undefined;
    }
  }

  input.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(() => void suggest(), SUGGEST_DELAY_MS);
  });
  // The first focus offers the first names at once (a short list is often enough to pick from).
  input.addEventListener("focus", () => void suggest(), { once: true });
  return {
    input,
    list,
    dispose: () => {
      clearTimeout(timer);
      serial++;
    },
  };
}
