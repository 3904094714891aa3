-- Operator access tables, kept in the call store's database (SQLite or PostgreSQL).
-- Portable SQL like schema.sql; every statement is idempotent and applied on every open.
-- Secrets are never stored: passwords as argon2id hashes, session tokens and API key secrets
-- as SHA-256 digests (they are 256-bit random, so a fast hash is enough).

CREATE TABLE IF NOT EXISTS operator_users (
    name TEXT NOT NULL PRIMARY KEY,
    role TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    created_at DOUBLE PRECISION NOT NULL
);

CREATE TABLE IF NOT EXISTS operator_sessions (
    token_hash TEXT NOT NULL PRIMARY KEY,
    user_name TEXT NOT NULL,
    created_at DOUBLE PRECISION NOT NULL,
    expires_at DOUBLE PRECISION NOT NULL,
    revoked_at DOUBLE PRECISION
);

CREATE INDEX IF NOT EXISTS operator_sessions_user_idx ON operator_sessions (user_name);

CREATE TABLE IF NOT EXISTS api_keys (
    key_id TEXT NOT NULL PRIMARY KEY,
    name TEXT NOT NULL,
    role TEXT NOT NULL,
    secret_hash TEXT NOT NULL,
    created_at DOUBLE PRECISION NOT NULL,
    revoked_at DOUBLE PRECISION
);

-- Append-only: the store has no statement that updates or deletes a row, and the database
-- refuses both (a trigger in SQLite, rules in PostgreSQL: see access.py).
CREATE TABLE IF NOT EXISTS access_audit (
    entry_id TEXT NOT NULL PRIMARY KEY,
    at DOUBLE PRECISION NOT NULL,
    actor TEXT NOT NULL,
    actor_kind TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT,
    address TEXT,
    detail_json TEXT NOT NULL
);

CREATE INDEX IF NOT EXISTS access_audit_at_idx ON access_audit (at);

-- Failed sign-ins, per key ("name:<lower-cased name>" or "address:<ip>"), shared by every
-- worker so the limits hold across a cluster. Rows older than the window are deleted as new
-- ones arrive.
CREATE TABLE IF NOT EXISTS login_failures (
    failure_id TEXT NOT NULL PRIMARY KEY,
    failure_key TEXT NOT NULL,
    at DOUBLE PRECISION NOT NULL
);

CREATE INDEX IF NOT EXISTS login_failures_key_idx ON login_failures (failure_key, at);

-- Where each operator has signed in before ("<lower-cased name>@<address or /64>"), and when
-- last: their password checks get a lane of their own, which strangers guessing from other
-- addresses cannot fill. Rows not refreshed for 90 days are deleted as new ones arrive.
CREATE TABLE IF NOT EXISTS known_signins (
    name_at_address TEXT NOT NULL PRIMARY KEY,
    last_at DOUBLE PRECISION NOT NULL
);
