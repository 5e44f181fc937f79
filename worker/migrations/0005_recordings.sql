-- Session recordings: one row per recording (the bytes live in the object store), and each zone's
-- retention and whether a session's own user may replay it.
CREATE TABLE recordings (
  id TEXT PRIMARY KEY,
  session_id TEXT NOT NULL REFERENCES sessions(id),
  user_id TEXT NOT NULL REFERENCES users(id),
  server_id TEXT NOT NULL REFERENCES servers(id),
  zone_id TEXT NOT NULL REFERENCES zones(id),
  started_at INTEGER NOT NULL,
  ended_at INTEGER,
  -- recording: being written; sealed: manifest signed, upload pending; stored: all in the object store
  status TEXT NOT NULL CHECK (status IN ('recording', 'sealed', 'stored', 'deleted')),
  complete INTEGER NOT NULL DEFAULT 1,
  chunks INTEGER NOT NULL DEFAULT 0,
  bytes INTEGER NOT NULL DEFAULT 0,
  retain_until INTEGER, -- unix ms; deletion before it is refused
  deleted_at INTEGER
);
CREATE INDEX recordings_by_started ON recordings(started_at);
CREATE INDEX recordings_by_user ON recordings(user_id, started_at);
CREATE INDEX recordings_by_session ON recordings(session_id);
CREATE INDEX recordings_due ON recordings(status, retain_until);

ALTER TABLE zones ADD COLUMN recording_retention_days INTEGER NOT NULL DEFAULT 90;
ALTER TABLE zones ADD COLUMN recording_owner_replay INTEGER NOT NULL DEFAULT 0;
