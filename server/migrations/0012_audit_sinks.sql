-- Audit sinks (`/v1/audit-sinks`, audit/sinks/): each forwards its workspace's chain to a SIEM
-- through a durable outbox. The outbox is the chain itself: a sink keeps a cursor on it
-- (`delivered_seq`), advanced only after the destination accepted a batch, so delivery is at
-- least once and in chain order, and survives restarts and outages. Portable SQL.
CREATE TABLE audit_sinks (
    id                     TEXT PRIMARY KEY,
    workspace_id           TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    name                   TEXT NOT NULL,
    -- `webhook` or `cloudwatch`.
    kind                   TEXT NOT NULL,
    -- JSON array of event type patterns.
    event_types            TEXT NOT NULL,
    enabled                BIGINT NOT NULL,
    -- JSON of the kind's settings block, without any secret.
    settings               TEXT NOT NULL,
    -- The webhook signing secret or the AWS secret access key, sealed with the master key
    -- (platform/secrets.rs); NULL when the sink uses none.
    secret_sealed          TEXT,
    -- A webhook secret replaced by a rotation keeps signing (a second signature) until then.
    previous_secret_sealed TEXT,
    previous_secret_until  BIGINT,
    -- The last chain position delivered (or passed over by the filter).
    delivered_seq          BIGINT NOT NULL,
    -- Bumped by each replay, so a replayed batch has a new message id (receivers that
    -- de-duplicate by `webhook-id` do not drop it) and an in-flight batch cannot move the
    -- cursor back over a replay.
    generation             BIGINT NOT NULL DEFAULT 0,
    -- `active` or `failing`.
    status                 TEXT NOT NULL DEFAULT 'active',
    consecutive_failures   BIGINT NOT NULL DEFAULT 0,
    failing_since          BIGINT,
    next_attempt_at        BIGINT NOT NULL DEFAULT 0,
    last_error             TEXT,
    last_error_at          BIGINT,
    last_success_at        BIGINT,
    created_at             BIGINT NOT NULL,
    updated_at             BIGINT NOT NULL,
    CONSTRAINT audit_sinks_name_key UNIQUE (workspace_id, name)
);
CREATE INDEX audit_sinks_workspace_idx ON audit_sinks (workspace_id);
