-- One schema for SQLite and PostgreSQL: only TEXT and BIGINT columns, times as Unix milliseconds.
-- Constraint names are part of the API: the error layer turns them into 409 answers.

CREATE TABLE workspaces (
    id              TEXT PRIMARY KEY,
    name            TEXT NOT NULL,
    rate_limit_tier TEXT NOT NULL DEFAULT 'standard',
    -- 1 for the operator workspace created by `bootstrap`, which alone may manage other workspaces.
    is_operator     BIGINT NOT NULL DEFAULT 0,
    -- 1 when the workspace's policy explicitly allows admin:all on service-account keys.
    allow_admin_all_for_service_accounts BIGINT NOT NULL DEFAULT 0,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);

CREATE TABLE service_accounts (
    id           TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    description  TEXT NOT NULL DEFAULT '',
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL,
    CONSTRAINT service_accounts_name_key UNIQUE (workspace_id, name)
);

CREATE TABLE api_keys (
    id                 TEXT PRIMARY KEY,
    -- Public id embedded in the key itself; the lookup column of every verification.
    key_id             TEXT NOT NULL UNIQUE,
    workspace_id       TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    name               TEXT NOT NULL,
    environment        TEXT NOT NULL,
    -- No foreign key: a revoked key outlives its service account during quarantine.
    service_account_id TEXT,
    scopes             TEXT NOT NULL,
    check_group_ids    TEXT NOT NULL,
    alert_route_ids    TEXT NOT NULL,
    rotation_days      BIGINT NOT NULL,
    -- Argon2id PHC string; never the key.
    secret_hash        TEXT NOT NULL,
    created_at         BIGINT NOT NULL,
    updated_at         BIGINT NOT NULL,
    expires_at         BIGINT NOT NULL,
    rotate_after       BIGINT NOT NULL,
    last_used_at       BIGINT,
    -- May lie in the future: a rotated key is revoked when its grace period ends.
    revoked_at         BIGINT,
    revocation_reason  TEXT,
    purge_after        BIGINT,
    successor_id       TEXT
);
CREATE INDEX api_keys_workspace_idx ON api_keys (workspace_id, id);
CREATE INDEX api_keys_purge_idx ON api_keys (purge_after);

CREATE TABLE audit_events (
    event_id     TEXT PRIMARY KEY,
    -- '' is the system chain: failed authentications that name no known workspace.
    workspace_id TEXT NOT NULL,
    seq          BIGINT NOT NULL,
    occurred_at  BIGINT NOT NULL,
    event_type   TEXT NOT NULL,
    actor_type   TEXT NOT NULL,
    actor_id     TEXT,
    target_type  TEXT,
    target_id    TEXT,
    outcome      TEXT NOT NULL,
    reason       TEXT,
    details      TEXT NOT NULL,
    prev_hash    TEXT NOT NULL,
    hash         TEXT NOT NULL,
    CONSTRAINT audit_events_seq_key UNIQUE (workspace_id, seq)
);
CREATE INDEX audit_events_type_idx ON audit_events (workspace_id, event_type, seq);
CREATE INDEX audit_events_target_idx ON audit_events (workspace_id, target_id, seq);

-- The head of each workspace's hash chain; appends compare-and-swap on it so that replicas
-- sharing one database never fork a chain.
CREATE TABLE audit_chain_heads (
    workspace_id TEXT PRIMARY KEY,
    seq          BIGINT NOT NULL,
    hash         TEXT NOT NULL
);
