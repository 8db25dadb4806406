-- Conditional access for the OAuth server (`/v1/access-policies`): each policy governs some OAuth
-- scopes and names the conditions under which they may be issued. Evaluated at authorization
-- and at every refresh (authz/conditional.rs). Portable SQL (SQLite and PostgreSQL).
CREATE TABLE access_policies (
    id           TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    description  TEXT NOT NULL,
    -- 1 when the policy applies; a disabled one restricts nothing.
    enabled      BIGINT NOT NULL,
    -- JSON arrays: the OAuth scopes governed, then the conditions (an empty list is no condition).
    scopes       TEXT NOT NULL,
    groups       TEXT NOT NULL,
    client_ids   TEXT NOT NULL,
    require_mfa  BIGINT NOT NULL,
    amr          TEXT NOT NULL,
    networks     TEXT NOT NULL,
    regions      TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL,
    CONSTRAINT access_policies_name_key UNIQUE (workspace_id, name)
);

-- What conditional access withheld at authorization (JSON: scope, policy, condition), for the
-- `token.issued` event of the code's exchange.
ALTER TABLE oauth_codes ADD COLUMN policy_withheld TEXT;
