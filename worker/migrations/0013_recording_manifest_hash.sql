-- The signed manifest's SHA-256 (hex of its compact JWS text), written when the manifest is signed, so a
-- manifest deleted from or replaced in the object store reads as tampered, not as "not closed yet".
ALTER TABLE recordings ADD COLUMN manifest_sha256 TEXT;
