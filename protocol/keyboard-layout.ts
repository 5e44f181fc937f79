// Keyboard layouts of remote desktops (docs/rdp.md, "Keyboard layouts"): the user's choice in their account,
// carried in the session grant to the connector and the RDP bridge, which announces it to the server and types
// each character the browser reports with the key that has it on that layout. Nothing else is accepted.
import { z } from "zod";

/**
 * The layouts the bridge knows (connector/rdp/bridge/layouts.c), by the names it takes; Windows keyboard layout
 * ids: en-us 0x409, en-gb 0x809, de-de 0x407, fr-fr 0x40C.
 */
export const KEYBOARD_LAYOUTS = ["en-us", "en-gb", "de-de", "fr-fr"] as const;
export const KeyboardLayout = z.enum(KEYBOARD_LAYOUTS);
export type KeyboardLayout = z.infer<typeof KeyboardLayout>;

/** A user who chose none types on US English. */
export const DEFAULT_KEYBOARD_LAYOUT: KeyboardLayout = "en-us";

/** What the account page shows for each. */
export const KEYBOARD_LAYOUT_NAMES: Record<KeyboardLayout, string> = {
  "en-us": "English (US)",
  "en-gb": "English (UK)",
  "de-de": "German (Germany, QWERTZ)",
  "fr-fr": "French (France, AZERTY)",
};

/** `GET/PUT /api/me/keyboard-layout`: the layout the user's desktop sessions start with. */
export const KeyboardLayoutSetting = z.strictObject({ keyboardLayout: KeyboardLayout });
export type KeyboardLayoutSetting = z.infer<typeof KeyboardLayoutSetting>;
