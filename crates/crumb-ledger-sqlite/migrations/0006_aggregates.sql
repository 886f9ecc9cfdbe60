-- Aggregates of the records, kept in the same transaction as each batch (see
-- crumb_ledger::aggregates). Times are Unix milliseconds at the start of the UTC day or hour;
-- an unknown region is ''. The backfill below counts the records already stored.
CREATE TABLE agg_decisions (
    site TEXT NOT NULL,
    day_at INTEGER NOT NULL,
    action TEXT NOT NULL,
    region TEXT NOT NULL,
    gpc BOOLEAN NOT NULL,
    dnt BOOLEAN NOT NULL,
    policy_version TEXT NOT NULL,
    is_first BOOLEAN NOT NULL,
    n INTEGER NOT NULL,
    PRIMARY KEY (site, day_at, action, region, gpc, dnt, policy_version, is_first)
);
CREATE INDEX agg_decisions_day ON agg_decisions (day_at);

CREATE TABLE agg_categories (
    site TEXT NOT NULL,
    day_at INTEGER NOT NULL,
    category TEXT NOT NULL,
    granted BOOLEAN NOT NULL,
    n INTEGER NOT NULL,
    PRIMARY KEY (site, day_at, category, granted)
);
CREATE INDEX agg_categories_day ON agg_categories (day_at);

CREATE TABLE agg_hours (
    site TEXT NOT NULL,
    hour_at INTEGER NOT NULL,
    action TEXT NOT NULL,
    is_first BOOLEAN NOT NULL,
    n INTEGER NOT NULL,
    first_at INTEGER NOT NULL,
    last_at INTEGER NOT NULL,
    PRIMARY KEY (site, hour_at, action, is_first)
);
CREATE INDEX agg_hours_hour ON agg_hours (hour_at);

-- Backfill: the records already stored, counted with the statements a batch is counted with
-- (crumb_ledger_sql::aggregates; a test keeps them the same).
INSERT INTO agg_decisions (site, day_at, action, region, gpc, dnt, policy_version, is_first, n) SELECT site, day_at, action, region, gpc, dnt, policy_version, is_first, COUNT(*)
    FROM (SELECT r.site, (r.recorded_at / 86400000) * 86400000 AS day_at, r.action, COALESCE(r.region, '') AS region, r.gpc, r.dnt, r.policy_version, NOT EXISTS (SELECT 1 FROM records p WHERE p.consent_id = r.consent_id AND (p.recorded_at, p.chain, p.seq) < (r.recorded_at, r.chain, r.seq)) AS is_first FROM records r WHERE TRUE) t
    GROUP BY site, day_at, action, region, gpc, dnt, policy_version, is_first
    ON CONFLICT (site, day_at, action, region, gpc, dnt, policy_version, is_first) DO UPDATE SET n = agg_decisions.n + excluded.n;
INSERT INTO agg_categories (site, day_at, category, granted, n) SELECT site, day_at, category, granted, COUNT(*)
    FROM (SELECT r.site, (r.recorded_at / 86400000) * 86400000 AS day_at, c.key AS category, (c.value = 1) AS granted FROM records r, json_each(r.choices) AS c WHERE TRUE) t
    GROUP BY site, day_at, category, granted
    ON CONFLICT (site, day_at, category, granted) DO UPDATE SET n = agg_categories.n + excluded.n;
INSERT INTO agg_hours (site, hour_at, action, is_first, n, first_at, last_at) SELECT site, hour_at, action, is_first, COUNT(*), MIN(recorded_at), MAX(recorded_at)
    FROM (SELECT r.site, (r.recorded_at / 3600000) * 3600000 AS hour_at, r.action, NOT EXISTS (SELECT 1 FROM records p WHERE p.consent_id = r.consent_id AND (p.recorded_at, p.chain, p.seq) < (r.recorded_at, r.chain, r.seq)) AS is_first, r.recorded_at FROM records r WHERE TRUE) t
    GROUP BY site, hour_at, action, is_first
    ON CONFLICT (site, hour_at, action, is_first) DO UPDATE SET n = agg_hours.n + excluded.n, first_at = CASE WHEN excluded.first_at < agg_hours.first_at THEN excluded.first_at ELSE agg_hours.first_at END, last_at = CASE WHEN excluded.last_at > agg_hours.last_at THEN excluded.last_at ELSE agg_hours.last_at END;
