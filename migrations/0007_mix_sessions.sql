-- liverec metadata, version 7: stream mixing sessions (CreateCommonMixStream), kept
-- until cancelled, so a mix survives a restart.
CREATE TABLE mix_sessions (
    session_id TEXT PRIMARY KEY,
    body       TEXT NOT NULL
);
