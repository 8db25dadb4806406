-- Environment clusters and role bindings: least privilege for service accounts.

CREATE TABLE environment_clusters (
    id           TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    -- Immutable: bindings, keys and gateways refer to clusters by name.
    name         TEXT NOT NULL,
    environment  TEXT NOT NULL,
    description  TEXT NOT NULL DEFAULT '',
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL,
    CONSTRAINT environment_clusters_name_key UNIQUE (workspace_id, name)
);

CREATE TABLE role_bindings (
    id                   TEXT PRIMARY KEY,
    workspace_id         TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    -- 'service_account' (principal_id is its id) or 'group' (an SSO group name).
    principal_type       TEXT NOT NULL,
    principal_id         TEXT NOT NULL,
    scopes               TEXT NOT NULL,
    -- JSON array of cluster names; empty means every cluster of the key's environment.
    environment_clusters TEXT NOT NULL,
    created_at           BIGINT NOT NULL,
    updated_at           BIGINT NOT NULL
);
CREATE INDEX role_bindings_principal_idx ON role_bindings (workspace_id, principal_type, principal_id);

-- A key may be narrowed to some clusters of its environment (JSON array of names; empty = all).
ALTER TABLE api_keys ADD COLUMN environment_clusters TEXT NOT NULL DEFAULT '[]';
