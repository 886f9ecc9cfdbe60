-- agg_hours rolled up per UTC day (see crumb_ledger::aggregates): a window longer than two
-- days reads whole days here and only its partial edge days from agg_hours. Kept in the same
-- transaction as each batch and each retention recount (crumb_ledger_sql::aggregates).
CREATE TABLE agg_days (
    site TEXT NOT NULL,
    day_at INTEGER NOT NULL,
    action TEXT NOT NULL,
    is_first BOOLEAN NOT NULL,
    n INTEGER NOT NULL,
    first_at INTEGER NOT NULL,
    last_at INTEGER NOT NULL,
    PRIMARY KEY (site, day_at, action, is_first)
);
CREATE INDEX agg_days_day ON agg_days (day_at);

-- Backfill: the stored hours summed per day (crumb_ledger_sql::aggregates::DAYS_BACKFILL; a
-- test keeps them the same). The hours equal a recount of the records, so no record is read.
INSERT INTO agg_days (site, day_at, action, is_first, n, first_at, last_at)
    SELECT site, (hour_at / 86400000) * 86400000, action, is_first, SUM(n), MIN(first_at), MAX(last_at)
    FROM agg_hours GROUP BY site, (hour_at / 86400000) * 86400000, action, is_first;
