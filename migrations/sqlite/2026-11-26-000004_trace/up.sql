-- Trace records (追溯信息) as the adapters deliver them: the three parts of a transaction
-- record (parties, product, act) as columns, quantities in thousandths and money in fen so
-- sums are exact, the act's time in UTC, and `region` the acting party's region (the seller's
-- for `out`, the buyer's for `in`). A sender's record id is unique per tenant: a resend (same
-- id, same content hash) is a duplicate, the same id with other content is refused, and a
-- correction is a new record naming the one it corrects (`trace_corrections`).
CREATE TABLE trace_records (
    seq INTEGER PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES tenants(id),
    record_id TEXT NOT NULL,
    content_hash BLOB NOT NULL,
    submission_id TEXT NOT NULL,
    reporter TEXT NOT NULL,
    status TEXT NOT NULL,
    flagged BOOLEAN NOT NULL,
    from_code TEXT NOT NULL,
    from_name TEXT NOT NULL,
    from_region TEXT NOT NULL,
    to_code TEXT NOT NULL,
    to_name TEXT NOT NULL,
    to_region TEXT NOT NULL,
    trace_code TEXT NOT NULL,
    scheme TEXT NOT NULL,
    product_name TEXT NOT NULL,
    category TEXT NOT NULL,
    specification TEXT NOT NULL,
    batch TEXT NOT NULL,
    production_date TEXT,
    shelf_life_days INTEGER,
    origin TEXT NOT NULL,
    stage TEXT NOT NULL,
    direction TEXT NOT NULL,
    quantity_milli BIGINT NOT NULL,
    unit TEXT NOT NULL,
    price_fen BIGINT,
    amount_fen BIGINT,
    act_time TIMESTAMP NOT NULL,
    place TEXT NOT NULL,
    region TEXT NOT NULL,
    UNIQUE (tenant_id, record_id)
);
CREATE INDEX trace_search ON trace_records(region, act_time);
CREATE INDEX trace_code ON trace_records(trace_code);
CREATE INDEX trace_batch ON trace_records(batch) WHERE batch <> '';

-- Corrections: which record each correction replaced (rare, so kept beside the records).
CREATE TABLE trace_corrections (
    tenant_id TEXT NOT NULL,
    record_id TEXT NOT NULL,
    corrects TEXT NOT NULL,
    PRIMARY KEY (tenant_id, record_id)
);

-- Daily aggregates kept while records are stored: what the statistics roll-up sends upward.
-- They equal a recount of the stored (not quarantined, not superseded) records.
CREATE TABLE trace_daily (
    tenant_id TEXT NOT NULL,
    day TEXT NOT NULL,
    region TEXT NOT NULL,
    category TEXT NOT NULL,
    stage TEXT NOT NULL,
    direction TEXT NOT NULL,
    records BIGINT NOT NULL,
    quantity_milli BIGINT NOT NULL,
    amount_fen BIGINT NOT NULL,
    priced BIGINT NOT NULL,
    price_fen_sum BIGINT NOT NULL,
    price_fen_sumsq DOUBLE NOT NULL,
    PRIMARY KEY (tenant_id, day, region, category, stage, direction)
) WITHOUT ROWID;
CREATE INDEX trace_daily_day ON trace_daily(day, region);

-- Submissions (数据报送): one row per envelope, import or pull, with its receipt; it is the
-- job of an asynchronous import and the transmission log.
CREATE TABLE submissions (
    id TEXT PRIMARY KEY NOT NULL,
    tenant_id TEXT NOT NULL REFERENCES tenants(id),
    sender TEXT NOT NULL,
    channel TEXT NOT NULL,
    format TEXT NOT NULL,
    message_id TEXT,
    mode TEXT NOT NULL,
    dry_run BOOLEAN NOT NULL,
    status TEXT NOT NULL,
    bytes BIGINT NOT NULL,
    received BIGINT NOT NULL,
    accepted BIGINT NOT NULL,
    duplicates BIGINT NOT NULL,
    rejected BIGINT NOT NULL,
    quarantined BIGINT NOT NULL,
    flagged BIGINT NOT NULL,
    receipt TEXT,
    spool TEXT,
    actor TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    started_at TIMESTAMP,
    finished_at TIMESTAMP
);
CREATE INDEX submissions_tenant ON submissions(tenant_id, created_at);
CREATE INDEX submissions_sender ON submissions(sender, created_at);
CREATE INDEX submissions_open ON submissions(status) WHERE status IN ('queued', 'running');

-- Per-tenant ingestion policy: what an unknown reference (an unregistered entity) does to a
-- record, the tenant's own body-size and rate limits (NULL: the node's defaults), and how
-- often it is expected to send (NULL: no schedule), which the transmission monitor checks.
CREATE TABLE ingest_policies (
    tenant_id TEXT PRIMARY KEY NOT NULL REFERENCES tenants(id),
    unknown_reference TEXT NOT NULL,
    max_body_bytes BIGINT,
    submissions_per_minute INTEGER,
    expected_every_minutes INTEGER,
    updated_by TEXT NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

-- Anomalies (异常数据) found in stored records, by a rule or a reference policy; reviewed as
-- confirmed or dismissed.
CREATE TABLE anomalies (
    id TEXT PRIMARY KEY NOT NULL,
    tenant_id TEXT NOT NULL REFERENCES tenants(id),
    record_id TEXT NOT NULL,
    submission_id TEXT NOT NULL,
    rule TEXT NOT NULL,
    detail_zh TEXT NOT NULL,
    detail_en TEXT NOT NULL,
    status TEXT NOT NULL,
    reviewed_by TEXT,
    reviewed_at TIMESTAMP,
    review_note TEXT,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX anomalies_tenant ON anomalies(tenant_id, status, created_at);
CREATE INDEX anomalies_record ON anomalies(tenant_id, record_id);

-- Pull sources' cursors: where each vendor API was last read up to.
CREATE TABLE pull_cursors (
    name TEXT PRIMARY KEY NOT NULL,
    cursor TEXT NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    last_error TEXT
);
