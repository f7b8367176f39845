-- liverec metadata, version 5: HLS recordings open on some node (recording, or parked
-- waiting for their push to come back), so any node sharing the database can continue
-- or finish them. Replaces the never-used open_recordings table.

DROP TABLE open_recordings;

CREATE TABLE open_hls (
    recording_id     TEXT PRIMARY KEY,
    stream_key       TEXT NOT NULL,
    node             TEXT NOT NULL,
    sidecar          TEXT NOT NULL,
    flow_continue_ms INTEGER NOT NULL,
    parked_until_ms  INTEGER
);
CREATE INDEX open_hls_stream ON open_hls (stream_key);
