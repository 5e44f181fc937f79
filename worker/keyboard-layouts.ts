// A user's keyboard layout as stored (users.keyboard_layout, migration 0034), read through its zod schema: only a
// layout the connector's bridge knows ever leaves here, for the account page (worker/access/user-store.ts) and for
// the session grant.
import { DEFAULT_KEYBOARD_LAYOUT, KeyboardLayout } from "../protocol/index.ts";

/**
 * The stored value as a layout. It is written only through the zod-checked PUT, so anything else was put there by
 * hand: the default goes out instead, and the log says so.
 */
export function storedKeyboardLayout(raw: unknown, userId: string): KeyboardLayout {
  const parsed = KeyboardLayout.safeParse(raw);
  if (parsed.success) return parsed.data;
  console.warn(`user ${userId}: stored keyboard layout is not a known one; ${DEFAULT_KEYBOARD_LAYOUT} used`);
  return DEFAULT_KEYBOARD_LAYOUT;
}
