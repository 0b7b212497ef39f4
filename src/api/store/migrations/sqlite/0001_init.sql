-- zlh-api store, schema 1 (docs/design.md §10.7; decisions in docs/store.md).
--
-- Runs inside one transaction (store/migrations.cpp), so PRAGMAs that cannot
-- change inside a transaction (foreign_keys, journal_mode) do not belong here.
-- Times are unix milliseconds, UTC. Enumerations are spelled as in
-- store/types.hpp and checked here too, so a bad value cannot land even
-- through a bug in the store.

CREATE TABLE users (
  id            INTEGER PRIMARY KEY AUTOINCREMENT,
  email         TEXT    NOT NULL COLLATE NOCASE UNIQUE,
  username      TEXT    NOT NULL COLLATE NOCASE UNIQUE,
  password_hash TEXT    NOT NULL,
  is_admin      INTEGER NOT NULL DEFAULT 0 CHECK (is_admin IN (0, 1)),
  created_at    INTEGER NOT NULL
) STRICT;

-- id is the random session id carried in the JWT `sid` claim.
CREATE TABLE sessions (
  id         TEXT    PRIMARY KEY,
  user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  revoked_at INTEGER
) STRICT, WITHOUT ROWID;
CREATE INDEX sessions_user ON sessions(user_id);
CREATE INDEX sessions_expires ON sessions(expires_at);

-- A deleted server stays as a tombstone (deleted_at set, state 'deleted') so
-- that its jobs and their owner check outlive it. Its vmid and ports are not
-- columns here: vmid_allocations and port_allocations are the one record of
-- what a server holds.
CREATE TABLE servers (
  id              INTEGER PRIMARY KEY AUTOINCREMENT,
  owner_id        INTEGER NOT NULL REFERENCES users(id),
  type            TEXT    NOT NULL CHECK (type IN ('dev', 'game')),
  name            TEXT    NOT NULL,
  hostname        TEXT    NOT NULL DEFAULT '',
  ip              TEXT    NOT NULL DEFAULT '',
  node            TEXT    NOT NULL DEFAULT '',
  payload         TEXT    NOT NULL DEFAULT '{}' CHECK (json_valid(payload)),
  state           TEXT    NOT NULL
                  CHECK (state IN ('provisioning', 'ready', 'error', 'deleting', 'deleted')),
  agent_state     TEXT    NOT NULL DEFAULT '',
  agent_last_seen INTEGER,
  crash_count     INTEGER NOT NULL DEFAULT 0,
  install_step    TEXT    NOT NULL DEFAULT '',
  progress        REAL    NOT NULL DEFAULT 0,
  error           TEXT    NOT NULL DEFAULT '',
  created_at      INTEGER NOT NULL,
  updated_at      INTEGER NOT NULL,
  deleted_at      INTEGER
) STRICT;
CREATE INDEX servers_owner ON servers(owner_id, id) WHERE deleted_at IS NULL;

-- One row per vmid handed out. The primary key is what makes a double
-- hand-out impossible; UNIQUE(server_id): one vmid per server.
CREATE TABLE vmid_allocations (
  vmid         INTEGER PRIMARY KEY,
  server_id    INTEGER NOT NULL UNIQUE REFERENCES servers(id),
  allocated_at INTEGER NOT NULL
) STRICT;

CREATE TABLE port_allocations (
  port         INTEGER PRIMARY KEY CHECK (port BETWEEN 1 AND 65535),
  server_id    INTEGER NOT NULL REFERENCES servers(id),
  allocated_at INTEGER NOT NULL
) STRICT;
CREATE INDEX port_allocations_server ON port_allocations(server_id);

CREATE TABLE jobs (
  id         INTEGER PRIMARY KEY AUTOINCREMENT,
  server_id  INTEGER NOT NULL REFERENCES servers(id),
  kind       TEXT    NOT NULL CHECK (kind IN ('create', 'delete')),
  state      TEXT    NOT NULL
             CHECK (state IN ('queued', 'running', 'done', 'failed', 'compensating', 'compensated')),
  error      TEXT    NOT NULL DEFAULT '',
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
) STRICT;
CREATE INDEX jobs_server ON jobs(server_id);
-- At most one unfinished job per server: two concurrent deletes, or a delete
-- racing the create, cannot both be queued.
CREATE UNIQUE INDEX jobs_one_unfinished ON jobs(server_id)
  WHERE state IN ('queued', 'running', 'compensating');

CREATE TABLE job_steps (
  job_id      INTEGER NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
  idx         INTEGER NOT NULL,
  name        TEXT    NOT NULL,
  state       TEXT    NOT NULL DEFAULT 'pending'
              CHECK (state IN ('pending', 'running', 'done', 'failed')),
  detail      TEXT    NOT NULL DEFAULT '',
  started_at  INTEGER,
  finished_at INTEGER,
  PRIMARY KEY (job_id, idx)
) STRICT, WITHOUT ROWID;

CREATE TABLE audit_log (
  id          INTEGER PRIMARY KEY AUTOINCREMENT,
  at          INTEGER NOT NULL,
  user_id     INTEGER REFERENCES users(id) ON DELETE SET NULL,
  action      TEXT    NOT NULL,
  target      TEXT    NOT NULL DEFAULT '',
  detail      TEXT    NOT NULL DEFAULT '{}' CHECK (json_valid(detail)),
  remote_addr TEXT    NOT NULL DEFAULT ''
) STRICT;
