-- Connector hardening: connector tokens are single use (each jti claimed once, kept until the token could
-- no longer verify), and a policy can require the RDP bridge's sandbox.
CREATE TABLE connector_token_uses (
  connector_id TEXT NOT NULL,
  jti TEXT NOT NULL,
  expires_at INTEGER NOT NULL,
  PRIMARY KEY (connector_id, jti)
) WITHOUT ROWID;
CREATE INDEX connector_token_uses_expiry ON connector_token_uses (connector_id, expires_at);

ALTER TABLE policies ADD COLUMN rdp_require_sandbox INTEGER NOT NULL DEFAULT 0;
