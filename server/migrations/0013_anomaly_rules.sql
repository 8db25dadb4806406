-- Anomaly alerts (`/v1/anomaly-rules`, server/src/anomaly): rules, the detector's cursor on each
-- workspace's audit chain, its incidents, and the networks each key was used from.
-- Portable SQL (SQLite and PostgreSQL).
CREATE TABLE anomaly_rules (
    id                TEXT PRIMARY KEY,
    workspace_id      TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    name              TEXT NOT NULL,
    -- rapid_rotation, cross_region_token_exchange, failed_auth_burst, revoked_key_use, new_network
    kind              TEXT NOT NULL,
    enabled           BIGINT NOT NULL,
    -- NULL where the kind takes no such threshold.
    threshold         BIGINT,
    window_minutes    BIGINT NOT NULL,
    min_key_age_hours BIGINT,
    created_at        BIGINT NOT NULL,
    updated_at        BIGINT NOT NULL,
    CONSTRAINT anomaly_rules_name_key UNIQUE (workspace_id, name)
);

-- The last audit sequence number of the workspace's chain the detector has looked at. Advanced
-- in the transaction that appends the alerts those events raised: no alert lost or repeated.
CREATE TABLE anomaly_cursors (
    workspace_id TEXT PRIMARY KEY REFERENCES workspaces (id) ON DELETE CASCADE,
    seq          BIGINT NOT NULL
);

-- What the detector remembers of one subject (a key, a family, a network, ...) under one rule:
-- recent observations (JSON, bounded) and, while an incident is open, when it was alerted.
CREATE TABLE anomaly_incidents (
    id           TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    rule_id      TEXT NOT NULL REFERENCES anomaly_rules (id) ON DELETE CASCADE,
    subject      TEXT NOT NULL,
    state        TEXT NOT NULL,
    alerted_at   BIGINT,
    last_at      BIGINT NOT NULL,
    CONSTRAINT anomaly_incidents_subject_key UNIQUE (rule_id, subject)
);
CREATE INDEX anomaly_incidents_by_age ON anomaly_incidents (workspace_id, last_at);
CREATE INDEX anomaly_incidents_by_last_at ON anomaly_incidents (last_at);

-- Client networks (/24, /64) each key authenticated from, at most 64 per key; `detected` is 0
-- until the detector has judged the row (the `new_network` rule).
CREATE TABLE api_key_networks (
    api_key_id    TEXT NOT NULL REFERENCES api_keys (id) ON DELETE CASCADE,
    network       TEXT NOT NULL,
    workspace_id  TEXT NOT NULL,
    first_seen_at BIGINT NOT NULL,
    detected      BIGINT NOT NULL,
    PRIMARY KEY (api_key_id, network)
);
CREATE INDEX api_key_networks_undetected ON api_key_networks (detected, first_seen_at);

-- Existing workspaces: the detector starts at the head of each chain (history is not alerted
-- on), and every workspace gets one default rule of each kind. Rule ids derive from the
-- workspace id, since the two databases share no random-id function: its UUIDv7 with the
-- version digit (always 7) replaced by the kind's number 1 to 5, so unique like the workspace's
-- and never equal to an id minted later.
INSERT INTO anomaly_cursors (workspace_id, seq)
    SELECT w.id, COALESCE((SELECT h.seq FROM audit_chain_heads h WHERE h.workspace_id = w.id), 0)
    FROM workspaces w;

INSERT INTO anomaly_rules (id, workspace_id, name, kind, enabled, threshold, window_minutes,
        min_key_age_hours, created_at, updated_at)
    SELECT 'anr_' || SUBSTR(w.id, 4, 12) || '1' || SUBSTR(w.id, 17), w.id, 'default-rapid-rotation', 'rapid_rotation',
        1, 3, 60, NULL, w.created_at, w.created_at FROM workspaces w;
INSERT INTO anomaly_rules (id, workspace_id, name, kind, enabled, threshold, window_minutes,
        min_key_age_hours, created_at, updated_at)
    SELECT 'anr_' || SUBSTR(w.id, 4, 12) || '2' || SUBSTR(w.id, 17), w.id, 'default-cross-region-token-exchange',
        'cross_region_token_exchange', 1, NULL, 60, NULL, w.created_at, w.created_at
    FROM workspaces w;
INSERT INTO anomaly_rules (id, workspace_id, name, kind, enabled, threshold, window_minutes,
        min_key_age_hours, created_at, updated_at)
    SELECT 'anr_' || SUBSTR(w.id, 4, 12) || '3' || SUBSTR(w.id, 17), w.id, 'default-failed-auth-burst',
        'failed_auth_burst', 1, 20, 5, NULL, w.created_at, w.created_at FROM workspaces w;
INSERT INTO anomaly_rules (id, workspace_id, name, kind, enabled, threshold, window_minutes,
        min_key_age_hours, created_at, updated_at)
    SELECT 'anr_' || SUBSTR(w.id, 4, 12) || '4' || SUBSTR(w.id, 17), w.id, 'default-revoked-key-use',
        'revoked_key_use', 1, NULL, 60, NULL, w.created_at, w.created_at FROM workspaces w;
INSERT INTO anomaly_rules (id, workspace_id, name, kind, enabled, threshold, window_minutes,
        min_key_age_hours, created_at, updated_at)
    SELECT 'anr_' || SUBSTR(w.id, 4, 12) || '5' || SUBSTR(w.id, 17), w.id, 'default-new-network', 'new_network',
        1, NULL, 60, 24, w.created_at, w.created_at FROM workspaces w;
