-- liverec metadata, version 9: the callback delivery log (DescribeCallbackRecordsList):
-- one row per delivery attempt, kept 14 days.
CREATE TABLE callback_log (
    event_id    TEXT NOT NULL,
    attempt     INTEGER NOT NULL,
    stream_name TEXT NOT NULL,
    event_type  INTEGER NOT NULL,
    event_ms    INTEGER NOT NULL,
    response_ms INTEGER NOT NULL,
    request     TEXT NOT NULL,
    response    TEXT NOT NULL,
    result_code INTEGER NOT NULL,
    PRIMARY KEY (event_id, attempt)
);
CREATE INDEX callback_log_by_time ON callback_log (event_ms);
CREATE INDEX callback_log_by_stream ON callback_log (stream_name, event_ms);
