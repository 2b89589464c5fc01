-- Entity operation monitoring (主体运行监测). What each acting party reported, per tenant,
-- day (China Standard Time, of the act; of arrival for a rejected record whose time cannot be
-- read), party code and stage, kept in the transaction that stores the records: records
-- stored, records rejected, stored records flagged as anomalies, and the delay between each
-- stored record's act and the receipt of its submission. A rejected record whose acting party
-- cannot be read counts under the empty code and stage.
CREATE TABLE party_activity (
    tenant_id TEXT NOT NULL,
    day TEXT NOT NULL,
    party_code TEXT NOT NULL,
    stage TEXT NOT NULL,
    records BIGINT NOT NULL,
    rejected BIGINT NOT NULL,
    flagged BIGINT NOT NULL,
    delay_seconds_sum BIGINT NOT NULL,
    delay_seconds_max BIGINT NOT NULL,
    PRIMARY KEY (day, tenant_id, party_code, stage)
);

-- Thresholds per stage ('' = every stage without its own) and indicator. A bound in
-- thousandths of the indicator's value (a rate of 0.8 is 800, 24 hours is 24000); NULL sets
-- no warning. The reporting interval (day, week, month) only means something for the
-- reporting rate.
CREATE TABLE monitoring_thresholds (
    stage TEXT NOT NULL,
    indicator TEXT NOT NULL,
    bound_milli BIGINT,
    window_days INTEGER NOT NULL,
    min_base BIGINT NOT NULL,
    reporting_interval TEXT NOT NULL,
    updated_by TEXT NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    PRIMARY KEY (stage, indicator)
);
INSERT INTO monitoring_thresholds VALUES
    ('', 'reporting_rate', 800, 7, 1, 'day', 'system', CURRENT_TIMESTAMP),
    ('', 'merchant_activity', 600, 7, 3, 'day', 'system', CURRENT_TIMESTAMP),
    ('', 'delay_hours', 24000, 7, 10, 'day', 'system', CURRENT_TIMESTAMP),
    ('', 'rejection_rate', 50, 7, 20, 'day', 'system', CURRENT_TIMESTAMP),
    ('', 'anomaly_rate', 50, 7, 20, 'day', 'system', CURRENT_TIMESTAMP);

-- Warnings (预警): one open per subject, stage and indicator.
CREATE TABLE monitoring_warnings (
    id TEXT PRIMARY KEY NOT NULL,
    subject_kind TEXT NOT NULL,
    subject_id TEXT NOT NULL,
    subject_code TEXT NOT NULL,
    subject_name TEXT NOT NULL,
    tenant_id TEXT NOT NULL,
    region TEXT NOT NULL,
    stage TEXT NOT NULL,
    indicator TEXT NOT NULL,
    value_milli BIGINT NOT NULL,
    bound_milli BIGINT NOT NULL,
    window_from TEXT NOT NULL,
    window_to TEXT NOT NULL,
    status TEXT NOT NULL,
    opened_at TIMESTAMP NOT NULL,
    resolved_at TIMESTAMP,
    resolved_value_milli BIGINT
);
CREATE UNIQUE INDEX monitoring_warnings_one_open
    ON monitoring_warnings (subject_kind, subject_id, stage, indicator) WHERE status = 'open';
CREATE INDEX monitoring_warnings_recent ON monitoring_warnings (opened_at);
CREATE INDEX monitoring_warnings_tenant ON monitoring_warnings (tenant_id, status);
