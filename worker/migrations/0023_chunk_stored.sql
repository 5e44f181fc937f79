-- A chunk's row claims its number before its bytes are put (worker/recording-chunks.ts); `stored_at` is set
-- once the store holds them. The seal lists only stored chunks, so a seal that runs while a put is under way
-- (or after one that failed and was not yet taken back) never names a chunk the store lacks.
ALTER TABLE recording_chunks ADD COLUMN stored_at INTEGER;
UPDATE recording_chunks SET stored_at = received_at;
