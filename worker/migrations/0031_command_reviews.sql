-- Command review (issue 19, docs/governance.md): a command line a `review` rule holds at the connector until one of
-- the session's reviewers (its checkout's policy's approver or moderator group, never the requester) answers, or its
-- bound passes. The session's room writes these rows (edge-shared/command-reviews.ts is the one module that reads and
-- writes them); reviewers list the open ones and answer through the Worker, which asks the room.
CREATE TABLE command_reviews (
  session_id TEXT NOT NULL REFERENCES sessions(id),
  id TEXT NOT NULL, -- the connector's id for the held line, unique within its session
  line TEXT NOT NULL,
  rule INTEGER NOT NULL,
  message TEXT NOT NULL,
  requested_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  decided_at INTEGER,
  decision TEXT CHECK (decision IN ('approved', 'refused', 'timed_out', 'withdrawn', 'ended')),
  decided_by TEXT,
  PRIMARY KEY (session_id, id)
);
CREATE INDEX command_reviews_open ON command_reviews(decided_at, expires_at);
