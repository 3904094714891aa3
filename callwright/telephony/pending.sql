-- Telephony calls answered but not yet streaming, shared by the workers of one database
-- (telephony/pending.py): the webhook may reach one worker and the stream another.

CREATE TABLE IF NOT EXISTS pending_calls (
    ref TEXT NOT NULL PRIMARY KEY,        -- what the stream token names
    call_sid TEXT,                        -- the platform's call id, once known
    data TEXT NOT NULL,                   -- the rest of the PendingCall, JSON
    created_at DOUBLE PRECISION NOT NULL
);

CREATE INDEX IF NOT EXISTS pending_calls_sid_idx ON pending_calls (call_sid);

CREATE TABLE IF NOT EXISTS pending_statuses (
    id TEXT NOT NULL PRIMARY KEY,
    ref TEXT NOT NULL,
    at DOUBLE PRECISION NOT NULL,
    data TEXT NOT NULL                    -- one status callback, JSON
);

CREATE INDEX IF NOT EXISTS pending_statuses_ref_idx ON pending_statuses (ref);

-- Calls whose stream started (on any worker), kept for a while after it ends: a status
-- callback reaching a worker that does not run the call is recorded on the call all the same.
CREATE TABLE IF NOT EXISTS streamed_calls (
    call_sid TEXT NOT NULL PRIMARY KEY,
    call_id TEXT NOT NULL,
    started_at DOUBLE PRECISION NOT NULL
);
