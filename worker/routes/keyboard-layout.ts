// The signed-in user's keyboard layout for remote desktops (docs/rdp.md, "Keyboard layouts"): read and changed by the
// user alone; their next RDP session's grant carries it (worker/grants.ts).
import { KeyboardLayoutSetting } from "../../protocol/index.ts";
import { requireUser } from "../auth/user-token.ts";
import { newApi, route } from "../openapi.ts";
import { keyboardLayoutOf, setKeyboardLayout } from "../access/user-store.ts";

export const keyboardLayout = newApi();

const tags = ["sessions"];

keyboardLayout.openapi(
  route({
    method: "get",
    path: "/me/keyboard-layout",
    summary: "My keyboard layout for remote desktops",
    tags,
    middleware: [requireUser],
    response: KeyboardLayoutSetting,
  }),
  async (c) => c.json({ keyboardLayout: await keyboardLayoutOf(c.env.DB, c.get("user").id) }, 200),
);

keyboardLayout.openapi(
  route({
    method: "put",
    path: "/me/keyboard-layout",
    summary: "Change my keyboard layout for remote desktops (sessions started afterwards use it)",
    tags,
    middleware: [requireUser],
    body: KeyboardLayoutSetting,
    response: KeyboardLayoutSetting,
  }),
  async (c) => {
    const { keyboardLayout: layout } = c.req.valid("json");
    await setKeyboardLayout(c.env.DB, c.get("user").id, layout);
    return c.json({ keyboardLayout: layout }, 200);
  },
);
