CREATE TABLE invoices (
    id INTEGER PRIMARY KEY,
    order_id INTEGER NOT NULL UNIQUE REFERENCES orders (id),
    amount_cents INTEGER NOT NULL,
    status TEXT NOT NULL
);
