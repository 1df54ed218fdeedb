-- The editors' console (issue 15). Keep in step with migrations/postgres/0011_editorial.sql.

-- When each language's text last changed (a save that leaves it as it was keeps the time),
-- so a translation edited before the other side can be flagged. NULL for rows written
-- before this migration: nothing is flagged for them until one side changes.
ALTER TABLE issue_contents ADD COLUMN updated_at TEXT;

-- Uploaded images, content-addressed: the SHA-256 of the bytes (lower-case hex) is the key
-- and the URL (`/media/{hash}.{ext}`). Kept in the database so that every instance and
-- every backup has them; an image is never changed, only added.
CREATE TABLE media (
    hash          TEXT PRIMARY KEY,
    content_type  TEXT NOT NULL,
    size          INTEGER NOT NULL,
    data          BLOB NOT NULL,
    created_at    TEXT NOT NULL
);

-- Readers by the domain of their address (the console counts those who get the legacy
-- charset on every check; without this it reads every subscriber).
CREATE INDEX subscribers_domain ON subscribers ((substr(email_key, instr(email_key, '@') + 1)), status, lang);
