-- Bookkeeping for the instance; domain tables arrive with their features.
CREATE TABLE IF NOT EXISTS rampart_meta (
    key   TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL
);
INSERT OR IGNORE INTO rampart_meta (key, value)
VALUES ('created_at', strftime('%Y-%m-%dT%H:%M:%SZ', 'now'));
