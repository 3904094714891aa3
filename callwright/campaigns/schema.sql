-- Campaign tables, kept in the call store's database (SQLite or PostgreSQL). Idempotent.

CREATE TABLE IF NOT EXISTS campaigns (
    campaign_id TEXT NOT NULL PRIMARY KEY,
    name TEXT NOT NULL,
    from_number TEXT NOT NULL,
    purpose TEXT NOT NULL,
    status TEXT NOT NULL,
    concurrency INTEGER NOT NULL,
    pace_s DOUBLE PRECISION NOT NULL,
    max_attempts INTEGER NOT NULL,
    retry_backoff_s DOUBLE PRECISION NOT NULL,
    starts_at DOUBLE PRECISION NOT NULL,
    parameters_json TEXT NOT NULL,
    created_at DOUBLE PRECISION NOT NULL,
    last_dial_at DOUBLE PRECISION
);

CREATE TABLE IF NOT EXISTS campaign_contacts (
    campaign_id TEXT NOT NULL,
    contact_id TEXT NOT NULL,
    number TEXT NOT NULL,
    parameters_json TEXT NOT NULL,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    next_at DOUBLE PRECISION NOT NULL,
    claimed_by TEXT,
    call_id TEXT,
    call_sid TEXT,
    outcome TEXT,
    detail TEXT,
    updated_at DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (campaign_id, contact_id)
);

CREATE INDEX IF NOT EXISTS campaign_contacts_due_idx ON campaign_contacts (status, next_at);
-- A campaign's contacts by status (and when due): every runner tick counts its open and active
-- ones and lists its due ones, which would otherwise read every contact of the campaign.
CREATE INDEX IF NOT EXISTS campaign_contacts_open_idx
    ON campaign_contacts (campaign_id, status, next_at);
CREATE INDEX IF NOT EXISTS campaign_contacts_sid_idx ON campaign_contacts (call_sid);

-- Single outbound calls blocked by calling hours, placed at the next permitted moment.
CREATE TABLE IF NOT EXISTS scheduled_calls (
    scheduled_id TEXT NOT NULL PRIMARY KEY,
    to_number TEXT NOT NULL,
    from_number TEXT NOT NULL,
    purpose TEXT,
    parameters_json TEXT NOT NULL,
    status TEXT NOT NULL,
    due_at DOUBLE PRECISION NOT NULL,
    created_at DOUBLE PRECISION NOT NULL,
    created_by TEXT,
    claimed_by TEXT,
    call_id TEXT,
    call_sid TEXT,
    outcome TEXT,
    detail TEXT,
    updated_at DOUBLE PRECISION NOT NULL
);

CREATE INDEX IF NOT EXISTS scheduled_calls_due_idx ON scheduled_calls (status, due_at);
CREATE INDEX IF NOT EXISTS scheduled_calls_by_idx ON scheduled_calls (created_by, updated_at);

-- When a held-back call last went out, across every worker: they go out one at a time, at the
-- deployment's pace (`ScheduledCalls.take_dial_turn`), never in a burst when the window opens.
CREATE TABLE IF NOT EXISTS scheduled_pace (
    name TEXT NOT NULL PRIMARY KEY,
    last_at DOUBLE PRECISION NOT NULL
);

INSERT INTO scheduled_pace (name, last_at) VALUES ('dial', 0) ON CONFLICT (name) DO NOTHING;

-- The agent a campaign's calls get (a name from the server's configured agents); added later.
CREATE TABLE IF NOT EXISTS campaign_agents (
    campaign_id TEXT NOT NULL PRIMARY KEY,
    agent TEXT NOT NULL
);
