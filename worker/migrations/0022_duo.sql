-- Duo Universal Prompt (docs/auth.md "Duo"): the deployment's one Duo application, and the single-use
-- states of the redirects to Duo, each bound to the sign-in that started it.

-- One row at most (id = 1). The client secret is sealed at rest with the edge's USER_TOKEN_SECRET
-- (worker/auth/hash.ts sealAtRest); it is never read back to a browser or logged.
CREATE TABLE duo_config (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  enabled INTEGER NOT NULL DEFAULT 0,
  api_host TEXT NOT NULL,
  client_id TEXT NOT NULL,
  secret_enc TEXT NOT NULL,
  fail_mode TEXT NOT NULL DEFAULT 'closed' CHECK (fail_mode IN ('open', 'closed')),
  updated_at INTEGER NOT NULL
);

-- A redirect to Duo: the state (stored as its SHA-256) and nonce it carried, the sign-in it belongs to
-- (pending at sign-in, full at step-up), where the page goes back to. Spent once (used_at), 5 minutes.
CREATE TABLE duo_states (
  state_hash TEXT PRIMARY KEY,
  user_id TEXT NOT NULL,
  auth_session_id TEXT NOT NULL,
  purpose TEXT NOT NULL CHECK (purpose IN ('sign_in', 'step_up')),
  nonce TEXT NOT NULL,
  return_to TEXT,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  used_at INTEGER
);
CREATE INDEX duo_states_by_expiry ON duo_states(expires_at);
