-- Ferry's demo dataset: a small shop, tens of MB, with types beyond int/text (enum, arrays,
-- numeric, jsonb, uuid, inet, bytea, range, identity, generated column, FKs, a table without a
-- primary key), a view and a materialized view, in two schemas. Run with psql -v scale=N
-- (1 = about 60 MB on disk; fractions work).
\set ON_ERROR_STOP on
\if :{?scale}
\else
  \set scale 1
\endif

CREATE SCHEMA IF NOT EXISTS legacy;
CREATE TYPE customer_tier AS ENUM ('free', 'silver', 'gold');
CREATE TYPE order_status AS ENUM ('new', 'paid', 'shipped', 'cancelled');

CREATE TABLE customers (
  id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  name       text NOT NULL,
  email      text NOT NULL UNIQUE,
  tier       customer_tier NOT NULL DEFAULT 'free',
  tags       text[] NOT NULL DEFAULT '{}',
  created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE products (
  id         serial PRIMARY KEY,
  sku        text NOT NULL UNIQUE,
  name       text NOT NULL,
  price      numeric(12,2) NOT NULL CHECK (price >= 0),
  attrs      jsonb NOT NULL DEFAULT '{}'
);

CREATE TABLE orders (
  id          bigserial PRIMARY KEY,
  customer_id bigint NOT NULL REFERENCES customers(id),
  status      order_status NOT NULL,
  ordered_at  timestamptz NOT NULL,
  total       numeric(14,2) NOT NULL
);
CREATE INDEX orders_customer_idx ON orders (customer_id, ordered_at);

CREATE TABLE order_items (
  order_id   bigint NOT NULL REFERENCES orders(id) ON DELETE CASCADE,
  line       int NOT NULL,
  product_id int NOT NULL REFERENCES products(id),
  qty        int NOT NULL,
  unit_price numeric(12,2) NOT NULL,
  amount     numeric(14,2) GENERATED ALWAYS AS (qty * unit_price) STORED,
  PRIMARY KEY (order_id, line)
);

CREATE TABLE events (
  id      uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  kind    text NOT NULL,
  payload jsonb NOT NULL,
  client  inet,
  at      timestamptz NOT NULL
);

CREATE TABLE notes_without_key (note text, written_at timestamptz);

CREATE TABLE legacy.audit_log (
  id      bigint PRIMARY KEY,
  actor   text NOT NULL,
  body    bytea NOT NULL,
  during  tstzrange NOT NULL
);

INSERT INTO customers (name, email, tier, tags, created_at)
SELECT 'Customer ' || g, 'c' || g || '@example.com',
       (ARRAY['free','silver','gold'])[1 + g % 3]::customer_tier,
       ARRAY['t' || (g % 7), 't' || (g % 11)],
       timestamptz '2024-01-01' + g * interval '37 seconds'
FROM generate_series(1, (20000 * :scale)::int) g;

INSERT INTO products (sku, name, price, attrs)
SELECT 'SKU-' || lpad(g::text, 6, '0'), 'Product ' || g, (g % 997) + 0.99,
       jsonb_build_object('color', (ARRAY['red','green','blue'])[1 + g % 3], 'weight', g % 50, 'tags', jsonb_build_array('a', g % 5))
FROM generate_series(1, 2000) g;

INSERT INTO orders (customer_id, status, ordered_at, total)
SELECT 1 + (g * 7919) % ((20000 * :scale)::int), (ARRAY['new','paid','shipped','cancelled'])[1 + g % 4]::order_status,
       timestamptz '2024-06-01' + g * interval '11 seconds', (g % 5000) / 10.0
FROM generate_series(1, (80000 * :scale)::int) g;

INSERT INTO order_items (order_id, line, product_id, qty, unit_price)
SELECT o, l, 1 + (o * 31 + l) % 2000, 1 + (o + l) % 5, ((o * l) % 500) + 0.5
FROM generate_series(1, (80000 * :scale)::int) o, generate_series(1, 3) l;

INSERT INTO events (kind, payload, client, at)
SELECT (ARRAY['view','click','buy'])[1 + g % 3],
       jsonb_build_object('page', '/p/' || (g % 300), 'session', md5(g::text), 'n', g),
       ('10.' || (g % 250) || '.' || (g % 200) || '.' || (g % 100))::inet,
       timestamptz '2025-01-01' + g * interval '3 seconds'
FROM generate_series(1, (60000 * :scale)::int) g;

INSERT INTO notes_without_key
SELECT 'note ' || g, timestamptz '2025-03-01' + g * interval '1 hour' FROM generate_series(1, 500) g;

INSERT INTO legacy.audit_log
SELECT g, 'user' || (g % 40), decode(repeat(md5(g::text), 16), 'hex'),
       tstzrange(timestamptz '2025-01-01' + g * interval '1 minute', timestamptz '2025-01-01' + (g + 5) * interval '1 minute')
FROM generate_series(1, (10000 * :scale)::int) g;

-- Views go along with the tables they read: created after the load, the materialized one filled.
CREATE VIEW customer_revenue AS
  SELECT c.id, c.name, c.tier, count(o.id) AS orders, coalesce(sum(o.total), 0) AS revenue
    FROM customers c LEFT JOIN orders o ON o.customer_id = c.id GROUP BY c.id;
CREATE MATERIALIZED VIEW daily_sales AS
  SELECT date_trunc('day', ordered_at AT TIME ZONE 'UTC') AS day, count(*) AS orders, sum(total) AS total
    FROM orders WHERE status <> 'cancelled' GROUP BY 1;
CREATE UNIQUE INDEX daily_sales_day ON daily_sales (day);
COMMENT ON MATERIALIZED VIEW daily_sales IS 'orders per day (UTC), cancelled ones left out';

ANALYZE;
