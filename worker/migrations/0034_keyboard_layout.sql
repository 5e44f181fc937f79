-- Keyboard layouts of remote desktops (issue 21, docs/rdp.md "Keyboard layouts"): the layout a user's RDP sessions
-- start with, one of protocol/keyboard-layout.ts KEYBOARD_LAYOUTS (checked by zod where it is written and where the
-- grant reads it, not by a CHECK here: a new layout then needs no table rebuild). The grant carries it to the
-- connector, whose bridge announces it to the server and types characters for it.
ALTER TABLE users ADD COLUMN keyboard_layout TEXT NOT NULL DEFAULT 'en-us';
