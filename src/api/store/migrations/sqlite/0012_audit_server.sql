-- A server's activity log (docs/activity.md): the audit log's entries about
-- one server, found by an index instead of by parsing `target`.
-- server_id is the <n> of a target "server:<n>" or "server:<n>/..."; no
-- foreign key: a deleted server's entries stay for the admin's audit view.
ALTER TABLE audit_log ADD COLUMN server_id INTEGER;

UPDATE audit_log
SET server_id = CAST(substr(target, 8,
      CASE WHEN instr(substr(target, 8), '/') > 0
           THEN instr(substr(target, 8), '/') - 1
           ELSE length(target) END) AS INTEGER)
WHERE target GLOB 'server:[0-9]*'
  AND substr(target, 8,
        CASE WHEN instr(substr(target, 8), '/') > 0
             THEN instr(substr(target, 8), '/') - 1
             ELSE length(target) END) NOT GLOB '*[^0-9]*';

CREATE INDEX audit_log_server ON audit_log(server_id, id) WHERE server_id IS NOT NULL;
