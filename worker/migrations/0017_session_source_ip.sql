-- Where a session was opened from (issue 18, Admin › Live): the CF-Connecting-IP of the request that started it.
-- NULL for sessions opened before this column existed, or through a path that does not carry the header.
ALTER TABLE sessions ADD COLUMN source_ip TEXT;
