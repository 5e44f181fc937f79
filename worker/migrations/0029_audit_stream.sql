-- The audit stream (issue 20, docs/audit.md "Streaming to a SIEM"): sinks every ledger entry goes out to, in order and
-- at least once. `after_idx` is the last entry the sink acknowledged (-1: none yet); delivery resumes after it.
--   hec:    an HTTPS event collector (Splunk HEC JSON), posted from the edge. `token` is the collector's HEC token:
--           the edge must present it, so it is stored sealed at rest (AES-GCM under USER_TOKEN_SECRET, as Duo's client
--           secret) and never read back to a browser or written to a log.
--   syslog: RFC 5424 over TLS (RFC 5425 framing) to an on-prem collector, sent by a connector of `site_id`; its CA and
--           client certificate are the connector's own configuration (on-prem trust stays on-prem).
-- `start_idx` is where the sink began: entries before it were never owed to it (an admin may start from now).
CREATE TABLE audit_sinks (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  kind TEXT NOT NULL CHECK (kind IN ('hec', 'syslog')),
  enabled INTEGER NOT NULL DEFAULT 1,
  url TEXT,
  token_enc TEXT,
  site_id TEXT REFERENCES sites(id),
  host TEXT,
  port INTEGER,
  start_idx INTEGER NOT NULL DEFAULT -1,
  after_idx INTEGER NOT NULL DEFAULT -1,
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_at INTEGER NOT NULL DEFAULT 0,
  last_ok_at INTEGER,
  failing_since INTEGER,
  last_error TEXT,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  CHECK ((kind = 'hec' AND url IS NOT NULL AND token_enc IS NOT NULL)
      OR (kind = 'syslog' AND site_id IS NOT NULL AND host IS NOT NULL AND port IS NOT NULL))
);
