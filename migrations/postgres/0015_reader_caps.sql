-- Issue 13: the reader caps, taken atomically. One row per cap key (`address:<keyed hash>`,
-- `domain:<domain>`): the window's start (Unix seconds) and the slots taken in it. A slot is
-- taken with one conditional upsert, so concurrent sign-ups cannot exceed the cap.
CREATE TABLE reader_caps (
    key TEXT PRIMARY KEY,
    window_start BIGINT NOT NULL,
    n BIGINT NOT NULL
);
