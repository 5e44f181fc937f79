-- What a recording's text is: asciicast v2 (terminal sessions) or a Guacamole protocol dump (desktops).
ALTER TABLE recordings ADD COLUMN format TEXT NOT NULL DEFAULT 'asciicast-v2' CHECK (format IN ('asciicast-v2', 'guacamole'));
