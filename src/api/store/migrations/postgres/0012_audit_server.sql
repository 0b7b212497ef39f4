-- A server's activity log (docs/activity.md): server_id is the <n> of a
-- target "server:<n>" or "server:<n>/..."; no foreign key (a deleted
-- server's entries stay). The backfill matches SQLite's: digits only, up to
-- the first '/' or the end (at most 18, so the cast cannot overflow).
ALTER TABLE audit_log ADD COLUMN server_id BIGINT;

UPDATE audit_log
SET server_id = CAST(substring(target from '^server:([0-9]{1,18})(?:/|$)') AS BIGINT)
WHERE target ~ '^server:[0-9]{1,18}(/|$)';

CREATE INDEX audit_log_server ON audit_log(server_id, id) WHERE server_id IS NOT NULL;
