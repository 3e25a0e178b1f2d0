-- Every change that can end a token or alter what it authenticates as:
-- a role, a token version, an erasure, a deleted account, a revoked or
-- deleted session, and any other change to a user row (the account a
-- request sees is cached with it). Appended by trigger in the writer's own
-- transaction, whoever the writer is: an instance, the CLI, or SQL typed by
-- hand. Every instance polls it to keep its in-memory cache coherent, and
-- deletes rows older than an hour.
CREATE TABLE auth_changes (
    seq     BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id BIGINT NOT NULL,
    at      BIGINT NOT NULL DEFAULT (extract(epoch FROM now())::bigint)
);
CREATE INDEX auth_changes_at ON auth_changes (at);

-- The trigger takes the writers' advisory lock (the server's writers hold
-- it already) before drawing a seq, so changes commit in seq order: a
-- poller that has seen seq N never later finds a committed N - 1.
CREATE FUNCTION auth_change(user_id BIGINT) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(1918987632); -- store::WRITE_LOCK
    INSERT INTO auth_changes (user_id) VALUES (auth_change.user_id);
END $$;

CREATE FUNCTION users_auth_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM auth_change(OLD.id);
    RETURN NULL;
END $$;

CREATE FUNCTION sessions_auth_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM auth_change(OLD.user_id);
    IF TG_OP = 'UPDATE' AND NEW.user_id <> OLD.user_id THEN
        PERFORM auth_change(NEW.user_id);
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER users_auth_change AFTER UPDATE OR DELETE ON users
    FOR EACH ROW EXECUTE FUNCTION users_auth_change();
CREATE TRIGGER sessions_auth_change AFTER UPDATE OR DELETE ON sessions
    FOR EACH ROW EXECUTE FUNCTION sessions_auth_change();

-- TRUNCATE fires no row trigger: it logs user 0 (no account has it), which
-- makes every instance forget everything.
CREATE FUNCTION auth_truncated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM auth_change(0);
    RETURN NULL;
END $$;
CREATE TRIGGER users_auth_truncate AFTER TRUNCATE ON users
    FOR EACH STATEMENT EXECUTE FUNCTION auth_truncated();
CREATE TRIGGER sessions_auth_truncate AFTER TRUNCATE ON sessions
    FOR EACH STATEMENT EXECUTE FUNCTION auth_truncated();
