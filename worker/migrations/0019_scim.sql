-- SCIM 2.0 provisioning (issue 20, docs/auth.md): the identity provider creates, changes, deactivates and
-- deletes users and groups through /scim/v2 with a bearer token of its own kind (psm-scim+…).
-- A provisioned user or group says so (`source` = 'scim') and carries the IdP's `external_id`. Provisioned users
-- have no password ('!'); they sign in through SSO. A DELETE keeps the row (checkouts, sessions, recordings and
-- the ledger name it): it is disabled, loses its groups and zones, and is hidden from SCIM (`deleted_at`).
ALTER TABLE users ADD COLUMN source TEXT;
ALTER TABLE users ADD COLUMN external_id TEXT;
ALTER TABLE users ADD COLUMN display_name TEXT;
ALTER TABLE users ADD COLUMN given_name TEXT;
ALTER TABLE users ADD COLUMN family_name TEXT;
ALTER TABLE users ADD COLUMN modified_at INTEGER;
ALTER TABLE users ADD COLUMN deleted_at INTEGER;
CREATE UNIQUE INDEX users_by_external_id ON users(external_id) WHERE external_id IS NOT NULL;

ALTER TABLE groups ADD COLUMN source TEXT;
ALTER TABLE groups ADD COLUMN external_id TEXT;
ALTER TABLE groups ADD COLUMN modified_at INTEGER;
CREATE UNIQUE INDEX groups_by_external_id ON groups(external_id) WHERE external_id IS NOT NULL;

-- Bearer tokens for /scim/v2: shown once at creation, stored as SHA-256 hex, revocable.
CREATE TABLE scim_tokens (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  token_hash TEXT NOT NULL UNIQUE,
  created_by TEXT NOT NULL REFERENCES users(id),
  created_at INTEGER NOT NULL,
  last_used_at INTEGER,
  revoked_at INTEGER
);
