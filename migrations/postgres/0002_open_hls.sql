-- liverec metadata on PostgreSQL, version 2: HLS recordings open on some node
-- (recording, or parked waiting for their push to come back), so any node can continue
-- or finish them.

CREATE TABLE open_hls (
    recording_id     TEXT COLLATE "C" PRIMARY KEY,
    stream_key       TEXT COLLATE "C" NOT NULL,
    node             TEXT COLLATE "C" NOT NULL,
    sidecar          TEXT NOT NULL,
    flow_continue_ms BIGINT NOT NULL,
    parked_until_ms  BIGINT
);
CREATE INDEX open_hls_stream ON open_hls (stream_key);
