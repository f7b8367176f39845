-- liverec metadata on PostgreSQL, version 6: forbidden streams (ForbidLiveStream),
-- refused at publish until their resume time, so a forbid survives a restart.
CREATE TABLE forbidden_streams (
    stream_key TEXT COLLATE "C" PRIMARY KEY,
    body       TEXT NOT NULL
);
