-- A create job can be cancelled (docs/store.md). SQLite rebuilds the jobs
-- table for the new CHECK; PostgreSQL replaces the constraint in place.
ALTER TABLE jobs
  DROP CONSTRAINT jobs_state_check,
  ADD CONSTRAINT jobs_state_check
    CHECK (state IN ('queued', 'running', 'done', 'failed', 'compensating', 'compensated',
                     'cancelled'));
