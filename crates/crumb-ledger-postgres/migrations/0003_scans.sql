-- Scan reports saved by `crumb scan --save`, shown by the dashboard.
CREATE TABLE scans (
    id BIGSERIAL PRIMARY KEY,
    site TEXT NOT NULL,
    target TEXT NOT NULL,
    recorded_at BIGINT NOT NULL,
    pages BIGINT NOT NULL,
    errors BIGINT NOT NULL,
    warnings BIGINT NOT NULL,
    notes BIGINT NOT NULL,
    report TEXT NOT NULL
);
CREATE INDEX scans_site_time ON scans (site, recorded_at);
