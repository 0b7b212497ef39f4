-- Counters every zlh-api replica shares (issue 25; docs/store-engines.md
-- "Rate limits and quotas"). Both tables are scratch: emptying them only
-- forgets recent failed logins and open sessions' places.

-- Login rate limiting (auth::LoginRateLimiter with a store): one row per
-- counted attempt, `key` = "<scope>/<table>/<account or address>", `at`
-- unix ms. A key keeps at most its limit of newest rows; rows older than
-- the window are purged.
CREATE TABLE rate_events (
  id  INTEGER PRIMARY KEY,
  key TEXT    NOT NULL,
  at  INTEGER NOT NULL
) STRICT;
CREATE INDEX rate_events_key_at ON rate_events(key, at);
CREATE INDEX rate_events_at ON rate_events(at);

-- Concurrent per-user quotas (relay::UserSlots): one row per console
-- session or upload in progress, held by the replica serving it. A row
-- counts while its replica is this one or has a live lease in `replicas`
-- (0014); rows of a dead replica stop counting at once and are deleted by
-- the user's next acquire. AUTOINCREMENT: a release by id never hits a
-- newer row.
CREATE TABLE user_slots (
  id         INTEGER PRIMARY KEY AUTOINCREMENT,
  user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  kind       TEXT    NOT NULL CHECK (kind IN ('console', 'upload')),
  replica_id TEXT    NOT NULL,
  created_at INTEGER NOT NULL
) STRICT;
CREATE INDEX user_slots_user ON user_slots(user_id, kind);
CREATE INDEX user_slots_replica ON user_slots(replica_id);
