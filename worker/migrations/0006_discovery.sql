-- Servers discovered by a site's connectors (AD/LDAP, EC2, Azure, vCenter, SSH keyscan). They are
-- not in the catalog: an admin enables one into a zone, pinning its host key, which creates the
-- server row (servers.source = 'discovered:<source>').
CREATE TABLE discovered_servers (
  id TEXT PRIMARY KEY,
  site_id TEXT NOT NULL REFERENCES sites(id),
  source TEXT NOT NULL CHECK (source IN ('ldap', 'ec2', 'azure', 'vcenter', 'keyscan')),
  source_id TEXT NOT NULL, -- the source's own id (DN, instance id, VM id, host:port)
  name TEXT NOT NULL,
  host TEXT NOT NULL,
  port INTEGER NOT NULL,
  os TEXT,
  proposed_host_key TEXT, -- SHA256 fingerprint a keyscan saw; never trusted until an admin pins it
  host_key_type TEXT,
  connector_id TEXT NOT NULL REFERENCES connectors(id),
  first_seen INTEGER NOT NULL,
  last_seen INTEGER NOT NULL,
  server_id TEXT REFERENCES servers(id) ON DELETE SET NULL, -- set once enabled
  UNIQUE (site_id, source, source_id)
);
CREATE INDEX discovered_by_site ON discovered_servers(site_id, last_seen);
