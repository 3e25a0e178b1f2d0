-- Only the last four digits and the processor's id are kept: no card data.
CREATE TABLE payments (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id         INTEGER REFERENCES users (id) ON DELETE SET NULL,
    status          TEXT    NOT NULL,
    amount_cents    INTEGER NOT NULL,
    currency        TEXT    NOT NULL,
    last_four       TEXT    NOT NULL,
    processor_id    TEXT    NOT NULL,
    idempotency_key TEXT,
    created_at      TEXT    NOT NULL
);
CREATE INDEX payments_user_id ON payments (user_id, id);
CREATE UNIQUE INDEX payments_idempotency ON payments (user_id, idempotency_key) WHERE idempotency_key IS NOT NULL;
