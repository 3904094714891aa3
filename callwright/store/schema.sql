-- Call store schema, version 1.
--
-- Kept to portable SQL so a PostgreSQL store can run the same file: explicit primary keys, no
-- AUTOINCREMENT, booleans as INTEGER 0/1, JSON as TEXT. Floating-point columns are DOUBLE
-- PRECISION rather than REAL because REAL is 4-byte in PostgreSQL, which would round epoch
-- seconds to minutes; SQLite gives DOUBLE PRECISION the same REAL affinity.
--
-- Every statement is idempotent so the file can be applied on every open.
-- Child tables carry no foreign keys on purpose: events may reach the store before the call
-- record does, and they must not be rejected.

CREATE TABLE IF NOT EXISTS schema_version (
    version INTEGER NOT NULL PRIMARY KEY,
    applied_at DOUBLE PRECISION NOT NULL
);

CREATE TABLE IF NOT EXISTS calls (
    call_id TEXT NOT NULL PRIMARY KEY,
    channel TEXT NOT NULL,
    caller TEXT,
    started_at DOUBLE PRECISION NOT NULL,
    ended_at DOUBLE PRECISION,
    status TEXT NOT NULL,
    outcome TEXT,
    end_reason TEXT,
    parameters_json TEXT NOT NULL
);

CREATE INDEX IF NOT EXISTS calls_started_at_idx ON calls (started_at);
CREATE INDEX IF NOT EXISTS calls_status_idx ON calls (status, started_at);
CREATE INDEX IF NOT EXISTS calls_outcome_idx ON calls (outcome, started_at);

CREATE TABLE IF NOT EXISTS call_events (
    call_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    kind TEXT NOT NULL,
    at_ms DOUBLE PRECISION NOT NULL,
    data_json TEXT NOT NULL,
    PRIMARY KEY (call_id, seq)
);

CREATE TABLE IF NOT EXISTS utterances (
    call_id TEXT NOT NULL,
    idx INTEGER NOT NULL,
    role TEXT NOT NULL,
    text TEXT NOT NULL,
    interrupted INTEGER NOT NULL,
    start_ms DOUBLE PRECISION,
    end_ms DOUBLE PRECISION,
    PRIMARY KEY (call_id, idx)
);

-- One column per TurnTimeline field; ttfa_ms is derived but stored so it can be queried.
CREATE TABLE IF NOT EXISTS turn_timelines (
    call_id TEXT NOT NULL,
    turn_index INTEGER NOT NULL,
    speech_start_ms DOUBLE PRECISION,
    speech_end_ms DOUBLE PRECISION,
    end_of_turn_ms DOUBLE PRECISION,
    transcript_ready_ms DOUBLE PRECISION,
    first_token_ms DOUBLE PRECISION,
    first_sentence_ms DOUBLE PRECISION,
    tts_first_audio_ms DOUBLE PRECISION,
    first_audio_sent_ms DOUBLE PRECISION,
    stt_compute_ms DOUBLE PRECISION,
    speculative_hit INTEGER,
    interrupted INTEGER NOT NULL,
    ttfa_ms DOUBLE PRECISION,
    PRIMARY KEY (call_id, turn_index)
);

-- Version 2: usage, recordings, raw transcripts. New tables only, so version 1 databases
-- upgrade by applying this file again.

CREATE TABLE IF NOT EXISTS call_usage (
    call_id TEXT NOT NULL PRIMARY KEY,
    stt_audio_s DOUBLE PRECISION NOT NULL,
    tts_chars INTEGER NOT NULL,
    llm_prompt_tokens INTEGER NOT NULL,
    llm_completion_tokens INTEGER NOT NULL
);

-- The stereo recording in contiguous chunks written as the call goes (a killed worker keeps
-- all but the last second or so). BYTEA has BLOB storage in SQLite too: blobs keep any affinity.
CREATE TABLE IF NOT EXISTS recording_chunks (
    call_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    start_ms DOUBLE PRECISION NOT NULL,
    sample_rate INTEGER NOT NULL,
    pcm BYTEA NOT NULL,
    PRIMARY KEY (call_id, seq)
);

-- Unredacted transcript lines, kept only when the redaction policy says so, until retention.
CREATE TABLE IF NOT EXISTS raw_utterances (
    call_id TEXT NOT NULL,
    idx INTEGER NOT NULL,
    role TEXT NOT NULL,
    text TEXT NOT NULL,
    PRIMARY KEY (call_id, idx)
);

CREATE INDEX IF NOT EXISTS call_events_kind_idx ON call_events (kind, call_id);

-- Version 3: workers (a heartbeat each) and which worker runs which call, so a worker marks
-- cut off only the calls of dead workers; stream tokens and call references used once, shared
-- by every worker so none accepts a replay.

CREATE TABLE IF NOT EXISTS workers (
    worker_id TEXT NOT NULL PRIMARY KEY,
    started_at DOUBLE PRECISION NOT NULL,
    heartbeat_at DOUBLE PRECISION NOT NULL
);

CREATE TABLE IF NOT EXISTS call_workers (
    call_id TEXT NOT NULL PRIMARY KEY,
    worker_id TEXT NOT NULL
);

CREATE INDEX IF NOT EXISTS call_workers_worker_idx ON call_workers (worker_id);

CREATE TABLE IF NOT EXISTS used_once (
    key TEXT NOT NULL PRIMARY KEY,
    expires_at DOUBLE PRECISION NOT NULL
);

-- Version 4: values one worker leaves for whichever worker the platform reaches next (the
-- TwiML a call follows after its stream: a transfer), each taken once, forgotten at expiry.

CREATE TABLE IF NOT EXISTS handovers (
    key TEXT NOT NULL PRIMARY KEY,
    value TEXT NOT NULL,
    expires_at DOUBLE PRECISION NOT NULL
);
