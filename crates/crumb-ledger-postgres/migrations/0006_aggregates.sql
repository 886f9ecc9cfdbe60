-- Aggregates of the records, kept in the same transaction as each batch (see
-- crumb_ledger::aggregates). Times are Unix milliseconds at the start of the UTC day or hour;
-- an unknown region is ''. The backfill below counts the records already stored.
CREATE TABLE agg_decisions (
    site TEXT NOT NULL,
    day_at BIGINT NOT NULL,
    action TEXT NOT NULL,
    region TEXT NOT NULL,
    gpc BOOLEAN NOT NULL,
    dnt BOOLEAN NOT NULL,
    policy_version TEXT NOT NULL,
    is_first BOOLEAN NOT NULL,
    n BIGINT NOT NULL,
    PRIMARY KEY (site, day_at, action, region, gpc, dnt, policy_version, is_first)
);
CREATE INDEX agg_decisions_day ON agg_decisions (day_at);

CREATE TABLE agg_categories (
    site TEXT NOT NULL,
    day_at BIGINT NOT NULL,
    category TEXT NOT NULL,
    granted BOOLEAN NOT NULL,
    n BIGINT NOT NULL,
    PRIMARY KEY (site, day_at, category, granted)
);
CREATE INDEX agg_categories_day ON agg_categories (day_at);

CREATE TABLE agg_hours (
    site TEXT NOT NULL,
    hour_at BIGINT NOT NULL,
    action TEXT NOT NULL,
    is_first BOOLEAN NOT NULL,
    n BIGINT NOT NULL,
    first_at BIGINT NOT NULL,
    last_at BIGINT NOT NULL,
    PRIMARY KEY (site, hour_at, action, is_first)
);
CREATE INDEX agg_hours_hour ON agg_hours (hour_at);
