-- Provider webhooks (issue 12). Keep in step with migrations/postgres/0008_webhooks.sql.

-- One-time tokens of signed requests (Mailgun), kept while a request carrying them could
-- still be fresh; older ones are deleted as new ones come.
CREATE TABLE webhook_tokens (
    provider  TEXT NOT NULL,
    token     TEXT NOT NULL,
    seen_at   TEXT NOT NULL,
    PRIMARY KEY (provider, token)
);
CREATE INDEX webhook_tokens_seen ON webhook_tokens (seen_at);
