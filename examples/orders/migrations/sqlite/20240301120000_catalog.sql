CREATE TABLE customers (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    email TEXT NOT NULL UNIQUE
);

CREATE TABLE products (
    id INTEGER PRIMARY KEY,
    sku TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    price_cents INTEGER NOT NULL
);

INSERT INTO products (sku, name, price_cents) VALUES
    ('tea-earl-grey', 'Earl Grey, 250 g', 1250),
    ('tea-sencha', 'Sencha, 100 g', 990),
    ('mug-stoneware', 'Stoneware mug', 1800);
