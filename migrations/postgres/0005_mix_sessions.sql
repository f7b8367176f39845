-- liverec metadata on PostgreSQL, version 5: stream mixing sessions
-- (CreateCommonMixStream), kept until cancelled, so a mix survives a restart.
CREATE TABLE mix_sessions (
    session_id TEXT COLLATE "C" PRIMARY KEY,
    body       TEXT NOT NULL
);
