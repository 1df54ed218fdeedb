-- The return mail channel (issue 12). Keep in step with migrations/postgres/0003_return_mail.sql.
--
-- bounce_reports: a `delayed` kind (a delay notice is recorded, never scored), and how each
-- report was attributed. SQLite cannot change a CHECK constraint in place, so the table is
-- rebuilt with its rows; nothing refers to it.
CREATE TABLE bounce_reports_new (
    id              INTEGER PRIMARY KEY,
    -- `sha256:…` of a raw message, or `SOURCE:EVENT-ID` of a provider's event: one effect each.
    message_hash    TEXT NOT NULL UNIQUE,
    received_at     TEXT NOT NULL,
    source          TEXT NOT NULL,
    kind            TEXT CHECK (kind IN ('hard', 'soft', 'complaint', 'autoreply', 'delivered', 'delayed')),
    subscriber_id   INTEGER REFERENCES subscribers (id) ON DELETE SET NULL,
    delivery_id     INTEGER REFERENCES deliveries (id) ON DELETE SET NULL,
    status_code     TEXT,
    reason          TEXT,
    diagnostic      TEXT,
    action          TEXT NOT NULL,
    -- verp | header | message-id | mailto; NULL when nobody was found (or before this column).
    attribution     TEXT,
    parsed          TEXT NOT NULL
);
INSERT INTO bounce_reports_new (id, message_hash, received_at, source, kind, subscriber_id, delivery_id,
                                status_code, reason, diagnostic, action, parsed)
    SELECT id, message_hash, received_at, source, kind, subscriber_id, delivery_id,
           status_code, reason, diagnostic, action, parsed
    FROM bounce_reports;
DROP TABLE bounce_reports;
ALTER TABLE bounce_reports_new RENAME TO bounce_reports;
CREATE INDEX bounce_reports_subscriber ON bounce_reports (subscriber_id);

-- The return channel's counters (outcomes, ignored tokens, attributions), added to in the
-- transaction that stores each report, so `kairan status` and every daemon's /metrics show
-- the same figures whichever process ingested.
CREATE TABLE bounce_counters (
    name   TEXT NOT NULL,
    label  TEXT NOT NULL,
    value  INTEGER NOT NULL,
    PRIMARY KEY (name, label)
);
INSERT INTO bounce_counters (name, label, value)
    SELECT 'kairan_bounces_total', action, COUNT(*) FROM bounce_reports GROUP BY action;

-- When each subscriber was last answered for a mail to the bare return address (at most one
-- answer a day each).
CREATE TABLE bounce_answers (
    subscriber_id  INTEGER PRIMARY KEY REFERENCES subscribers (id) ON DELETE CASCADE,
    last_sent_at   TEXT NOT NULL
);
