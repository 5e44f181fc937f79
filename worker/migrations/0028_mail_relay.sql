-- Notifications that reach people (issue 20): the organisation's SMTP relay, reached through the connectors of one
-- site; each user's choice of which events reach them by email; and which connectors were announced as down.

-- One row at most (id = 1). The relay password is a compact JWE sealed to the site's seal key in the admin's
-- browser: only a connector of that site opens it, for one send. It is never read back to a browser or logged.
CREATE TABLE mail_relay (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  enabled INTEGER NOT NULL DEFAULT 0,
  site_id TEXT NOT NULL REFERENCES sites(id),
  host TEXT NOT NULL,
  port INTEGER NOT NULL,
  tls TEXT NOT NULL CHECK (tls IN ('required', 'opportunistic', 'implicit')),
  username TEXT,
  password_sealed TEXT,
  from_address TEXT NOT NULL,
  updated_at INTEGER NOT NULL
);

-- A user's channel for one topic (protocol/mail.ts NotifyTopic); no row: the topic's default.
CREATE TABLE notify_preferences (
  user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  topic TEXT NOT NULL,
  channel TEXT NOT NULL CHECK (channel IN ('email', 'off')),
  updated_at INTEGER NOT NULL,
  PRIMARY KEY (user_id, topic)
);

-- A connector seen offline by the minute sweep: since when, and whether admins were told (once per outage).
CREATE TABLE connector_outages (
  connector_id TEXT PRIMARY KEY REFERENCES connectors(id),
  down_since INTEGER NOT NULL,
  notified_at INTEGER
);

-- How far the minute sweep has announced the audit ledger (worker/notify/events.ts): entries after this idx are
-- still to be looked at. Moved in the same D1 batch as the outbox rows it wrote.
CREATE TABLE notify_cursor (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  after_idx INTEGER NOT NULL
);
