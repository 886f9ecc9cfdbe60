-- Crumb consent ledger, SQLite. Times are Unix milliseconds.
CREATE TABLE chains (
    chain TEXT PRIMARY KEY NOT NULL,
    started_at INTEGER NOT NULL
);

CREATE TABLE records (
    chain TEXT NOT NULL,
    seq INTEGER NOT NULL,
    consent_id TEXT NOT NULL,
    site TEXT NOT NULL,
    policy_version TEXT NOT NULL,
    choices TEXT NOT NULL,
    action TEXT NOT NULL,
    gpc BOOLEAN NOT NULL,
    dnt BOOLEAN NOT NULL,
    region TEXT,
    mode TEXT NOT NULL,
    language TEXT,
    url TEXT,
    ua_family TEXT NOT NULL,
    ip_hash TEXT,
    recorded_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    retain_until INTEGER NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL,
    PRIMARY KEY (chain, seq)
);
CREATE INDEX records_consent_id ON records (consent_id);
CREATE INDEX records_site_time ON records (site, recorded_at);

CREATE TABLE checkpoints (
    chain TEXT NOT NULL,
    seq INTEGER NOT NULL,
    kind TEXT NOT NULL,
    hash TEXT NOT NULL,
    signed_at INTEGER NOT NULL,
    public_key TEXT NOT NULL,
    signature TEXT NOT NULL,
    PRIMARY KEY (chain, seq, kind)
);

CREATE TABLE policy_versions (
    site TEXT NOT NULL,
    version TEXT NOT NULL,
    material BOOLEAN NOT NULL,
    first_seen INTEGER NOT NULL,
    snapshot TEXT NOT NULL,
    PRIMARY KEY (site, version)
);
