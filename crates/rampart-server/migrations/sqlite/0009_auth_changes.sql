-- Every change that can end a token or alter what it authenticates as:
-- a role, a token version, an erasure, a deleted account, a revoked or
-- deleted session, and any other change to a user row (the account a
-- request sees is cached with it). Appended by trigger in the writer's own
-- transaction, whoever the writer is: this server, the CLI, or SQL typed by
-- hand. Every instance polls it to keep its in-memory cache coherent, and
-- deletes rows older than an hour.
CREATE TABLE auth_changes (
    seq     INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id BIGINT NOT NULL,
    at      BIGINT NOT NULL DEFAULT (CAST(strftime('%s', 'now') AS INTEGER))
);
CREATE INDEX auth_changes_at ON auth_changes (at);

CREATE TRIGGER users_auth_update AFTER UPDATE ON users
BEGIN
    INSERT INTO auth_changes (user_id) VALUES (OLD.id);
END;
CREATE TRIGGER users_auth_delete AFTER DELETE ON users
BEGIN
    INSERT INTO auth_changes (user_id) VALUES (OLD.id);
END;
CREATE TRIGGER sessions_auth_update AFTER UPDATE ON sessions
BEGIN
    INSERT INTO auth_changes (user_id) VALUES (OLD.user_id);
    INSERT INTO auth_changes (user_id) SELECT NEW.user_id WHERE NEW.user_id <> OLD.user_id;
END;
CREATE TRIGGER sessions_auth_delete AFTER DELETE ON sessions
BEGIN
    INSERT INTO auth_changes (user_id) VALUES (OLD.user_id);
END;

-- INSERT OR REPLACE deletes the rows it replaces without a DELETE trigger
-- (recursive triggers are off), so an insert logs the rows it is about to
-- replace: none for a plain insert, which changes nothing cached. (SQLite
-- has no TRUNCATE; a DELETE without WHERE fires the row triggers when a
-- table has any.)
CREATE TRIGGER users_auth_replace BEFORE INSERT ON users
BEGIN
    INSERT INTO auth_changes (user_id)
    SELECT id FROM users
    WHERE id = NEW.id OR lower(username) = lower(NEW.username) OR lower(email) = lower(NEW.email);
END;
CREATE TRIGGER sessions_auth_replace BEFORE INSERT ON sessions
BEGIN
    INSERT INTO auth_changes (user_id) SELECT user_id FROM sessions WHERE id = NEW.id;
END;
