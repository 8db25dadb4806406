-- Sign-in through SSO connections: the users it creates, their sessions, and the short-lived
-- state of a sign-in under way. Portable SQL: the same file runs on SQLite and PostgreSQL.

-- A person as one connection's identity provider knows them: created at their first sign-in,
-- updated at each one (signin/users.rs).
CREATE TABLE users (
    id              TEXT PRIMARY KEY,
    workspace_id    TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    connection_id   TEXT NOT NULL REFERENCES sso_connections (id) ON DELETE CASCADE,
    -- The IdP's stable subject (`sub`, or the SAML NameID).
    subject         TEXT NOT NULL,
    email           TEXT,
    name            TEXT,
    -- JSON arrays: the IdP's groups as last asserted, and the StatusPulse groups they map to
    -- (the `group` principal of role bindings).
    idp_groups      TEXT NOT NULL,
    groups          TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    last_sign_in_at BIGINT NOT NULL,
    CONSTRAINT users_subject_key UNIQUE (connection_id, subject)
);
CREATE INDEX users_workspace_idx ON users (workspace_id, id);

-- Server-side sessions. The cookie carries a 256-bit random secret; only its SHA-256 is stored.
CREATE TABLE sessions (
    id             TEXT PRIMARY KEY,
    workspace_id   TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    user_id        TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    connection_id  TEXT NOT NULL,
    secret_hash    TEXT NOT NULL,
    -- How the user proved who they are: 1 when the IdP proved multi-factor authentication.
    mfa            BIGINT NOT NULL,
    -- JSON array of the ID token's `amr`, and its `acr` (or the SAML context class).
    amr            TEXT NOT NULL,
    acr            TEXT,
    source_ip      TEXT,
    user_agent     TEXT,
    created_at     BIGINT NOT NULL,
    last_seen_at   BIGINT NOT NULL,
    -- Absolute end; the idle end is last_seen_at + the idle timeout.
    expires_at     BIGINT NOT NULL,
    revoked_at     BIGINT,
    revoked_reason TEXT,
    CONSTRAINT sessions_secret_key UNIQUE (secret_hash)
);
CREATE INDEX sessions_user_idx ON sessions (user_id, id);
CREATE INDEX sessions_workspace_idx ON sessions (workspace_id, id);
CREATE INDEX sessions_expiry_idx ON sessions (expires_at);

-- A sign-in under way, between the redirect to the IdP and its return (at most 10 minutes).
-- Keyed by the SHA-256 of `state`; bound to the browser by the SHA-256 of the secret in its
-- sign-in cookie, from which the PKCE verifier and the nonce are derived: nothing stored here
-- completes a sign-in without that browser. Deleted when used (single use) or expired.
CREATE TABLE sso_login_states (
    state_hash    TEXT PRIMARY KEY,
    browser_hash  TEXT NOT NULL,
    workspace_id  TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    connection_id TEXT NOT NULL REFERENCES sso_connections (id) ON DELETE CASCADE,
    return_to     TEXT NOT NULL,
    -- SAML only: the AuthnRequest's ID, which the response's InResponseTo must name.
    request_id    TEXT,
    created_at    BIGINT NOT NULL,
    expires_at    BIGINT NOT NULL
);
CREATE INDEX sso_login_states_expiry_idx ON sso_login_states (expires_at);

-- SAML assertion ids already consumed, until the assertion expires: a replayed assertion is
-- refused even within its validity window.
CREATE TABLE saml_assertions_seen (
    assertion_hash TEXT PRIMARY KEY,
    connection_id  TEXT NOT NULL REFERENCES sso_connections (id) ON DELETE CASCADE,
    expires_at     BIGINT NOT NULL
);
CREATE INDEX saml_assertions_seen_expiry_idx ON saml_assertions_seen (expires_at);
