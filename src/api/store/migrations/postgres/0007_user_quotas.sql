-- Per-user quota overrides (docs/security.md, "Quotas"): NULL = the
-- operator's default, 0 = unlimited.
CREATE TABLE user_quotas (
  user_id    BIGINT PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
  servers    BIGINT CHECK (servers IS NULL OR servers >= 0),
  memory_mb  BIGINT CHECK (memory_mb IS NULL OR memory_mb >= 0),
  disk_gb    BIGINT CHECK (disk_gb IS NULL OR disk_gb >= 0),
  consoles   BIGINT CHECK (consoles IS NULL OR consoles >= 0),
  uploads    BIGINT CHECK (uploads IS NULL OR uploads >= 0),
  updated_at BIGINT NOT NULL
);
