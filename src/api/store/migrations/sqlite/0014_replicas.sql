-- zlh-api replicas (docs/operations.md, issue 25). Each running zlh-api
-- registers a row and heartbeats it; a row whose expires_at (unix ms) has
-- passed is a dead replica, removed by the next registration or beat. The
-- poller and the stats sampler split the servers among the live rows.
CREATE TABLE replicas (
  id           TEXT    PRIMARY KEY,
  driver       TEXT    NOT NULL,
  host         TEXT    NOT NULL,
  pid          INTEGER NOT NULL,
  started_at   INTEGER NOT NULL,
  heartbeat_at INTEGER NOT NULL,
  expires_at   INTEGER NOT NULL
) STRICT;
CREATE INDEX replicas_expires ON replicas(expires_at);

-- The installation's driver and, for lxc/local, the host that holds its
-- containers: one row, written by the first start. A replica started with
-- another driver (or, on lxc/local, on another host) is refused.
CREATE TABLE deployment (
  one         INTEGER PRIMARY KEY CHECK (one = 1),
  driver      TEXT    NOT NULL,
  host        TEXT    NOT NULL,
  recorded_at INTEGER NOT NULL
) STRICT;

-- Live stats published by the replica that samples a server, so a viewer
-- on another replica sees them (sample: the JSON of stats_json.hpp). Only
-- written while more than one replica is live; rows older than the stats
-- window are deleted by the writer. No foreign key: deleted servers' rows
-- age out.
CREATE TABLE server_samples (
  server_id INTEGER NOT NULL,
  t_ms      INTEGER NOT NULL,
  sample    TEXT    NOT NULL,
  PRIMARY KEY (server_id, t_ms)
) STRICT, WITHOUT ROWID;
CREATE INDEX server_samples_t ON server_samples(t_ms);
