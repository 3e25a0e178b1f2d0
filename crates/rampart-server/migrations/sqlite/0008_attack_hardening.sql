-- Signed audit checkpoints and purge anchors, where every instance sees
-- them (the signing key is not in the database, so a writer of it cannot
-- forge one). Checkpoints are also written outside the database.
CREATE TABLE audit_checkpoints (
    kind      TEXT   NOT NULL,
    seq       BIGINT NOT NULL,
    hash      TEXT   NOT NULL,
    ts        TEXT   NOT NULL,
    signature TEXT   NOT NULL,
    PRIMARY KEY (kind, seq)
);

-- Payment idempotency keys with the fingerprint of the request that
-- claimed them; payment_id stays null while the charge is in progress.
CREATE TABLE payment_requests (
    user_id         BIGINT NOT NULL,
    idempotency_key TEXT   NOT NULL,
    fingerprint     TEXT   NOT NULL,
    payment_id      BIGINT,
    claimed_at      BIGINT NOT NULL,
    PRIMARY KEY (user_id, idempotency_key)
);

-- Keys of payments made before this table existed: their retries replay
-- the payment (an empty fingerprint matches any request).
INSERT INTO payment_requests (user_id, idempotency_key, fingerprint, payment_id, claimed_at)
SELECT user_id, idempotency_key, '', id, 0 FROM payments
WHERE user_id IS NOT NULL AND idempotency_key IS NOT NULL;
