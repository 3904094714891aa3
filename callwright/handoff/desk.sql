-- The handoff desk shared by the workers of one PostgreSQL database (handoff/pg_desk.py).
-- Applied by every worker at start (idempotent, serialized like the store's schema).

CREATE TABLE IF NOT EXISTS desk_queue (
    seq BIGSERIAL PRIMARY KEY,            -- the order of the queue, across workers
    call_id TEXT NOT NULL UNIQUE,
    worker_id TEXT NOT NULL,              -- the worker that has the caller
    packet TEXT NOT NULL,                 -- the context packet, JSON
    enqueued_at DOUBLE PRECISION NOT NULL,
    human TEXT,                           -- set once a person picked it up
    human_worker TEXT,                    -- the worker with that person's console
    line_id TEXT,
    picked_at DOUBLE PRECISION
);

CREATE TABLE IF NOT EXISTS desk_humans (
    line_id TEXT NOT NULL PRIMARY KEY,
    name TEXT NOT NULL,
    worker_id TEXT NOT NULL,
    signed_in_at DOUBLE PRECISION NOT NULL
);

CREATE TABLE IF NOT EXISTS desk_stats (
    id INTEGER NOT NULL PRIMARY KEY,
    handle_time_s DOUBLE PRECISION NOT NULL
);
