-- Unauthenticated sign-in failures (failed and throttled logins, failed OIDC callbacks), counted per
-- minute, account and address before they reach the audit ledger: the minute sweep turns each closed
-- minute's rows into one ledger entry per row (worker/auth/failure-tally.ts has the rules and bounds).
CREATE TABLE auth_failure_tally (
  minute INTEGER NOT NULL,               -- start of the minute, ms since the epoch
  action TEXT NOT NULL,                  -- auth.login_failed | auth.locked_out
  via TEXT NOT NULL,                     -- password | oidc | second_factor
  account TEXT NOT NULL,                 -- user id, 'name:<username>' for no such user, '*' past the bound
  user_id TEXT,                          -- the user, when the account exists
  name TEXT,                             -- the username as typed (or the OIDC subject)
  count INTEGER NOT NULL,
  addresses TEXT NOT NULL,               -- JSON object: client address -> failures, at most 32 addresses
  distinct_addresses INTEGER NOT NULL,   -- keys in `addresses`
  other_addresses INTEGER NOT NULL,      -- failures from addresses past the 32
  reasons TEXT NOT NULL,                 -- JSON object: reason code -> failures
  PRIMARY KEY (minute, action, via, account)
);
