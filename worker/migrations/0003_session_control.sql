-- Session control: extensions and the browser-disconnect grace period, set per policy.
ALTER TABLE policies ADD COLUMN extension_minutes INTEGER DEFAULT 60; -- NULL: no extensions
ALTER TABLE policies ADD COLUMN max_extensions INTEGER NOT NULL DEFAULT 2;
ALTER TABLE policies ADD COLUMN extension_approval_required INTEGER NOT NULL DEFAULT 0;
ALTER TABLE policies ADD COLUMN disconnect_grace_minutes INTEGER; -- NULL: a session waits for its browser

-- A request for more time on a live session: granted at once when policy pre-approves it, else
-- decided by a member of the policy's approver group (never the requester's own person).
CREATE TABLE session_extensions (
  id TEXT PRIMARY KEY,
  session_id TEXT NOT NULL REFERENCES sessions(id),
  user_id TEXT NOT NULL REFERENCES users(id),
  person_id TEXT NOT NULL,
  minutes INTEGER NOT NULL,
  reason TEXT NOT NULL DEFAULT '',
  status TEXT NOT NULL CHECK (status IN ('pending', 'granted', 'denied', 'lapsed')),
  requested_at INTEGER NOT NULL,
  decided_by TEXT REFERENCES users(id),
  decided_at INTEGER,
  comment TEXT NOT NULL DEFAULT '',
  deadline INTEGER -- the session's deadline once granted
);
CREATE INDEX session_extensions_session ON session_extensions(session_id);
CREATE INDEX session_extensions_pending ON session_extensions(status) WHERE status = 'pending';
