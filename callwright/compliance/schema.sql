-- Compliance tables, kept in the call store's database (SQLite or PostgreSQL).
-- Portable SQL like store/schema.sql; every statement is idempotent and applied on every open.
-- Numbers are E.164 (compliance/numbers.py).

CREATE TABLE IF NOT EXISTS do_not_call (
    number TEXT NOT NULL PRIMARY KEY,
    source TEXT NOT NULL,
    reason TEXT NOT NULL,
    added_at DOUBLE PRECISION NOT NULL
);
