-- Cluster-wide background jobs (the quarantine purge; later the audit outbox and signing-key
-- rotation) run on one replica at a time: the one holding the job's lease.
CREATE TABLE job_leases (
    job        TEXT PRIMARY KEY,
    -- The replica holding the lease (a random id per process).
    holder     TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);
