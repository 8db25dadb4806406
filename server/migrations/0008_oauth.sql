-- StatusPulse as an OAuth 2.0 / OIDC authorization server: its signing keys, its clients, the
-- authorization codes and refresh tokens it issues. Portable SQL (SQLite and PostgreSQL).

-- Keys that sign our access and ID tokens. Each signs during one rotation slot, from
-- `activates_at` for one rotation period; it is published (JWKS) from `created_at`, at least a
-- period before it signs, and stays published until every token it signed has expired. One key
-- per algorithm and slot: replicas racing to create a slot's key insert one row.
CREATE TABLE signing_keys (
    kid            TEXT PRIMARY KEY,
    alg            TEXT NOT NULL,
    -- The public JWK (JSON), as the JWKS publishes it.
    public_jwk     TEXT NOT NULL,
    -- `sp1.<master key id>.<…>` (PKCS#8), sealed for `signing_key:<kid>`; never in the clear.
    private_sealed TEXT NOT NULL,
    created_at     BIGINT NOT NULL,
    activates_at   BIGINT NOT NULL,
    CONSTRAINT signing_keys_slot_key UNIQUE (alg, activates_at)
);

-- OAuth clients of a workspace (`/v1/oauth-clients`).
CREATE TABLE oauth_clients (
    id             TEXT PRIMARY KEY,
    workspace_id   TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    name           TEXT NOT NULL,
    -- public (PKCE only) | confidential (a secret too)
    client_type    TEXT NOT NULL,
    -- Argon2id PHC string of the client secret (confidential clients); never the secret.
    secret_hash    TEXT,
    -- JSON arrays.
    redirect_uris  TEXT NOT NULL,
    allowed_scopes TEXT NOT NULL,
    created_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL,
    CONSTRAINT oauth_clients_name_key UNIQUE (workspace_id, name)
);

-- Authorization codes: single use, at most 60 s, bound to the client, the redirect URI and the
-- PKCE challenge. Only the code's SHA-256 is stored.
CREATE TABLE oauth_codes (
    code_hash      TEXT PRIMARY KEY,
    workspace_id   TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    client_id      TEXT NOT NULL REFERENCES oauth_clients (id) ON DELETE CASCADE,
    session_id     TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    user_id        TEXT NOT NULL,
    redirect_uri   TEXT NOT NULL,
    code_challenge TEXT NOT NULL,
    -- Space-separated granted OAuth scopes.
    scope          TEXT NOT NULL,
    nonce          TEXT,
    -- The refresh family issued from this code: a replayed code revokes it.
    family_id      TEXT NOT NULL,
    created_at     BIGINT NOT NULL,
    expires_at     BIGINT NOT NULL,
    used_at        BIGINT
);
CREATE INDEX oauth_codes_expiry_idx ON oauth_codes (expires_at);

-- Refresh tokens: opaque, rotated on every use. A family is every token descended from one
-- authorization code; reuse of a rotated token (after a few seconds' grace) revokes the family
-- and the session. Only the token's SHA-256 is stored.
CREATE TABLE refresh_tokens (
    token_hash   TEXT PRIMARY KEY,
    family_id    TEXT NOT NULL,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    client_id    TEXT NOT NULL REFERENCES oauth_clients (id) ON DELETE CASCADE,
    session_id   TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    user_id      TEXT NOT NULL,
    scope        TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    -- Absolute: 24 h from the code's sign-in, not extended by rotation.
    expires_at   BIGINT NOT NULL,
    -- Set when it is exchanged for its successor.
    rotated_at   BIGINT,
    revoked_at   BIGINT
);
CREATE INDEX refresh_tokens_family_idx ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_session_idx ON refresh_tokens (session_id);
CREATE INDEX refresh_tokens_expiry_idx ON refresh_tokens (expires_at);
