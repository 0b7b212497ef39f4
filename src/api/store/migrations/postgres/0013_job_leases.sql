-- Job leases (issue 25; docs/store-engines.md, "Transactions and locking"):
-- several zlh-api replicas share the jobs table, and one replica runs a job
-- at a time. A replica claims a job (SELECT … FOR UPDATE SKIP LOCKED) by
-- setting lease_owner (its replica id), bumping lease_epoch and setting
-- lease_expires_at (unix ms, the store's clock); its heartbeat moves the
-- expiry on. Every write the runner makes for the job checks owner and
-- epoch (fencing), so a replica that lost the lease changes nothing.
ALTER TABLE jobs ADD COLUMN lease_owner TEXT;
ALTER TABLE jobs ADD COLUMN lease_epoch BIGINT NOT NULL DEFAULT 0;
ALTER TABLE jobs ADD COLUMN lease_expires_at BIGINT;
-- What a claim scans: the unfinished jobs, oldest first.
CREATE INDEX jobs_claimable ON jobs(id, lease_expires_at)
  WHERE state IN ('queued', 'running', 'compensating');
