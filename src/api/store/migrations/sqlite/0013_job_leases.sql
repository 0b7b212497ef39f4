-- Job leases (issue 25; docs/store-engines.md, "Transactions and locking"):
-- several zlh-api replicas share the jobs table, and one replica runs a job
-- at a time. A replica claims a job by setting lease_owner (its replica id),
-- bumping lease_epoch and setting lease_expires_at (unix ms, the store's
-- clock); its heartbeat moves the expiry on. Every write the runner makes
-- for the job checks owner and epoch (fencing), so a replica that lost the
-- lease changes nothing. A job whose lease expired is claimed by another
-- replica and resumed at its first step that is not done.
ALTER TABLE jobs ADD COLUMN lease_owner TEXT;
ALTER TABLE jobs ADD COLUMN lease_epoch INTEGER NOT NULL DEFAULT 0;
ALTER TABLE jobs ADD COLUMN lease_expires_at INTEGER;
-- What a claim scans: the unfinished jobs, oldest first.
CREATE INDEX jobs_claimable ON jobs(id, lease_expires_at)
  WHERE state IN ('queued', 'running', 'compensating');
