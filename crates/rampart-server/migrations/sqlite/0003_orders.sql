-- Orders outlive their user's account (legal retention): deleting a user
-- detaches its orders instead of deleting them.
CREATE TABLE orders (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id          INTEGER REFERENCES users (id) ON DELETE SET NULL,
    item             TEXT    NOT NULL,
    quantity         INTEGER NOT NULL CHECK (quantity BETWEEN 1 AND 1000),
    unit_price_cents INTEGER NOT NULL CHECK (unit_price_cents BETWEEN 0 AND 10000000),
    total_cents      INTEGER NOT NULL,
    created_at       TEXT    NOT NULL
);
CREATE INDEX orders_user_id ON orders (user_id, id);
