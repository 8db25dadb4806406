-- The algorithm that signs an OAuth client's tokens (`signing_alg`: `ES256`, or `RS256` for
-- clients that verify only RSA signatures). Existing clients keep ES256, what they have always
-- been issued. No CHECK constraint, like `client_type`: the API is the one gate, so another
-- algorithm needs no migration (SQLite cannot drop a constraint without rebuilding the table).
-- Portable SQL (SQLite and PostgreSQL).
ALTER TABLE oauth_clients ADD COLUMN signing_alg TEXT NOT NULL DEFAULT 'ES256';
