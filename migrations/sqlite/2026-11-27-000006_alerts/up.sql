-- Where notifications go: e-mail addresses and webhooks, for every tenant or for one.
CREATE TABLE notify_channels (
    id TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    target TEXT NOT NULL,
    secret TEXT,
    tenant_id TEXT REFERENCES tenants(id),
    enabled BOOLEAN NOT NULL,
    created_by TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);

-- The notification outbox: written in the transaction that raises the event, delivered
-- (at least once) by the dispatcher with retries.
CREATE TABLE notifications (
    id TEXT PRIMARY KEY NOT NULL,
    channel_id TEXT NOT NULL REFERENCES notify_channels(id) ON DELETE CASCADE,
    topic TEXT NOT NULL,
    subject TEXT NOT NULL,
    body TEXT NOT NULL,
    payload TEXT NOT NULL,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    last_error TEXT,
    next_attempt_at TIMESTAMP NOT NULL,
    created_at TIMESTAMP NOT NULL,
    sent_at TIMESTAMP
);
CREATE INDEX notifications_due ON notifications(status, next_attempt_at);

-- Alerts of transmission monitoring: a sender silent past its schedule, or failing.
CREATE TABLE alerts (
    id TEXT PRIMARY KEY NOT NULL,
    tenant_id TEXT NOT NULL REFERENCES tenants(id),
    sender TEXT NOT NULL,
    kind TEXT NOT NULL,
    detail_zh TEXT NOT NULL,
    detail_en TEXT NOT NULL,
    status TEXT NOT NULL,
    opened_at TIMESTAMP NOT NULL,
    resolved_at TIMESTAMP
);
CREATE UNIQUE INDEX alerts_one_open ON alerts(tenant_id, kind) WHERE status = 'open';
CREATE INDEX alerts_recent ON alerts(opened_at);
