-- Console sessions of an API key (console/, issue 14): the bootstrap operator signs in to the web
-- console with an admin key before any SSO exists. The browser gets a session cookie, never the
-- key; the session acts as the key (its authority, its audit actor) and ends when the key stops
-- working (revoked, expired, past its rotation grace), when revoked itself, or at its own
-- expiry. Kept apart from `sessions`, whose rows are people (user_id, connection_id NOT NULL).
-- Portable SQL: the same file runs on SQLite and PostgreSQL.
CREATE TABLE key_sessions (
    -- `ses_…`: one id space with people's sessions, so DELETE /v1/sessions/{id} revokes either.
    id             TEXT PRIMARY KEY,
    workspace_id   TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    -- The key's row id (`key_…`) and public key id: the credential is read afresh by key id on
    -- every request, so a revocation ends the session at once on every replica.
    api_key_id     TEXT NOT NULL,
    key_id         TEXT NOT NULL,
    -- SHA-256 of the cookie's 256-bit random secret (`spk_…`); the secret is never stored.
    secret_hash    TEXT NOT NULL,
    source_ip      TEXT,
    user_agent     TEXT,
    created_at     BIGINT NOT NULL,
    last_seen_at   BIGINT NOT NULL,
    expires_at     BIGINT NOT NULL,
    revoked_at     BIGINT,
    revoked_reason TEXT,
    CONSTRAINT key_sessions_secret_key UNIQUE (secret_hash)
);
CREATE INDEX key_sessions_workspace_idx ON key_sessions (workspace_id, id);
CREATE INDEX key_sessions_key_idx ON key_sessions (key_id);
CREATE INDEX key_sessions_expiry_idx ON key_sessions (expires_at);
