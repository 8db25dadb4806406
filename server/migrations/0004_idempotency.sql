-- Idempotent creates (CONTRACT "Idempotency"): the first answer to a POST carrying an
-- `Idempotency-Key`, kept 24 hours per workspace so a retry gets it back instead of creating
-- again. The header's value is never stored: rows are found by a hash derived from it, and the
-- answer (which for a new API key holds its secret) is sealed with a key derived from it
-- (platform/idempotency.rs; SECURITY.md).
CREATE TABLE idempotency_keys (
    workspace_id TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    -- HKDF-SHA-256 of the header value, per workspace (hex).
    key_hash     TEXT NOT NULL,
    -- SHA-256 of the caller, method, path and body (hex): a different request is refused.
    request_hash TEXT NOT NULL,
    -- The request holding the reservation (random), and until when it may hold it: a request
    -- that died is taken over after that, since its create, unrecorded, was rolled back.
    token        TEXT NOT NULL,
    locked_until BIGINT NOT NULL,
    -- NULL while the first request runs; then its answer's status and the sealed answer
    -- (base64 of nonce, ciphertext and tag).
    status       BIGINT,
    answer       TEXT,
    created_at   BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, key_hash)
);
-- The 24-hour expiry, and the per-workspace count that bounds growth.
CREATE INDEX idempotency_keys_created_idx ON idempotency_keys (created_at);
CREATE INDEX idempotency_keys_workspace_created_idx ON idempotency_keys (workspace_id, created_at);
