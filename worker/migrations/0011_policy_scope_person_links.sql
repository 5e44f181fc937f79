-- Policy scope and person links (docs/access-model.md): which policies a zone admin may attach in a zone,
-- and how an SSO account is tied to the person behind it for separation of duties.

-- The allow-list per zone, kept by global admins. A zone admin may attach a listed policy to a credential
-- of the zone only if it is also not weaker than the zone's own policy (worker/access/policy-strength.ts).
CREATE TABLE zone_allowed_policies (
  zone_id TEXT NOT NULL REFERENCES zones(id) ON DELETE CASCADE,
  policy_id TEXT NOT NULL REFERENCES policies(id) ON DELETE CASCADE,
  created_at INTEGER NOT NULL,
  PRIMARY KEY (zone_id, policy_id)
);

-- 1 when the IdP said the email is verified (SSO accounts). A local account's email is set by an admin.
ALTER TABLE users ADD COLUMN email_verified INTEGER NOT NULL DEFAULT 0;
-- How person_id was decided: 'admin' (set by an admin; automatic linking never changes it), 'claim' or
-- 'email' (linked at SSO sign-in, worker/access/person-link.ts), NULL (never linked: the account is its own person).
ALTER TABLE users ADD COLUMN person_source TEXT;
-- A person set before this migration was set by an admin: automatic linking must not move it.
UPDATE users SET person_source = 'admin' WHERE person_id IS NOT NULL;
