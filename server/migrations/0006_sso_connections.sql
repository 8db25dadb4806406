-- SSO connections (/v1/sso-connections): one identity provider a workspace federates sign-in to.
-- Portable SQL: the same file runs on SQLite and PostgreSQL.
CREATE TABLE sso_connections (
    id                   TEXT PRIMARY KEY,
    workspace_id         TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    name                 TEXT NOT NULL,
    -- okta | azure_ad | onelogin | oidc | saml; immutable.
    kind                 TEXT NOT NULL,
    -- JSON object: the block of the kind (domain, tenant_id, issuer, saml fields, ...).
    settings             TEXT NOT NULL,
    endpoint_override    TEXT,
    client_id            TEXT,
    -- `sp1.<master key id>.<…>`, sealed for `sso_connection:<id>:client_secret`; never the clear
    -- secret. NULL when none was given.
    client_secret_sealed TEXT,
    -- JSON arrays / object, read back with db::stored_list (fail closed).
    scopes               TEXT NOT NULL,
    email_domains        TEXT NOT NULL,
    require_mfa          BIGINT NOT NULL,
    acr_values           TEXT NOT NULL,
    allowed_groups       TEXT NOT NULL,
    group_mappings       TEXT NOT NULL,
    created_at           BIGINT NOT NULL,
    updated_at           BIGINT NOT NULL,
    CONSTRAINT sso_connections_name_key UNIQUE (workspace_id, name)
);

-- `?email=` sign-in picks the connection by domain, so a domain belongs to one connection per
-- workspace; the constraint makes that hold under concurrent writes too.
CREATE TABLE sso_email_domains (
    workspace_id  TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    domain        TEXT NOT NULL,
    connection_id TEXT NOT NULL REFERENCES sso_connections (id) ON DELETE CASCADE,
    CONSTRAINT sso_email_domains_key PRIMARY KEY (workspace_id, domain)
);
CREATE INDEX sso_email_domains_connection_idx ON sso_email_domains (connection_id);
