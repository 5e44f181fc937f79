-- Site seal key rotation (issue 17, worker/access/seal-keys.ts): each connector's transport key (the new site
-- key is sealed to it) and the seal key it holds; every key a site has had; the rotations; and the new key
-- waiting, sealed, for each connector that was offline at the swap.
ALTER TABLE connectors ADD COLUMN transport_key TEXT; -- public P-256 JWK, from the connector's hello
ALTER TABLE connectors ADD COLUMN seal_kid TEXT; -- the site seal key it last said it holds

CREATE TABLE site_seal_keys (
  site_id TEXT NOT NULL REFERENCES sites(id),
  kid TEXT NOT NULL, -- RFC 7638 thumbprint
  public_key TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  retired_at INTEGER,
  PRIMARY KEY (site_id, kid)
);

CREATE TABLE seal_rotations (
  id TEXT PRIMARY KEY,
  site_id TEXT NOT NULL REFERENCES sites(id),
  state TEXT NOT NULL CHECK (state IN ('running', 'done', 'failed')),
  old_kid TEXT NOT NULL,
  new_kid TEXT,
  connector_id TEXT, -- the connector asked to make the key and re-seal
  requested_by TEXT,
  requested_at INTEGER NOT NULL,
  finished_at INTEGER,
  error TEXT,
  resealed INTEGER,
  unopenable INTEGER
);
CREATE UNIQUE INDEX seal_rotations_one_running ON seal_rotations(site_id) WHERE state = 'running';
CREATE INDEX seal_rotations_by_site ON seal_rotations(site_id, requested_at);

CREATE TABLE seal_key_deliveries (
  rotation_id TEXT NOT NULL REFERENCES seal_rotations(id),
  connector_id TEXT NOT NULL REFERENCES connectors(id),
  sealed TEXT, -- the new private key, sealed to the connector's transport key around the old site key; cleared once adopted
  adopted_at INTEGER,
  PRIMARY KEY (rotation_id, connector_id)
);
