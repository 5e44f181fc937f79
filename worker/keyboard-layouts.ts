// A user's keyboard layout as stored (users.keyboard_layout, migration 0034), read through its zod schema: only a
// layout the connector's bridge knows ever leaves here, for the account page and for the session grant.
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

export async function userKeyboardLayout(db: D1Database, userId: string): Promise<KeyboardLayout> {
  const row = await db
    .prepare("SELECT keyboard_layout FROM users WHERE id = ?")
    .bind(userId)
    .first<{ keyboard_layout: string }>();
  return storedKeyboardLayout(row?.keyboard_layout, userId);
}
