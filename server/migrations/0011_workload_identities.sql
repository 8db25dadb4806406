-- Workload identity federation (`/v1/workload-identities`): trust policies under which a
-- workload exchanges its platform's OIDC token for a StatusPulse access token acting as a
-- service account (RFC 8693 at `/oauth2/token`, oauth/exchange.rs). Portable SQL.
CREATE TABLE workload_identities (
    id                     TEXT PRIMARY KEY,
    workspace_id           TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    name                   TEXT NOT NULL,
    -- The external issuer (`iss`), without a trailing slash.
    issuer                 TEXT NOT NULL,
    audience               TEXT NOT NULL,
    -- JSON object: claim name -> exact value or glob.
    conditions             TEXT NOT NULL,
    -- No foreign key: a trust policy outlives its service account's deletion, and an exchange
    -- under it is refused with that reason.
    service_account_id     TEXT NOT NULL,
    -- JSON array of catalog scopes.
    scopes                 TEXT NOT NULL,
    token_lifetime_seconds BIGINT NOT NULL,
    created_at             BIGINT NOT NULL,
    updated_at             BIGINT NOT NULL,
    CONSTRAINT workload_identities_name_key UNIQUE (workspace_id, name)
);
CREATE INDEX workload_identities_issuer_idx ON workload_identities (issuer);

-- Subject tokens already exchanged, until they expire: a token (by its issuer and `jti`, or its
-- own digest when it has none) is exchanged once. Only a SHA-256 is stored.
CREATE TABLE workload_tokens_seen (
    token_hash TEXT PRIMARY KEY,
    expires_at BIGINT NOT NULL
);
CREATE INDEX workload_tokens_seen_expiry_idx ON workload_tokens_seen (expires_at);
