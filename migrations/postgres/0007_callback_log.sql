-- liverec metadata on PostgreSQL, version 7: the callback delivery log
-- (DescribeCallbackRecordsList): one row per delivery attempt, kept 14 days.
CREATE TABLE callback_log (
    event_id    TEXT COLLATE "C" NOT NULL,
    attempt     BIGINT NOT NULL,
    stream_name TEXT COLLATE "C" NOT NULL,
    event_type  BIGINT NOT NULL,
    event_ms    BIGINT NOT NULL,
    response_ms BIGINT NOT NULL,
    request     TEXT NOT NULL,
    response    TEXT NOT NULL,
    result_code BIGINT NOT NULL,
    PRIMARY KEY (event_id, attempt)
);
CREATE INDEX callback_log_by_time ON callback_log (event_ms);
CREATE INDEX callback_log_by_stream ON callback_log (stream_name, event_ms);
