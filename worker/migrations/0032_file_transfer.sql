-- File transfer over SFTP (issue 19, docs/governance.md): a policy's file-transfer rules, as JSON
-- (protocol/file-transfer.ts FileTransferPolicy). '{}' parses to the defaults: both directions off.
ALTER TABLE policies ADD COLUMN file_transfer TEXT NOT NULL DEFAULT '{}';
