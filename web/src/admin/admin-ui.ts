// Small building blocks the admin sections share: panels, tables with an empty row, checklists,
// checkbox fields with help text, and a submit wrapper that disables the button while it works.
import { h, replace } from "../shared/dom.ts";

type Child = Node | string | null | false | undefined;

export function panel(id: string, title: string, intro: string | null, ...children: Child[]): HTMLElement {
  return h(
    "section",
    { class: "panel", "aria-labelledby": `${id}-title` },
    h("h2", { id: `${id}-title` }, title),
    intro ? h("p", { class: "muted" }, intro) : null,
    ...children,
  );
}

/** A dense table inside its scroll wrapper; fill `body` with rows or `emptyRow`. */
export function dataTable(
  id: string,
  caption: string,
  headers: string[],
  body: HTMLTableSectionElement,
): HTMLDivElement {
  return h(
    "div",
    { class: "table-wrap" },
    h(
      "table",
      { id, class: "table" },
      h("caption", { class: "visually-hidden" }, caption),
      h("thead", {}, h("tr", {}, ...headers.map((label) => h("th", { scope: "col" }, label)))),
      body,
    ),
  );
}

export function emptyRow(columns: number, text: string): HTMLTableRowElement {
  return h("tr", { class: "empty" }, h("td", { colspan: columns }, text));
}

/** Fills `box` with one checkbox per item; `checked` ids start ticked. */
export function fillChecklist(
  box: HTMLElement,
  name: string,
  items: readonly { id: string; label: string; note?: string }[],
  checked: ReadonlySet<string>,
  empty: string,
): void {
  if (items.length === 0) {
    replace(box, h("p", { class: "muted" }, empty));
    return;
  }
  replace(
    box,
    ...items.map((item) =>
      h(
        "label",
        { class: "check" },
        h("input", { type: "checkbox", name, value: item.id, checked: checked.has(item.id) }),
        ` ${item.label}`,
        item.note ? h("span", { class: "muted mono" }, ` ${item.note}`) : null,
      ),
    ),
  );
}

export function checkedValues(box: HTMLElement): string[] {
  return Array.from(box.querySelectorAll<HTMLInputElement>("input[type=checkbox]:checked"), (input) => input.value);
}

/** A checkbox with its label beside it and a help line under it. */
export function checkField(input: HTMLInputElement, label: string, hint: string): HTMLDivElement {
  const hintId = `${input.id}-hint`;
  input.setAttribute("aria-describedby", hintId);
  return h(
    "div",
    { class: "field check-field" },
    h("label", { class: "check", for: input.id }, input, ` ${label}`),
    h("small", { id: hintId, class: "hint" }, hint),
  );
}

/** Runs `work` with `button` disabled (and the form marked busy); always re-enables. */
export async function busy(button: HTMLButtonElement, work: () => Promise<void>): Promise<void> {
  button.disabled = true;
  const form = button.form;
  form?.setAttribute("aria-busy", "true");
  try {
    await work();
  } finally {
    button.disabled = false;
    form?.removeAttribute("aria-busy");
  }
}

/** A small "Edit" (or other) button for a table row. */
export function rowButton(label: string, className: string, object: string, onClick: () => void): HTMLButtonElement {
  // The accessible name starts with the visible words (WCAG 2.5.3), then says which row: "Edit: zone prod".
  const button = h(
    "button",
    { type: "button", class: `button-quiet small-button ${className}`, "aria-label": `${label}: ${object}` },
    label,
  );
  button.addEventListener("click", onClick);
  return button;
}

/**
 * A row action that opens in place: `open` shows a small form (`field`, `submit`, Cancel) instead of itself.
 * `onSubmit` gets `close`, which folds the form back (and empties the field). Revoke…, Re-pin…, Replace secret….
 */
export function inlineAction(opts: {
  open: HTMLButtonElement;
  field: HTMLInputElement | HTMLTextAreaElement;
  submit: HTMLButtonElement;
  onSubmit: (close: () => void) => void;
}): { element: HTMLElement; close: () => void } {
  const { open, field, submit } = opts;
  const cancel = h("button", { type: "button", class: "button-quiet small-button" }, "Cancel");
  const form = h("form", { class: "kill-form", novalidate: true, hidden: true }, field, submit, cancel);
  const show = (on: boolean) => {
    form.hidden = !on;
    open.hidden = on;
    if (!on) field.value = "";
    (on ? field : open).focus();
  };
  open.addEventListener("click", () => show(true));
  cancel.addEventListener("click", () => show(false));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    opts.onSubmit(() => show(false));
  });
  return { element: h("div", { class: "kill-wrap" }, open, form), close: () => show(false) };
}
