-- kairan schema, PostgreSQL flavour. Keep in step with migrations/sqlite/0001_initial.sql:
-- the same tables, columns and constraints; only the types differ (timestamps are TIMESTAMPTZ,
-- identities are BIGINT).

CREATE TABLE subscribers (
    id                    BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email                 TEXT NOT NULL,
    -- Lower-cased address: one row per mailbox however it was capitalised.
    email_key             TEXT NOT NULL UNIQUE,
    name                  TEXT,
    lang                  TEXT NOT NULL CHECK (lang IN ('ja', 'en', 'both')),
    status                TEXT NOT NULL CHECK (status IN ('pending', 'active', 'unsubscribed', 'bounced', 'complained')),
    source                TEXT NOT NULL,
    created_at            TIMESTAMPTZ NOT NULL,
    updated_at            TIMESTAMPTZ NOT NULL,
    confirmation_sent_at  TIMESTAMPTZ,
    confirmed_at          TIMESTAMPTZ,
    unsubscribed_at       TIMESTAMPTZ,
    unsubscribe_method    TEXT,
    soft_bounce_score     DOUBLE PRECISION NOT NULL DEFAULT 0,
    last_bounce_at        TIMESTAMPTZ
);
CREATE INDEX subscribers_status ON subscribers (status, id);

-- One row per opt-in (Japan's Specified Email Act, GDPR). Kept after unsubscribe; an
-- erased subscriber's row loses its personal fields but keeps the dates.
CREATE TABLE consent_records (
    id               BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    subscriber_id    BIGINT REFERENCES subscribers (id) ON DELETE SET NULL,
    method           TEXT NOT NULL,
    form_at          TIMESTAMPTZ NOT NULL,
    confirmed_at     TIMESTAMPTZ,
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
    created_at    TIMESTAMPTZ NOT NULL
);

CREATE TABLE issues (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    slug          TEXT NOT NULL UNIQUE,
    state         TEXT NOT NULL CHECK (state IN ('draft', 'queued', 'sending', 'paused', 'sent', 'cancelled')),
    send_at       TIMESTAMPTZ,
    created_at    TIMESTAMPTZ NOT NULL,
    updated_at    TIMESTAMPTZ NOT NULL,
    started_at    TIMESTAMPTZ,
    finished_at   TIMESTAMPTZ
);
CREATE INDEX issues_state ON issues (state, send_at);

CREATE TABLE issue_contents (
    issue_id   BIGINT NOT NULL REFERENCES issues (id) ON DELETE CASCADE,
    lang       TEXT NOT NULL CHECK (lang IN ('ja', 'en')),
    subject    TEXT NOT NULL,
    preheader  TEXT,
    markdown   TEXT NOT NULL,
    PRIMARY KEY (issue_id, lang)
);

-- One row per issue × subscriber, written when the campaign starts (the audience snapshot).
CREATE TABLE deliveries (
    id                BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    issue_id          BIGINT NOT NULL REFERENCES issues (id),
    subscriber_id     BIGINT NOT NULL REFERENCES subscribers (id),
    lang              TEXT NOT NULL CHECK (lang IN ('ja', 'en', 'both')),
    state             TEXT NOT NULL CHECK (state IN ('pending', 'sending', 'sent', 'retry', 'failed', 'skipped')),
    attempts          INTEGER NOT NULL DEFAULT 0,
    next_attempt_at   TIMESTAMPTZ,
    lease_owner       TEXT,
    lease_expires_at  TIMESTAMPTZ,
    sent_at           TIMESTAMPTZ,
    last_reply        TEXT,
    updated_at        TIMESTAMPTZ NOT NULL,
    UNIQUE (issue_id, subscriber_id)
);
CREATE INDEX deliveries_claim ON deliveries (issue_id, state, id);
CREATE INDEX deliveries_subscriber ON deliveries (subscriber_id, state);

-- Every ingested bounce / complaint / auto-reply, for audit and idempotence.
CREATE TABLE bounce_reports (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    message_hash    TEXT NOT NULL UNIQUE,
    received_at     TIMESTAMPTZ NOT NULL,
    source          TEXT NOT NULL,
    kind            TEXT CHECK (kind IN ('hard', 'soft', 'complaint', 'autoreply', 'delivered')),
    subscriber_id   BIGINT REFERENCES subscribers (id) ON DELETE SET NULL,
    delivery_id     BIGINT REFERENCES deliveries (id) ON DELETE SET NULL,
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
