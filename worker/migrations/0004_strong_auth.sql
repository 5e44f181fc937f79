-- Strong authentication: server-side sign-in sessions (revocable per request), brute-force
-- throttles, known devices and networks, TOTP, recovery codes, WebAuthn keys, one-time challenges,
-- socket tickets, the master password, OIDC identities and zone sensitivity.

-- OIDC-linked accounts carry "<issuer>|<sub>"; their password_hash is '!' (never verifies).
ALTER TABLE users ADD COLUMN oidc_subject TEXT;
CREATE UNIQUE INDEX users_by_oidc ON users(oidc_subject);
-- PBKDF2 hash of the master password asked at connect (NULL: not set yet).
ALTER TABLE users ADD COLUMN master_password_hash TEXT;
-- How carefully connects to a zone are stepped up: low, normal, high.
ALTER TABLE zones ADD COLUMN sensitivity TEXT NOT NULL DEFAULT 'normal' CHECK (sensitivity IN ('low', 'normal', 'high'));

-- One row per sign-in. The cookie names the row (sid); every request checks it is live, so logout
-- and password/MFA changes revoke at once. A new row (a new sid) at login and after MFA.
CREATE TABLE auth_sessions (
  id TEXT PRIMARY KEY,
  user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  stage TEXT NOT NULL CHECK (stage IN ('mfa', 'full')), -- mfa: password done, second factor due
  amr TEXT NOT NULL DEFAULT '[]', -- JSON: how this sign-in was proven (pwd, oidc, otp, hwk, push, rec)
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL, -- absolute end, ms
  mfa_at INTEGER, -- last second factor, ms
  mfa_failures INTEGER NOT NULL DEFAULT 0,
  ip TEXT,
  country TEXT,
  asn TEXT,
  device_hash TEXT,
  risk TEXT NOT NULL DEFAULT '{}', -- JSON: what was new at sign-in (device, country, network), for step-up
  revoked_at INTEGER
);
CREATE INDEX auth_sessions_by_user ON auth_sessions(user_id, revoked_at);

-- Brute-force counters: keys ip:<ip>, acct-ip:<user>:<ip>, acct:<user> (unknown devices only), mp:<user>.
CREATE TABLE auth_throttle (
  key TEXT PRIMARY KEY,
  failures INTEGER NOT NULL,
  last_failure_at INTEGER NOT NULL,
  locked_until INTEGER
);

-- Devices (hash of the psm_device cookie) and networks a user has completed a sign-in from.
CREATE TABLE user_devices (
  user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  device_hash TEXT NOT NULL,
  first_seen INTEGER NOT NULL,
  last_seen INTEGER NOT NULL,
  PRIMARY KEY (user_id, device_hash)
);
CREATE TABLE user_networks (
  user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  kind TEXT NOT NULL CHECK (kind IN ('country', 'asn')),
  value TEXT NOT NULL,
  first_seen INTEGER NOT NULL,
  PRIMARY KEY (user_id, kind, value)
);

-- TOTP: the secret encrypted with a key derived from USER_TOKEN_SECRET (AES-GCM); last_step refuses replay.
CREATE TABLE totp_factors (
  user_id TEXT PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
  secret_enc TEXT NOT NULL,
  confirmed_at INTEGER,
  last_step INTEGER NOT NULL DEFAULT 0,
  created_at INTEGER NOT NULL
);
CREATE TABLE recovery_codes (
  user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  code_hash TEXT NOT NULL, -- SHA-256 of the normalised code, hex
  used_at INTEGER,
  PRIMARY KEY (user_id, code_hash)
);

CREATE TABLE webauthn_credentials (
  id TEXT PRIMARY KEY, -- credential id, base64url
  user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  public_key TEXT NOT NULL, -- COSE key, base64url
  counter INTEGER NOT NULL,
  transports TEXT NOT NULL DEFAULT '[]',
  name TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  last_used_at INTEGER
);
CREATE INDEX webauthn_by_user ON webauthn_credentials(user_id);

-- One-time challenges: WebAuthn ceremonies, OIDC state, push approvals. used_at refuses reuse.
CREATE TABLE auth_challenges (
  id TEXT PRIMARY KEY,
  kind TEXT NOT NULL CHECK (kind IN ('webauthn_reg', 'webauthn_auth', 'oidc', 'push')),
  user_id TEXT,
  session_id TEXT,
  challenge TEXT NOT NULL,
  data TEXT NOT NULL DEFAULT '{}',
  status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'approved', 'denied', 'used')),
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL
);
CREATE INDEX auth_challenges_by_user ON auth_challenges(user_id, kind, status);

-- One-time websocket tickets (SHA-256 of the ticket): bound to a user, a sign-in and a session.
CREATE TABLE socket_tickets (
  ticket_hash TEXT PRIMARY KEY,
  user_id TEXT NOT NULL,
  auth_session_id TEXT NOT NULL,
  target TEXT NOT NULL, -- e.g. ws:<session id> or watch:<session id>
  expires_at INTEGER NOT NULL,
  used_at INTEGER
);
