-- Shared sessions (issue 19, docs/governance.md "Shared sessions"): a policy may let a session's user invite another
-- person to join with input; the invitee must be entitled to the same credential or be in the policy's helper group.
ALTER TABLE policies ADD COLUMN session_sharing INTEGER NOT NULL DEFAULT 0;
ALTER TABLE policies ADD COLUMN helper_group_id TEXT REFERENCES groups(id);

-- An invitation to one live session, by its user, to one person. It may be accepted until `expires_at`; once
-- accepted (under `accepted_sign_in`, the sign-in that passed the joiner's own step-up) the invitee may open the
-- `join` socket until the session ends or the user revokes it. worker/access/sharing.ts is the one module that reads
-- and writes these rows. One row per session and invitee: inviting again renews it.
CREATE TABLE session_invitations (
  id TEXT PRIMARY KEY,
  session_id TEXT NOT NULL REFERENCES sessions(id),
  inviter_id TEXT NOT NULL REFERENCES users(id),
  invitee_id TEXT NOT NULL REFERENCES users(id),
  basis TEXT NOT NULL CHECK (basis IN ('entitled', 'helper')),
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  accepted_at INTEGER,
  accepted_sign_in TEXT,
  revoked_at INTEGER,
  UNIQUE (session_id, invitee_id)
);
CREATE INDEX session_invitations_invitee ON session_invitations(invitee_id, expires_at);
