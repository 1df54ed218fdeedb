-- Each change of a delivery's state is a new row version in PostgreSQL, and every index of
-- the table gets an entry for it (a partial index only when the version matches its
-- predicate). A sent message changes state twice (claimed, then sent), so each index costs
-- two entries per message: the index writes were most of a claim's 32 ms per 500 rows.
-- deliveries_claim (issue_id, state, id) held an entry for every version; the claim and the
-- open-row queries use deliveries_open, and what remains (retries and failures to show,
-- deliveries skipped under a worker) is about the rare states, which this partial index
-- holds alone: a sent message writes no entry into it.
DROP INDEX deliveries_claim;
CREATE INDEX deliveries_exceptions ON deliveries (issue_id, state, id) WHERE state IN ('retry', 'failed', 'skipped');
