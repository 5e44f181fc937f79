-- Recording at the source (docs/recording.md): the connector records, spools and uploads chunks; the edge keeps
-- each chunk's signed claims here, the room's witness on the recording row, and the connector keys that signed.
CREATE TABLE recording_chunks (
  recording_id TEXT NOT NULL REFERENCES recordings(id),
  seq INTEGER NOT NULL,
  sha256 TEXT NOT NULL,
  size INTEGER NOT NULL,
  -- the claims' chain link, output offset and input count at the chunk's end, and whether it is the last
  link TEXT NOT NULL,
  out_end INTEGER NOT NULL,
  in_end INTEGER NOT NULL,
  final INTEGER NOT NULL,
  -- the claims as the connector signed them (compact JWS); the manifest carries them
  jws TEXT NOT NULL,
  signer_kid TEXT NOT NULL,
  received_at INTEGER NOT NULL,
  PRIMARY KEY (recording_id, seq)
);
-- 2: recorded by the connector (manifest v2); 1: recorded by the room before (manifest v1).
ALTER TABLE recordings ADD COLUMN source_version INTEGER NOT NULL DEFAULT 1;
ALTER TABLE recordings ADD COLUMN site_id TEXT;
ALTER TABLE recordings ADD COLUMN connector_id TEXT;
-- the room's witness (protocol Witness, JSON), written when the session ends
ALTER TABLE recordings ADD COLUMN witness TEXT;
-- when the edge stops waiting for the last chunk and signs the manifest incomplete (unix ms)
ALTER TABLE recordings ADD COLUMN tail_due INTEGER;
-- Identity keys a connector held before it rotated to its current one (connectors.public_key): chunks signed
-- with an older key still verify on upload and when the manifest is signed.
CREATE TABLE connector_keys (
  connector_id TEXT NOT NULL REFERENCES connectors(id),
  public_key TEXT NOT NULL,
  retired_at INTEGER NOT NULL
);
CREATE INDEX connector_keys_by_connector ON connector_keys(connector_id);
