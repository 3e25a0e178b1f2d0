CREATE TABLE users (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    username       TEXT    NOT NULL,
    email          TEXT    NOT NULL,
    password_hash  TEXT    NOT NULL,
    role           TEXT    NOT NULL DEFAULT 'user'
                   CHECK (role IN ('user', 'clinician', 'billing', 'auditor', 'admin')),
    bio            TEXT,
    website        TEXT,
    full_name      TEXT,
    phone          TEXT,
    address        TEXT,
    internal_notes TEXT,
    token_version  INTEGER NOT NULL DEFAULT 0,
    created_at     TEXT    NOT NULL,
    erased_at      TEXT
);
-- Case-insensitive uniqueness; the index names are how a conflict is told apart.
CREATE UNIQUE INDEX users_username_key ON users (lower(username));
CREATE UNIQUE INDEX users_email_key ON users (lower(email));

-- A session is one login: the family of refresh tokens it rotates through,
-- and the access tokens issued from them (they carry its id as `sid`).
CREATE TABLE sessions (
    id         TEXT    PRIMARY KEY NOT NULL,
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at TEXT    NOT NULL,
    revoked_at TEXT
);
CREATE INDEX sessions_user_id ON sessions (user_id);

-- Only the SHA-256 of a refresh token is stored.
CREATE TABLE refresh_tokens (
    token_hash TEXT    PRIMARY KEY NOT NULL,
    session_id TEXT    NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    expires_at INTEGER NOT NULL,
    spent_at   TEXT
);
CREATE INDEX refresh_tokens_session_id ON refresh_tokens (session_id);
