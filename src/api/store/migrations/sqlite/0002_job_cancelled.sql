-- A create job can be cancelled: deleting a server while it is still being
-- provisioned cancels its create job, and the delete job does the cleanup
-- (docs/store.md). SQLite cannot change a CHECK constraint in place, so the
-- jobs table is rebuilt (the documented 12-step procedure: migrate() runs
-- with foreign_keys off and checks foreign_key_check before commit; job_steps
-- keeps referring to "jobs" by name and its rows are untouched).
CREATE TABLE jobs_v2 (
  id         INTEGER PRIMARY KEY AUTOINCREMENT,
  server_id  INTEGER NOT NULL REFERENCES servers(id),
  kind       TEXT    NOT NULL CHECK (kind IN ('create', 'delete')),
  state      TEXT    NOT NULL
             CHECK (state IN ('queued', 'running', 'done', 'failed', 'compensating', 'compensated',
                              'cancelled')),
  error      TEXT    NOT NULL DEFAULT '',
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
) STRICT;
INSERT INTO jobs_v2(id, server_id, kind, state, error, created_at, updated_at)
  SELECT id, server_id, kind, state, error, created_at, updated_at FROM jobs;
DROP TABLE jobs;
ALTER TABLE jobs_v2 RENAME TO jobs;
CREATE INDEX jobs_server ON jobs(server_id);
CREATE UNIQUE INDEX jobs_one_unfinished ON jobs(server_id)
  WHERE state IN ('queued', 'running', 'compensating');
