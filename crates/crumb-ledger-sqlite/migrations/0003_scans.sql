-- Scan reports saved by `crumb scan --save`, shown by the dashboard.
CREATE TABLE scans (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    site TEXT NOT NULL,
    target TEXT NOT NULL,
    recorded_at INTEGER NOT NULL,
    pages INTEGER NOT NULL,
    errors INTEGER NOT NULL,
    warnings INTEGER NOT NULL,
    notes INTEGER NOT NULL,
    report TEXT NOT NULL
);
CREATE INDEX scans_site_time ON scans (site, recorded_at);
