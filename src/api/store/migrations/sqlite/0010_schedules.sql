-- Schedules (docs/schedules.md): per server, a cron expression in a time
-- zone and a list of tasks (JSON array, checked by the routes). next_run_at
-- is the next fire the scheduler waits for (unix ms; NULL while disabled).
-- A server's schedules are deleted with it (Store::delete_server).
CREATE TABLE schedules (
  id                INTEGER PRIMARY KEY AUTOINCREMENT,
  server_id         INTEGER NOT NULL REFERENCES servers(id) ON DELETE CASCADE,
  name              TEXT    NOT NULL,
  cron              TEXT    NOT NULL,
  timezone          TEXT    NOT NULL,
  enabled           INTEGER NOT NULL CHECK (enabled IN (0, 1)),
  catch_up          INTEGER NOT NULL CHECK (catch_up IN (0, 1)),
  only_when_running INTEGER NOT NULL CHECK (only_when_running IN (0, 1)),
  tasks             TEXT    NOT NULL,
  next_run_at       INTEGER,
  created_at        INTEGER NOT NULL,
  updated_at        INTEGER NOT NULL
) STRICT;
CREATE INDEX schedules_server ON schedules(server_id);
CREATE INDEX schedules_next_run ON schedules(next_run_at) WHERE next_run_at IS NOT NULL;

-- One row per fire (or "run now"): inserting it claims the fire, and the
-- UNIQUE constraint makes each (schedule, fire time) run once. tasks holds
-- the per-task results [{action, state, error, ...}] as JSON text.
CREATE TABLE schedule_runs (
  id          INTEGER PRIMARY KEY AUTOINCREMENT,
  schedule_id INTEGER NOT NULL REFERENCES schedules(id) ON DELETE CASCADE,
  fire_time   INTEGER NOT NULL,
  manual      INTEGER NOT NULL CHECK (manual IN (0, 1)),
  state       TEXT    NOT NULL CHECK (state IN ('running', 'ok', 'failed', 'skipped')),
  tasks       TEXT    NOT NULL,
  error       TEXT    NOT NULL DEFAULT '',
  started_at  INTEGER NOT NULL,
  finished_at INTEGER,
  UNIQUE (schedule_id, fire_time)
) STRICT;
CREATE INDEX schedule_runs_running ON schedule_runs(state) WHERE state = 'running';
