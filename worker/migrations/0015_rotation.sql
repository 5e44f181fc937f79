-- Credential rotation (issue 17, worker/access/rotations.ts): a credential's rotation state, the job in
-- flight, where its account lives and what may rotate it; and the history of every rotation and check.
ALTER TABLE credentials ADD COLUMN rotation_state TEXT NOT NULL DEFAULT 'ok'
  CHECK (rotation_state IN ('ok', 'pending', 'rotating', 'failed', 'out_of_sync'));
-- What the next job does ('rotate' or 'verify') and why; the job in flight and until when it may run.
ALTER TABLE credentials ADD COLUMN rotation_op TEXT;
ALTER TABLE credentials ADD COLUMN rotation_cause TEXT;
ALTER TABLE credentials ADD COLUMN rotation_job TEXT;
ALTER TABLE credentials ADD COLUMN rotation_due_at INTEGER;
ALTER TABLE credentials ADD COLUMN rotation_attempts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE credentials ADD COLUMN rotation_error TEXT;
-- The issue time of the job whose new secret is vaulted: a late answer from an older job is refused.
ALTER TABLE credentials ADD COLUMN rotation_generation INTEGER NOT NULL DEFAULT 0;
ALTER TABLE credentials ADD COLUMN verified_at INTEGER;
-- JSON: {"type":"ssh"} (default) or {"type":"ldap"|"ad","url","dn","startTls"}.
ALTER TABLE credentials ADD COLUMN rotation_account TEXT;
ALTER TABLE credentials ADD COLUMN rotate_with TEXT REFERENCES credentials(id);
CREATE INDEX credentials_rotation_due ON credentials(rotation_state, rotation_due_at);

CREATE TABLE credential_rotations (
  id TEXT PRIMARY KEY, -- the job id
  credential_id TEXT NOT NULL REFERENCES credentials(id),
  op TEXT NOT NULL CHECK (op IN ('rotate', 'verify')),
  cause TEXT NOT NULL CHECK (cause IN ('checkin', 'manual', 'schedule', 'retry')),
  connector_id TEXT,
  requested_at INTEGER NOT NULL,
  finished_at INTEGER,
  outcome TEXT, -- rotated | in_sync | out_of_sync | failed:<code> | timeout
  deadline INTEGER NOT NULL
);
CREATE INDEX credential_rotations_by_credential ON credential_rotations(credential_id, requested_at);
