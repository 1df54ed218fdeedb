-- The return mail channel (issue 12). Keep in step with migrations/sqlite/0003_return_mail.sql.
--
-- bounce_reports: a `delayed` kind (a delay notice is recorded, never scored), and how each
-- report was attributed.
ALTER TABLE bounce_reports DROP CONSTRAINT bounce_reports_kind_check;
ALTER TABLE bounce_reports ADD CONSTRAINT bounce_reports_kind_check
    CHECK (kind IN ('hard', 'soft', 'complaint', 'autoreply', 'delivered', 'delayed'));
-- verp | header | message-id | mailto; NULL when nobody was found (or before this column).
ALTER TABLE bounce_reports ADD COLUMN attribution TEXT;

-- The return channel's counters (outcomes, ignored tokens, attributions), added to in the
-- transaction that stores each report, so `kairan status` and every daemon's /metrics show
-- the same figures whichever process ingested.
CREATE TABLE bounce_counters (
    name   TEXT NOT NULL,
    label  TEXT NOT NULL,
    value  BIGINT NOT NULL,
    PRIMARY KEY (name, label)
);
INSERT INTO bounce_counters (name, label, value)
    SELECT 'kairan_bounces_total', action, COUNT(*) FROM bounce_reports GROUP BY action;

-- When each subscriber was last answered for a mail to the bare return address (at most one
-- answer a day each).
CREATE TABLE bounce_answers (
    subscriber_id  BIGINT PRIMARY KEY REFERENCES subscribers (id) ON DELETE CASCADE,
    last_sent_at   TIMESTAMPTZ NOT NULL
);
