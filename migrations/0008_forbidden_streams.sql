-- liverec metadata, version 8: forbidden streams (ForbidLiveStream), refused at publish
-- until their resume time, so a forbid survives a restart.
CREATE TABLE forbidden_streams (
    stream_key TEXT PRIMARY KEY,
    body       TEXT NOT NULL
);
