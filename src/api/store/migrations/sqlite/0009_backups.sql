-- Backups (docs/backups-api.md). Two job kinds more, 'backup' and 'restore',
-- and a params column that tells those jobs which backups they work on
-- (JSON object: {"backup_id"} or {"backup_id", "pre_restore_id"}). SQLite
-- cannot change a CHECK in place, so jobs is rebuilt as in 0002 (migrate()
-- runs with foreign_keys off and checks foreign_key_check before commit).
CREATE TABLE jobs_v3 (
  id         INTEGER PRIMARY KEY AUTOINCREMENT,
  server_id  INTEGER NOT NULL REFERENCES servers(id),
  kind       TEXT    NOT NULL CHECK (kind IN ('create', 'delete', 'backup', 'restore')),
  state      TEXT    NOT NULL
             CHECK (state IN ('queued', 'running', 'done', 'failed', 'compensating', 'compensated',
                              'cancelled')),
  error      TEXT    NOT NULL DEFAULT '',
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  params     TEXT    NOT NULL DEFAULT '{}' CHECK (json_valid(params))
) STRICT;
INSERT INTO jobs_v3(id, server_id, kind, state, error, created_at, updated_at)
  SELECT id, server_id, kind, state, error, created_at, updated_at FROM jobs;
DROP TABLE jobs;
ALTER TABLE jobs_v3 RENAME TO jobs;
CREATE INDEX jobs_server ON jobs(server_id);
CREATE UNIQUE INDEX jobs_one_unfinished ON jobs(server_id)
  WHERE state IN ('queued', 'running', 'compensating');

-- One row per archive in the BackupStore (<backup dir>/<server_id>/<id>.tar.zst).
-- owner_id is the server's owner when the backup was made: the user whose
-- backup quota it counts against. size and sha256 are set when it is ready.
CREATE TABLE backups (
  id          INTEGER PRIMARY KEY AUTOINCREMENT,
  server_id   INTEGER NOT NULL REFERENCES servers(id),
  owner_id    INTEGER NOT NULL REFERENCES users(id),
  name        TEXT    NOT NULL,
  kind        TEXT    NOT NULL CHECK (kind IN ('manual', 'scheduled', 'pre_restore')),
  state       TEXT    NOT NULL CHECK (state IN ('creating', 'ready', 'failed', 'restoring')),
  size        INTEGER NOT NULL DEFAULT 0 CHECK (size >= 0),
  sha256      TEXT    NOT NULL DEFAULT '',
  format      TEXT    NOT NULL DEFAULT 'tar.zst',
  error       TEXT    NOT NULL DEFAULT '',
  created_at  INTEGER NOT NULL,
  finished_at INTEGER
) STRICT;
CREATE INDEX backups_server ON backups(server_id, id);
CREATE INDEX backups_owner ON backups(owner_id);

-- The per-user backup quota in bytes (NULL = --backup-quota, 0 = unlimited).
ALTER TABLE user_quotas ADD COLUMN backup_bytes INTEGER
  CHECK (backup_bytes IS NULL OR backup_bytes >= 0);
