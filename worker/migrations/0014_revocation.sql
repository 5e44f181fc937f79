-- Revocation (worker/access/revocation.ts): the sign-in a session was opened under, so revoking sign-ins
-- ends the sessions they opened; and a credential can be disabled like a server.
ALTER TABLE sessions ADD COLUMN auth_session_id TEXT;
ALTER TABLE credentials ADD COLUMN enabled INTEGER NOT NULL DEFAULT 1;

-- "Rotate on check-in" was stored and did nothing; until rotation is built the API refuses it
-- (worker/routes/zones.ts requireBuiltControls) and no policy claims it.
UPDATE policies SET reset_on_checkin = 0;
