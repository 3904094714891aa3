-- Compliance tables, kept in the call store's database (SQLite or PostgreSQL).
-- Portable SQL like store/schema.sql; every statement is idempotent and applied on every open.
-- Numbers are E.164 (compliance/numbers.py).

CREATE TABLE IF NOT EXISTS do_not_call (
    number TEXT NOT NULL PRIMARY KEY,
    source TEXT NOT NULL,
    reason TEXT NOT NULL,
    added_at DOUBLE PRECISION NOT NULL
);

-- Consent to automated outbound calls: one row per number and purpose, revocable.
CREATE TABLE IF NOT EXISTS outbound_consent (
    consent_id TEXT NOT NULL PRIMARY KEY,
    number TEXT NOT NULL,
    purpose TEXT NOT NULL,
    method TEXT NOT NULL,
    evidence TEXT NOT NULL,
    obtained_at DOUBLE PRECISION NOT NULL,
    recorded_at DOUBLE PRECISION NOT NULL,
    revoked_at DOUBLE PRECISION,
    revoked_reason TEXT
);

CREATE INDEX IF NOT EXISTS outbound_consent_number_idx ON outbound_consent (number);

-- The compliance log: every disclosure, consent answer, opt-out and blocked call. Append-only
-- (triggers or rules added per dialect in compliance/log.py).
CREATE TABLE IF NOT EXISTS compliance_log (
    entry_id TEXT NOT NULL PRIMARY KEY,
    at DOUBLE PRECISION NOT NULL,
    kind TEXT NOT NULL,
    number TEXT,
    call_id TEXT,
    detail_json TEXT NOT NULL
);

CREATE INDEX IF NOT EXISTS compliance_log_at_idx ON compliance_log (at);

-- The calls counted against each credential's hourly outbound limit, for every worker on the
-- store (compliance/outbound_limit.py): a slot is taken before a call is placed or held back,
-- only while the credential holds fewer than its limit in the last hour.
CREATE TABLE IF NOT EXISTS outbound_slots (
    slot_id TEXT NOT NULL PRIMARY KEY,
    holder TEXT NOT NULL,
    taken_at DOUBLE PRECISION NOT NULL
);

CREATE INDEX IF NOT EXISTS outbound_slots_holder_idx ON outbound_slots (holder, taken_at);
