-- Read-only keys of the statistics API: the SHA-256 of the secret, never the secret;
-- `sites` is a JSON array of site ids; a revoked key keeps its row (revoked_at set).
CREATE TABLE api_keys (
    id TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL,
    secret_hash TEXT NOT NULL UNIQUE,
    sites TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    revoked_at INTEGER
);
