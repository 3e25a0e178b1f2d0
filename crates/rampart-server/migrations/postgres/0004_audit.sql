-- The tamper-evident audit chain (SPEC §9). Appends run in IMMEDIATE
-- transactions, so the chain stays one sequence across processes.
CREATE TABLE audit_log (
    seq        BIGINT PRIMARY KEY,
    ts         TEXT NOT NULL,
    event_type TEXT NOT NULL,
    user_id    TEXT,
    ip         TEXT,
    request_id TEXT,
    details    TEXT NOT NULL,
    prev_hash  TEXT NOT NULL,
    hash       TEXT NOT NULL
);
CREATE INDEX audit_log_event_type ON audit_log (event_type, seq);
CREATE INDEX audit_log_user_id ON audit_log (user_id, seq);
