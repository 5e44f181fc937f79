-- Servers and credentials can be deleted from the admin's lists (issue 18). They are retired, not removed:
-- checkouts, sessions, recordings and the ledger still name them. A retired row is off, hidden from every list,
-- refuses every change, and gives its name back (it is renamed `<name>.deleted-<id prefix>`).
ALTER TABLE servers ADD COLUMN deleted_at INTEGER;
ALTER TABLE credentials ADD COLUMN deleted_at INTEGER;
