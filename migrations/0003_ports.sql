-- liverec metadata, version 3: the database allocates template ids (never reused, like
-- the in-memory counters they replace), the configuration has a version that every
-- write bumps, and leases say which node does a job.

CREATE TABLE record_templates_v3 (
    template_id INTEGER PRIMARY KEY AUTOINCREMENT,
    body        TEXT NOT NULL
);
INSERT INTO record_templates_v3 (template_id, body) SELECT template_id, body FROM record_templates;
DROP TABLE record_templates;
ALTER TABLE record_templates_v3 RENAME TO record_templates;

CREATE TABLE callback_templates_v3 (
    template_id INTEGER PRIMARY KEY AUTOINCREMENT,
    body        TEXT NOT NULL
);
INSERT INTO callback_templates_v3 (template_id, body) SELECT template_id, body FROM callback_templates;
DROP TABLE callback_templates;
ALTER TABLE callback_templates_v3 RENAME TO callback_templates;

-- Ids go on from the old counters (a deleted template's id is not handed out again).
DELETE FROM sqlite_sequence WHERE name IN ('record_templates', 'callback_templates');
INSERT INTO sqlite_sequence (name, seq) VALUES (
    'record_templates',
    max(coalesce((SELECT max(template_id) FROM record_templates), 0),
        coalesce((SELECT value - 1 FROM counters WHERE name = 'record_template_id'), 0)));
INSERT INTO sqlite_sequence (name, seq) VALUES (
    'callback_templates',
    max(coalesce((SELECT max(template_id) FROM callback_templates), 0),
        coalesce((SELECT value - 1 FROM counters WHERE name = 'callback_template_id'), 0)));
DROP TABLE counters;

CREATE TABLE config_version (
    id      INTEGER PRIMARY KEY CHECK (id = 1),
    version INTEGER NOT NULL
);
INSERT INTO config_version (id, version) VALUES (1, 0);

CREATE TABLE leases (
    name       TEXT PRIMARY KEY,
    owner      TEXT NOT NULL,
    expires_ms INTEGER NOT NULL
);

CREATE INDEX recordings_start ON recordings (start_ms, file_id);
