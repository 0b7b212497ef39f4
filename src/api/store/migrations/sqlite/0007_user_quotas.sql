-- Per-user quota overrides (docs/security.md, "Quotas"): NULL = the
-- operator's default (--quota-*), 0 = unlimited. Set by an admin with
-- PUT /api/admin/users/{id}/quotas.
CREATE TABLE user_quotas (
  user_id   INTEGER PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
  servers   INTEGER CHECK (servers IS NULL OR servers >= 0),
  memory_mb INTEGER CHECK (memory_mb IS NULL OR memory_mb >= 0),
  disk_gb   INTEGER CHECK (disk_gb IS NULL OR disk_gb >= 0),
  consoles  INTEGER CHECK (consoles IS NULL OR consoles >= 0),
  uploads   INTEGER CHECK (uploads IS NULL OR uploads >= 0),
  updated_at INTEGER NOT NULL
) STRICT;
