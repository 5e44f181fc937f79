-- Access model: groups, zone admins, policies, grants of zones to groups, checkouts, the notification outbox.

-- Accounts of one person share person_id (NULL: the account is its own person). Used to refuse
-- approval of one's own request through a second account.
ALTER TABLE users ADD COLUMN person_id TEXT;
ALTER TABLE users ADD COLUMN email TEXT;

CREATE TABLE groups (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL UNIQUE COLLATE NOCASE,
  created_at INTEGER NOT NULL
);

CREATE TABLE group_members (
  group_id TEXT NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
  user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  PRIMARY KEY (group_id, user_id)
);
CREATE INDEX group_members_by_user ON group_members(user_id);

-- A zone admin administers only the zones listed here.
CREATE TABLE zone_admins (
  zone_id TEXT NOT NULL REFERENCES zones(id) ON DELETE CASCADE,
  user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  PRIMARY KEY (zone_id, user_id)
);

CREATE TABLE policies (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  max_checkout_minutes INTEGER NOT NULL DEFAULT 480,
  max_session_minutes INTEGER NOT NULL DEFAULT 240,
  approval_required INTEGER NOT NULL DEFAULT 0,
  approver_group_id TEXT REFERENCES groups(id),
  quorum INTEGER NOT NULL DEFAULT 1,
  pending_ttl_minutes INTEGER NOT NULL DEFAULT 1440,
  recording_required INTEGER NOT NULL DEFAULT 0,
  record_keystrokes INTEGER NOT NULL DEFAULT 0,
  live_view_allowed INTEGER NOT NULL DEFAULT 1,
  notify_watched INTEGER NOT NULL DEFAULT 1,
  master_password_required INTEGER NOT NULL DEFAULT 0,
  mfa_required INTEGER NOT NULL DEFAULT 0,
  idle_timeout_minutes INTEGER,
  exclusive INTEGER NOT NULL DEFAULT 0,
  reset_on_checkin INTEGER NOT NULL DEFAULT 0,
  created_at INTEGER NOT NULL
);

ALTER TABLE zones ADD COLUMN policy_id TEXT REFERENCES policies(id);
ALTER TABLE zones ADD COLUMN description TEXT NOT NULL DEFAULT '';
ALTER TABLE credentials ADD COLUMN policy_id TEXT REFERENCES policies(id); -- overrides the zone's
ALTER TABLE credentials ADD COLUMN external_ref TEXT; -- EmpowerID reference (connector issue)

-- Which groups may request which credentials on which servers of a zone (NULL: all of the zone's).
CREATE TABLE access_grants (
  id TEXT PRIMARY KEY,
  group_id TEXT NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
  zone_id TEXT NOT NULL REFERENCES zones(id) ON DELETE CASCADE,
  server_id TEXT REFERENCES servers(id) ON DELETE CASCADE,
  credential_id TEXT REFERENCES credentials(id) ON DELETE CASCADE,
  created_at INTEGER NOT NULL
);
CREATE INDEX access_grants_by_group ON access_grants(group_id);

CREATE TABLE checkouts (
  id TEXT PRIMARY KEY,
  cart_id TEXT NOT NULL,
  user_id TEXT NOT NULL REFERENCES users(id),
  person_id TEXT NOT NULL,
  server_id TEXT NOT NULL REFERENCES servers(id),
  credential_id TEXT NOT NULL REFERENCES credentials(id),
  zone_id TEXT NOT NULL REFERENCES zones(id),
  policy TEXT NOT NULL, -- JSON snapshot of the effective policy at request time
  exclusive INTEGER NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('pending_approval','approved','active','denied','withdrawn','expired','checked_in','revoked')),
  justification TEXT NOT NULL,
  requested_at INTEGER NOT NULL,
  starts_at INTEGER NOT NULL,
  ends_at INTEGER NOT NULL,
  approvals TEXT NOT NULL DEFAULT '[]', -- JSON Decision[]
  denial TEXT, -- JSON Decision
  ended_at INTEGER,
  ended_by TEXT,
  revoke_reason TEXT,
  next_transition_at INTEGER, -- when the scheduler must look at it again
  version INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX checkouts_by_user ON checkouts(user_id, requested_at);
CREATE INDEX checkouts_by_credential ON checkouts(credential_id, status, starts_at, ends_at);
CREATE INDEX checkouts_due ON checkouts(next_transition_at);

ALTER TABLE sessions ADD COLUMN checkout_id TEXT REFERENCES checkouts(id);
CREATE INDEX sessions_by_checkout ON sessions(checkout_id);

CREATE TABLE notifications (
  id TEXT PRIMARY KEY,
  channel TEXT NOT NULL CHECK (channel IN ('webhook', 'email')),
  target TEXT NOT NULL,
  event TEXT NOT NULL,
  subject TEXT NOT NULL,
  body TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_at INTEGER NOT NULL,
  delivered_at INTEGER,
  dead_at INTEGER,
  last_error TEXT
);
CREATE INDEX notifications_due ON notifications(delivered_at, dead_at, next_attempt_at);
