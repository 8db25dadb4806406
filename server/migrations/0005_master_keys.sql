-- The master keys that have sealed a secret (SSO client secrets, signing keys, sink credentials),
-- by id only: a server that does not hold every key listed here refuses to start instead of
-- failing later on each secret. The keys themselves are never stored.
CREATE TABLE master_keys_used (
    key_id        TEXT PRIMARY KEY,
    first_used_at BIGINT NOT NULL
);
