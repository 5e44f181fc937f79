// A tiny typed element builder so pages build DOM without innerHTML (nothing user-supplied is parsed as HTML).

/** What a page returns: how to stop its timers, sockets and listeners when the route changes. */
export type Cleanup = () => void;

/**
 * Anything a label can point at. A union rather than HTMLElement: with @cloudflare/workers-types in
 * the same program, its global `Element` clashes with HTMLSelectElement's `remove()`.
 */
export type Control = HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement | HTMLDivElement;

type Child = Node | string | number | null | undefined | false;
type Attrs = Record<string, string | number | boolean | null | undefined | EventListener>;

/**
 * Builds an element. Attributes starting with `on` and holding a function become listeners;
 * `true` sets a boolean attribute, `false`/`null`/`undefined` leave it out.
 */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Attrs = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (typeof value === "function") {
      el.addEventListener(name.slice(2).toLowerCase(), value);
    } else if (value === true) {
      el.setAttribute(name, "");
    } else if (value !== false && value !== null && value !== undefined) {
      el.setAttribute(name, String(value));
    }
  }
  append(el, ...children);
  return el;
}

export function append(parent: Node, ...children: Child[]): void {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    parent.appendChild(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Replaces all children of `parent`. */
export function replace(parent: Node, ...children: Child[]): void {
  while (parent.firstChild) parent.removeChild(parent.firstChild);
  append(parent, ...children);
}

/** A labelled form field: the label wraps nothing, it points at the control by id. */
export function field(label: string, control: Control, hint?: string): HTMLDivElement {
  const id = control.id;
  const hintId = hint ? `${id}-hint` : undefined;
  if (hintId) control.setAttribute("aria-describedby", hintId);
  return h(
    "div",
    { class: "field" },
    h("label", { for: id }, label),
    control,
    hint ? h("small", { id: hintId, class: "hint" }, hint) : null,
  );
}

/** Shows (or with `null` clears) a message in an alert region. */
export function say(region: HTMLElement, message: string | null, tone: "error" | "ok" | "info" = "error"): void {
  region.textContent = message ?? "";
  region.hidden = !message;
  region.dataset.tone = tone;
}
