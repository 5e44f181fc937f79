-- Foundation schema: accounts, sites and connectors, servers and sealed credentials, sessions.
-- Zones and policies arrive with the access model; servers and credentials already carry zone_id.
CREATE TABLE users (
  id TEXT PRIMARY KEY,
  username TEXT NOT NULL UNIQUE COLLATE NOCASE,
  password_hash TEXT NOT NULL,
  roles TEXT NOT NULL DEFAULT '["requester"]', -- JSON array of Role
  disabled INTEGER NOT NULL DEFAULT 0,
  created_at INTEGER NOT NULL
);

CREATE TABLE sites (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  seal_key TEXT, -- public P-256 JWK credentials are sealed to; set by the site's first connector
  created_at INTEGER NOT NULL
);

CREATE TABLE zones (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  site_id TEXT NOT NULL REFERENCES sites(id),
  created_at INTEGER NOT NULL
);

CREATE TABLE enrollment_tokens (
  token_hash TEXT PRIMARY KEY, -- SHA-256 of the token, base64url; the token itself is never stored
  site_id TEXT NOT NULL REFERENCES sites(id),
  created_by TEXT NOT NULL REFERENCES users(id),
  expires_at INTEGER NOT NULL,
  used_at INTEGER
);

CREATE TABLE connectors (
  id TEXT PRIMARY KEY,
  site_id TEXT NOT NULL REFERENCES sites(id),
  name TEXT NOT NULL,
  public_key TEXT NOT NULL, -- Ed25519 JWK the connector proves itself with
  enrolled_at INTEGER NOT NULL,
  revoked_at INTEGER
);

CREATE TABLE servers (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  host TEXT NOT NULL,
  port INTEGER NOT NULL,
  protocol TEXT NOT NULL CHECK (protocol IN ('ssh', 'rdp')),
  site_id TEXT NOT NULL REFERENCES sites(id),
  zone_id TEXT REFERENCES zones(id),
  host_key TEXT NOT NULL, -- pinned SHA256 fingerprint
  tags TEXT NOT NULL DEFAULT '[]',
  source TEXT NOT NULL DEFAULT 'manual',
  enabled INTEGER NOT NULL DEFAULT 1,
  created_at INTEGER NOT NULL
);

CREATE TABLE credentials (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  username TEXT NOT NULL,
  kind TEXT NOT NULL CHECK (kind IN ('password', 'private_key')),
  site_id TEXT NOT NULL REFERENCES sites(id),
  zone_id TEXT REFERENCES zones(id),
  sealed TEXT NOT NULL, -- JWE sealed to the site's key; never returned by any API
  created_at INTEGER NOT NULL,
  rotated_at INTEGER
);

CREATE TABLE server_credentials (
  server_id TEXT NOT NULL REFERENCES servers(id),
  credential_id TEXT NOT NULL REFERENCES credentials(id),
  PRIMARY KEY (server_id, credential_id)
);

CREATE TABLE sessions (
  id TEXT PRIMARY KEY,
  user_id TEXT NOT NULL REFERENCES users(id),
  server_id TEXT NOT NULL REFERENCES servers(id),
  credential_id TEXT NOT NULL REFERENCES credentials(id),
  site_id TEXT NOT NULL REFERENCES sites(id),
  status TEXT NOT NULL CHECK (status IN ('pending', 'active', 'ended')),
  created_at INTEGER NOT NULL,
  deadline INTEGER NOT NULL,
  ended_at INTEGER,
  end_reason TEXT
);
CREATE INDEX sessions_by_user ON sessions(user_id, created_at);
