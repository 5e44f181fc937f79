-- RDP (issue 7): a credential's Windows domain, and the RDP parts of a policy.
ALTER TABLE credentials ADD COLUMN domain TEXT NOT NULL DEFAULT '';
ALTER TABLE policies ADD COLUMN rdp_require_nla INTEGER NOT NULL DEFAULT 0;
ALTER TABLE policies ADD COLUMN rdp_clipboard_copy INTEGER NOT NULL DEFAULT 0;
ALTER TABLE policies ADD COLUMN rdp_clipboard_paste INTEGER NOT NULL DEFAULT 0;
ALTER TABLE policies ADD COLUMN rdp_clipboard_max_bytes INTEGER NOT NULL DEFAULT 65536;
