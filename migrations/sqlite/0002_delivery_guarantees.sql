-- Issue 11, delivery guarantees. Keep in step with migrations/postgres/0002_delivery_guarantees.sql:
-- the same tables, columns and constraints; only the types differ.

-- The transactional outbox (src/domain/outbox.rs): one row per mail a state change made due,
-- written in that change's transaction and sent by the outbox sender with retries. The
-- recipient is a reference (a subscriber, or a console user), never an address; `kind` has no
-- CHECK so that new kinds need no migration (the domain's enum is the closed list).
CREATE TABLE mail_outbox (
    id                INTEGER PRIMARY KEY,
    kind              TEXT NOT NULL,
    recipient_kind    TEXT NOT NULL CHECK (recipient_kind IN ('subscriber', 'user')),
    recipient_id      INTEGER NOT NULL,
    lang              TEXT NOT NULL CHECK (lang IN ('ja', 'en', 'both')),
    payload           TEXT NOT NULL DEFAULT '{}',
    state             TEXT NOT NULL CHECK (state IN ('pending', 'sending', 'sent', 'failed', 'cancelled')),
    attempts          INTEGER NOT NULL DEFAULT 0,
    next_attempt_at   TEXT NOT NULL,
    lease_owner       TEXT,
    lease_expires_at  TEXT,
    last_error        TEXT,
    created_at        TEXT NOT NULL,
    updated_at        TEXT NOT NULL,
    sent_at           TEXT
);
-- The sender's claim: due pending rows and expired leases, oldest first.
CREATE INDEX mail_outbox_due ON mail_outbox (state, next_attempt_at);
-- Per recipient and day (rate caps, cancelling a subscriber's pending mail).
CREATE INDEX mail_outbox_recipient ON mail_outbox (recipient_kind, recipient_id, created_at);

-- The campaign rate limit as a GCRA: per key, the theoretical arrival time of the next send
-- (microseconds since the Unix epoch), moved forward atomically by each reservation, so every
-- process on the database shares one schedule. (0005's per-minute `rate_windows` is unused.)
CREATE TABLE rate_limits (
    key  TEXT PRIMARY KEY,
    tat  INTEGER NOT NULL
);

-- The processes that send (`kairan serve`, `kairan send`): one row each, renewed by their
-- lease heartbeat, with how long they waited for the database. `kairan status` shows them and
-- `kairan send` names them when it waits on their leases. `owner` is the lease owner's name
-- (host:pid:start).
CREATE TABLE instances (
    owner           TEXT PRIMARY KEY,
    host            TEXT NOT NULL,
    pid             INTEGER NOT NULL,
    command         TEXT NOT NULL,
    started_at      TEXT NOT NULL,
    heartbeat_at    TEXT NOT NULL,
    db_outages      INTEGER NOT NULL DEFAULT 0,
    db_retries      INTEGER NOT NULL DEFAULT 0,
    db_wait_ms      INTEGER NOT NULL DEFAULT 0,
    last_outage_at  TEXT,
    last_outage_ms  INTEGER
);
