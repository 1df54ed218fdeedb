-- kairan schema, SQLite flavour. Keep in step with migrations/postgres/0001_initial.sql:
-- the same tables, columns and constraints; only the types differ (timestamps are RFC 3339
-- text written by sqlx, booleans are integers).

CREATE TABLE subscribers (
    id                    INTEGER PRIMARY KEY,
    email                 TEXT NOT NULL,
    -- Lower-cased address: one row per mailbox however it was capitalised.
    email_key             TEXT NOT NULL UNIQUE,
    name                  TEXT,
    lang                  TEXT NOT NULL CHECK (lang IN ('ja', 'en', 'both')),
    status                TEXT NOT NULL CHECK (status IN ('pending', 'active', 'unsubscribed', 'bounced', 'complained')),
    source                TEXT NOT NULL,
    created_at            TEXT NOT NULL,
    updated_at            TEXT NOT NULL,
    confirmation_sent_at  TEXT,
    confirmed_at          TEXT,
    unsubscribed_at       TEXT,
    unsubscribe_method    TEXT,
    soft_bounce_score     REAL NOT NULL DEFAULT 0,
    last_bounce_at        TEXT
);
CREATE INDEX subscribers_status ON subscribers (status, id);

-- One row per opt-in (Japan's Specified Email Act, GDPR). Kept after unsubscribe; an
-- erased subscriber's row loses its personal fields but keeps the dates.
CREATE TABLE consent_records (
    id               INTEGER PRIMARY KEY,
    subscriber_id    INTEGER REFERENCES subscribers (id) ON DELETE SET NULL,
    method           TEXT NOT NULL,
    form_at          TEXT NOT NULL,
    confirmed_at     TEXT,
    ip               TEXT,
    user_agent       TEXT,
    page_lang        TEXT,
    text_hash        TEXT,
    text_version     TEXT
);
CREATE INDEX consent_records_subscriber ON consent_records (subscriber_id);

-- Erased addresses: a salted hash only, so they are never mailed again unless they opt in.
CREATE TABLE suppressions (
    address_hash  TEXT PRIMARY KEY,
    reason        TEXT NOT NULL,
    created_at    TEXT NOT NULL
);

CREATE TABLE issues (
    id            INTEGER PRIMARY KEY,
    slug          TEXT NOT NULL UNIQUE,
    state         TEXT NOT NULL CHECK (state IN ('draft', 'queued', 'sending', 'paused', 'sent', 'cancelled')),
    send_at       TEXT,
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL,
    started_at    TEXT,
    finished_at   TEXT
);
CREATE INDEX issues_state ON issues (state, send_at);

CREATE TABLE issue_contents (
    issue_id   INTEGER NOT NULL REFERENCES issues (id) ON DELETE CASCADE,
    lang       TEXT NOT NULL CHECK (lang IN ('ja', 'en')),
    subject    TEXT NOT NULL,
    preheader  TEXT,
    markdown   TEXT NOT NULL,
    PRIMARY KEY (issue_id, lang)
);

-- One row per issue × subscriber, written when the campaign starts (the audience snapshot).
CREATE TABLE deliveries (
    id                INTEGER PRIMARY KEY,
    issue_id          INTEGER NOT NULL REFERENCES issues (id),
    subscriber_id     INTEGER NOT NULL REFERENCES subscribers (id),
    lang              TEXT NOT NULL CHECK (lang IN ('ja', 'en', 'both')),
    state             TEXT NOT NULL CHECK (state IN ('pending', 'sending', 'sent', 'retry', 'failed', 'skipped')),
    attempts          INTEGER NOT NULL DEFAULT 0,
    next_attempt_at   TEXT,
    lease_owner       TEXT,
    lease_expires_at  TEXT,
    sent_at           TEXT,
    last_reply        TEXT,
    updated_at        TEXT NOT NULL,
    UNIQUE (issue_id, subscriber_id)
);
CREATE INDEX deliveries_claim ON deliveries (issue_id, state, id);
CREATE INDEX deliveries_subscriber ON deliveries (subscriber_id, state);

-- Every ingested bounce / complaint / auto-reply, for audit and idempotence.
CREATE TABLE bounce_reports (
    id              INTEGER PRIMARY KEY,
    message_hash    TEXT NOT NULL UNIQUE,
    received_at     TEXT NOT NULL,
    source          TEXT NOT NULL,
    kind            TEXT CHECK (kind IN ('hard', 'soft', 'complaint', 'autoreply', 'delivered')),
    subscriber_id   INTEGER REFERENCES subscribers (id) ON DELETE SET NULL,
    delivery_id     INTEGER REFERENCES deliveries (id) ON DELETE SET NULL,
    status_code     TEXT,
    reason          TEXT,
    diagnostic      TEXT,
    action          TEXT NOT NULL,
    parsed          TEXT NOT NULL
);
CREATE INDEX bounce_reports_subscriber ON bounce_reports (subscriber_id);

-- Small named values: the last cron tick acted on, and such.
CREATE TABLE meta (
    key    TEXT PRIMARY KEY,
    value  TEXT NOT NULL
);
