-- Web Push (issue 20): the devices a user asked to be notified on, and 'push' as a channel of the notification
-- outbox. A subscription's endpoint is a capability URL and its keys encrypt what only that browser reads: they
-- stay here, are never listed back to a browser, and an outbox row names the subscription by id only.
CREATE TABLE push_subscriptions (
  id TEXT PRIMARY KEY,
  user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  -- one row per browser: the same browser subscribing again (or for another user) replaces its row
  endpoint TEXT NOT NULL UNIQUE,
  p256dh TEXT NOT NULL,
  auth TEXT NOT NULL,
  label TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  last_delivered_at INTEGER
);
CREATE INDEX push_subscriptions_user ON push_subscriptions(user_id);

-- SQLite cannot change a CHECK constraint in place: the outbox table is rebuilt with 'push' allowed.
CREATE TABLE notifications_next (
  id TEXT PRIMARY KEY,
  channel TEXT NOT NULL CHECK (channel IN ('webhook', 'email', 'push')),
  target TEXT NOT NULL,
  event TEXT NOT NULL,
  subject TEXT NOT NULL,
  body TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_at INTEGER NOT NULL,
  delivered_at INTEGER,
  dead_at INTEGER,
  last_error TEXT
);
INSERT INTO notifications_next (id, channel, target, event, subject, body, created_at, attempts, next_attempt_at,
  delivered_at, dead_at, last_error)
SELECT id, channel, target, event, subject, body, created_at, attempts, next_attempt_at, delivered_at, dead_at, last_error
FROM notifications;
DROP TABLE notifications;
ALTER TABLE notifications_next RENAME TO notifications;
CREATE INDEX notifications_due ON notifications(delivered_at, dead_at, next_attempt_at);
