-- liverec metadata, version 1: the control plane's configuration and the recordings index.
-- Configuration objects are stored as their API JSON (bodies); keys are columns.

CREATE TABLE record_templates (
    template_id INTEGER PRIMARY KEY,
    body        TEXT NOT NULL
);

CREATE TABLE record_rules (
    domain_key  TEXT NOT NULL,            -- DomainName, lower case
    app_name    TEXT NOT NULL,
    stream_name TEXT NOT NULL,
    body        TEXT NOT NULL,
    PRIMARY KEY (domain_key, app_name, stream_name)
);

CREATE TABLE record_tasks (
    task_id    TEXT PRIMARY KEY,
    start_time INTEGER NOT NULL,
    end_time   INTEGER NOT NULL,
    body       TEXT NOT NULL
);

CREATE TABLE callback_templates (
    template_id INTEGER PRIMARY KEY,
    body        TEXT NOT NULL
);

CREATE TABLE callback_rules (
    domain_key TEXT NOT NULL,
    app_name   TEXT NOT NULL,
    body       TEXT NOT NULL,
    PRIMARY KEY (domain_key, app_name)
);

CREATE TABLE push_auth_keys (
    domain_key TEXT PRIMARY KEY,
    body       TEXT NOT NULL
);

CREATE TABLE counters (
    name  TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);

-- Filled by the data plane: one row per finished file.
CREATE TABLE recordings (
    file_id      TEXT PRIMARY KEY,
    domain_name  TEXT NOT NULL,
    app_name     TEXT NOT NULL,
    stream_name  TEXT NOT NULL,
    format       TEXT NOT NULL,           -- flv | hls | mp4 | aac
    start_ms     INTEGER NOT NULL,        -- Unix ms of the first frame
    end_ms       INTEGER NOT NULL,
    duration_ms  INTEGER NOT NULL,
    size_bytes   INTEGER NOT NULL,
    video_codec  TEXT,
    audio_codec  TEXT,
    width        INTEGER,
    height       INTEGER,
    task_id      TEXT NOT NULL DEFAULT '',
    template_id  INTEGER NOT NULL DEFAULT 0,
    storage_path TEXT NOT NULL,
    url          TEXT NOT NULL,
    created_ms   INTEGER NOT NULL,
    expires_ms   INTEGER                  -- NULL: kept forever
);
CREATE INDEX recordings_by_stream ON recordings (domain_name, app_name, stream_name, start_ms);
CREATE INDEX recordings_by_start ON recordings (start_ms);
