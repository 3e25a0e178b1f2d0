-- Every field holds ciphertext (`v<N>:<base64>`), bound to the user id and
-- field name: the database file holds no plaintext PHI.
CREATE TABLE health_records (
    user_id      BIGINT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    diagnosis    TEXT NOT NULL,
    medications  TEXT NOT NULL,
    insurance_id TEXT NOT NULL,
    notes        TEXT NOT NULL,
    updated_at   TEXT NOT NULL
);
