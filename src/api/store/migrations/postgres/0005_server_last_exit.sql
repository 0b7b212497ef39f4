-- How the server's workload last ended, as its agent reports it; '' until
-- it first ended. JSON object text written by the poller only.
ALTER TABLE servers ADD COLUMN last_exit TEXT NOT NULL DEFAULT '';
