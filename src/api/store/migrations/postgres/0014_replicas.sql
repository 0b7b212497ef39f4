-- zlh-api replicas (docs/operations.md, issue 25); the same schema as
-- sqlite/0014_replicas.sql, see the comments there.
CREATE TABLE replicas (
  id           TEXT   PRIMARY KEY,
  driver       TEXT   NOT NULL,
  host         TEXT   NOT NULL,
  pid          BIGINT NOT NULL,
  started_at   BIGINT NOT NULL,
  heartbeat_at BIGINT NOT NULL,
  expires_at   BIGINT NOT NULL
);
CREATE INDEX replicas_expires ON replicas(expires_at);

CREATE TABLE deployment (
  one         BIGINT PRIMARY KEY CHECK (one = 1),
  driver      TEXT   NOT NULL,
  host        TEXT   NOT NULL,
  recorded_at BIGINT NOT NULL
);

CREATE TABLE server_samples (
  server_id BIGINT NOT NULL,
  t_ms      BIGINT NOT NULL,
  sample    json   NOT NULL,
  PRIMARY KEY (server_id, t_ms)
);
CREATE INDEX server_samples_t ON server_samples(t_ms);
