-- liverec metadata, version 2: the data plane's durable state.

-- Callbacks waiting for delivery (at-least-once; a row is deleted once delivered or
-- given up). The body is stored without `t` and `sign`, which are added per attempt.
CREATE TABLE callback_outbox (
    event_id        TEXT PRIMARY KEY,
    url             TEXT NOT NULL,
    callback_key    TEXT NOT NULL,
    body            TEXT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_ms INTEGER NOT NULL,
    created_ms      INTEGER NOT NULL,
    last_error      TEXT
);
CREATE INDEX callback_outbox_due ON callback_outbox (next_attempt_ms);

-- Recordings in progress: enough to recover, index and announce each one after a crash.
-- `state` is JSON written by the data plane (output spec, stream, scratch file, HLS
-- playlist so far).
CREATE TABLE open_recordings (
    recording_id TEXT PRIMARY KEY,
    state        TEXT NOT NULL,
    updated_ms   INTEGER NOT NULL
);

CREATE INDEX recordings_expiry ON recordings (expires_ms) WHERE expires_ms IS NOT NULL;
