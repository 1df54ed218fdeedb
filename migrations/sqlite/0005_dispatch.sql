-- Per-minute send counters shared by every process on the database, so
-- dispatch.rate_per_minute holds for the whole campaign however many instances send.
CREATE TABLE rate_windows (
    key           TEXT NOT NULL,
    window_start  INTEGER NOT NULL,
    used          INTEGER NOT NULL,
    PRIMARY KEY (key, window_start)
);
