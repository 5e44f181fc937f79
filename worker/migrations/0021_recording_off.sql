-- A policy may turn recording off (docs/recording.md): off, best effort (recording_enabled, not required) or
-- required. Existing policies keep recording.
ALTER TABLE policies ADD COLUMN recording_enabled INTEGER NOT NULL DEFAULT 1;
