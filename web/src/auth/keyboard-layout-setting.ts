// The Account page's keyboard layout for remote desktops (docs/rdp.md, "Keyboard layouts"): browsers cannot tell the
// computer's layout, so the user says which one their desktop sessions start with. Default: English (US).
import { KEYBOARD_LAYOUT_NAMES, KEYBOARD_LAYOUTS, type KeyboardLayout } from "../../../protocol/index.ts";
import { api, errorText } from "../shared/api.ts";
import { type Cleanup, field, h, replace, say } from "../shared/dom.ts";

export function renderKeyboardLayout(card: HTMLElement): Cleanup {
  let disposed = false;
  const status = h("p", { id: "keyboard-layout-status", class: "note", role: "status", hidden: true });
  const title = () => h("h2", { id: "keyboard-layout-title" }, "Keyboard for remote desktops");
  const show = (current: KeyboardLayout) => {
    const select = h(
      "select",
      { id: "keyboard-layout" },
      ...KEYBOARD_LAYOUTS.map((layout) =>
        h("option", { value: layout, selected: layout === current }, KEYBOARD_LAYOUT_NAMES[layout]),
      ),
    );
    select.addEventListener("change", () => {
      say(status, null);
      api.saveKeyboardLayout(select.value as KeyboardLayout).then(
        (saved) =>
          !disposed &&
          say(status, `Saved: desktops you open from now on use ${KEYBOARD_LAYOUT_NAMES[saved.keyboardLayout]}.`, "ok"),
        (failure: unknown) => !disposed && say(status, errorText(failure)),
      );
    });
    replace(
      card,
      title(),
      field(
        "Keyboard layout",
        select,
        "The layout of the keyboard you type on. The remote desktop is set to it when a session starts, so letters, accents and AltGr characters arrive as you type them.",
      ),
      status,
    );
  };
  api.keyboardLayout().then(
    (setting) => !disposed && show(setting.keyboardLayout),
    (failure: unknown) => !disposed && say(status, errorText(failure)),
  );
  replace(card, title(), status);
  return () => {
    disposed = true;
  };
}
