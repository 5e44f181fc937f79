-- Discovery that stays true (issue 21): a discovered host offers the protocols a probe found (SSH's host key, RDP's
-- certificate), and ages when no rerun sees it: `stale` after the site's stale days, `retired` after its retire days,
-- `seen` again when a rerun finds it. An enabled server whose host is retired is refused for checkout
-- (servers.discovery_retired_at), and follows its discovered record when the address changes.
ALTER TABLE discovered_servers ADD COLUMN rdp_port INTEGER;
ALTER TABLE discovered_servers ADD COLUMN proposed_rdp_cert TEXT; -- SHA256 of the DER an RDP probe saw; a proposal
ALTER TABLE discovered_servers ADD COLUMN lifecycle TEXT NOT NULL DEFAULT 'seen' CHECK (lifecycle IN ('seen', 'stale', 'retired'));
ALTER TABLE discovered_servers ADD COLUMN lifecycle_at INTEGER; -- when it entered that state
CREATE INDEX discovered_by_lifecycle ON discovered_servers(lifecycle, last_seen);
ALTER TABLE servers ADD COLUMN discovery_retired_at INTEGER; -- set while its discovered host is retired
ALTER TABLE sites ADD COLUMN discovery_stale_days INTEGER NOT NULL DEFAULT 7;
ALTER TABLE sites ADD COLUMN discovery_retire_days INTEGER NOT NULL DEFAULT 30;
