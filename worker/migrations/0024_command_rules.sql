-- Command control (issue 19, docs/governance.md): a policy's command rules, a JSON array checked by the API
-- (protocol/command-rules.ts). Existing policies have none. Snapshotted into the checkout with the rest of the policy.
ALTER TABLE policies ADD COLUMN command_rules TEXT NOT NULL DEFAULT '[]';
