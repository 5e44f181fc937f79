// The signed-in user's keyboard layout for remote desktops (docs/rdp.md, "Keyboard layouts"): read and changed by the
// user alone; their next RDP session's grant carries it (worker/grants.ts).
import { KeyboardLayoutSetting } from "../../protocol/index.ts";
import { requireUser } from "../auth/user-token.ts";
import { newApi, route } from "../openapi.ts";
import { userKeyboardLayout } from "../keyboard-layouts.ts";

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
  async (c) => c.json({ keyboardLayout: await userKeyboardLayout(c.env.DB, c.get("user").id) }, 200),
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
    await c.env.DB.prepare("UPDATE users SET keyboard_layout = ? WHERE id = ?").bind(layout, c.get("user").id).run();
    return c.json({ keyboardLayout: layout }, 200);
  },
);
