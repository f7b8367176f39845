-- liverec metadata, version 6: a stream's recordings by time without the domain's
-- case-folding in the way (`/playback` reads a day of them per request).
CREATE INDEX recordings_by_stream_name ON recordings (stream_name, start_ms);
