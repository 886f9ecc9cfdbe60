-- Webhooks (per site), their durable outbox and delivery log; dashboard roles per site;
-- the audit log. Times are Unix milliseconds.

-- A webhook endpoint of a site. `events` is a JSON array of event types; `secret` signs
-- the bodies (HMAC-SHA256), so it is kept as is (it is shown once, when created).
CREATE TABLE webhooks (
    id TEXT PRIMARY KEY NOT NULL,
    site TEXT NOT NULL,
    url TEXT NOT NULL,
    events TEXT NOT NULL,
    secret TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    created_by TEXT NOT NULL
);
CREATE INDEX webhooks_site ON webhooks (site);

-- One event for one webhook. A claim sets `lease_owner`/`lease_until` in one atomic
-- UPDATE; only the owner may finish it. state: pending, delivered, failed.
CREATE TABLE webhook_outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    webhook_id TEXT NOT NULL,
    event_key TEXT NOT NULL,
    event TEXT NOT NULL,
    site TEXT NOT NULL,
    body TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    next_at INTEGER NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    state TEXT NOT NULL DEFAULT 'pending',
    lease_owner TEXT,
    lease_until INTEGER,
    UNIQUE (webhook_id, event_key)
);
CREATE INDEX webhook_outbox_due ON webhook_outbox (state, next_at);

-- Every delivery attempt: HTTP status or the transport error (never a secret).
CREATE TABLE webhook_deliveries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    outbox_id INTEGER NOT NULL,
    webhook_id TEXT NOT NULL,
    site TEXT NOT NULL,
    event TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    at INTEGER NOT NULL,
    status INTEGER,
    error TEXT,
    duration_ms INTEGER NOT NULL,
    outcome TEXT NOT NULL
);
CREATE INDEX webhook_deliveries_site_at ON webhook_deliveries (site, at);

-- Dashboard roles: `admin` or `viewer` of a site, or of every site (`site` = '*').
CREATE TABLE user_roles (
    name TEXT NOT NULL,
    site TEXT NOT NULL,
    role TEXT NOT NULL,
    PRIMARY KEY (name, site)
);
-- Accounts made before roles existed keep what they had: admin of every site.
INSERT INTO user_roles (name, site, role) SELECT name, '*', 'admin' FROM admin_users;

-- Who did what: sign-ins (failed ones too), exports, account, key and webhook changes.
CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at INTEGER NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    site TEXT,
    detail TEXT NOT NULL
);
CREATE INDEX audit_log_at ON audit_log (at);
