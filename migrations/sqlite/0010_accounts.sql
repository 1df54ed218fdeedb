-- Accounts, sessions, login throttle, TOTP, personal API tokens, the audit log and send
-- approvals (issue 14). Keep in step with migrations/postgres/0010_accounts.sql.
-- No secret is stored in the clear that could act on its own: passwords are Argon2id PHC
-- strings, setup links, session ids, recovery codes and API tokens are SHA-256 digests.

CREATE TABLE users (
    id              INTEGER PRIMARY KEY,
    email           TEXT NOT NULL,
    email_key       TEXT NOT NULL UNIQUE,
    name            TEXT,
    role            TEXT NOT NULL CHECK (role IN ('admin', 'editor')),
    password_hash   TEXT,
    disabled_at     TEXT,
    -- The TOTP secret (base32) once confirmed, and the last time step accepted (a code is
    -- accepted once). A pending secret waits for its first code.
    totp_secret     TEXT,
    totp_pending    TEXT,
    totp_last_step  INTEGER NOT NULL DEFAULT 0,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL
);

-- One-time setup links (invitation, reset): the link's digest, valid until expires_at,
-- consumed once.
CREATE TABLE user_setups (
    id          INTEGER PRIMARY KEY,
    user_id     INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_hash  TEXT NOT NULL UNIQUE,
    created_at  TEXT NOT NULL,
    expires_at  TEXT NOT NULL,
    used_at     TEXT
);

-- Server-side sessions: the cookie's digest, the form token, idle and absolute limits.
CREATE TABLE user_sessions (
    id_hash       TEXT PRIMARY KEY,
    user_id       INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    csrf          TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    last_seen_at  TEXT NOT NULL,
    expires_at    TEXT NOT NULL,
    ip            TEXT
);
CREATE INDEX user_sessions_user ON user_sessions (user_id);

-- Login attempts, for the throttle (per account and per client address) and the audit.
CREATE TABLE login_attempts (
    id         INTEGER PRIMARY KEY,
    email_key  TEXT NOT NULL,
    ip         TEXT NOT NULL,
    ok         INTEGER NOT NULL,
    at         TEXT NOT NULL
);
CREATE INDEX login_attempts_email ON login_attempts (email_key, at);
CREATE INDEX login_attempts_ip ON login_attempts (ip, at);
-- Attempts older than a day are pruned (the throttle looks back 15 minutes).
CREATE INDEX login_attempts_at ON login_attempts (at);
CREATE INDEX user_sessions_expiry ON user_sessions (expires_at);

CREATE TABLE recovery_codes (
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    code_hash  TEXT NOT NULL,
    used_at    TEXT,
    PRIMARY KEY (user_id, code_hash)
);

CREATE TABLE api_tokens (
    id            INTEGER PRIMARY KEY,
    user_id       INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name          TEXT NOT NULL,
    token_hash    TEXT NOT NULL UNIQUE,
    created_at    TEXT NOT NULL,
    last_used_at  TEXT
);

-- Who did what: user (null for the command line or an unknown account), the actor's
-- address as it was, client address, action, object.
CREATE TABLE audit_log (
    id       INTEGER PRIMARY KEY,
    at       TEXT NOT NULL,
    user_id  INTEGER,
    actor    TEXT NOT NULL,
    ip       TEXT,
    action   TEXT NOT NULL,
    object   TEXT NOT NULL DEFAULT '',
    detail   TEXT NOT NULL DEFAULT ''
);
CREATE INDEX audit_log_at ON audit_log (at);

-- The two-person rule: a request to send an issue waits for a different admin.
CREATE TABLE send_requests (
    id            INTEGER PRIMARY KEY,
    issue_id      INTEGER NOT NULL,
    requested_by  INTEGER NOT NULL REFERENCES users (id),
    requested_at  TEXT NOT NULL,
    state         TEXT NOT NULL CHECK (state IN ('pending', 'approved', 'withdrawn')),
    decided_by    INTEGER REFERENCES users (id),
    decided_at    TEXT
);
CREATE INDEX send_requests_issue ON send_requests (issue_id, state);
