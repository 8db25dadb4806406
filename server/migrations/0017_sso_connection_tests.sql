-- Testing an SSO connection (POST /v1/sso-connections/{id}/test, the console's "Test
-- connection"): a sign-in round trip whose return reports the claims received and what the
-- connection's rules make of them, and creates no user and no session. Its state row records who
-- started the test, the actor of the `sso_connection.tested` audit event; a row without a tester
-- is an ordinary sign-in. Portable SQL: the same file runs on SQLite and PostgreSQL.
ALTER TABLE sso_login_states ADD COLUMN tester_type TEXT;
ALTER TABLE sso_login_states ADD COLUMN tester_id TEXT;
