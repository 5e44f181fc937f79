-- Moderated sessions (issue 19, docs/governance.md): a policy may require N moderators from a named group to
-- watch a session live before anything typed reaches the target. 0: not moderated.
ALTER TABLE policies ADD COLUMN moderators_required INTEGER NOT NULL DEFAULT 0;
ALTER TABLE policies ADD COLUMN moderator_group_id TEXT REFERENCES groups(id);
