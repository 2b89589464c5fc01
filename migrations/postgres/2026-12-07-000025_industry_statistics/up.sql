-- Industry statistics (行业统计) under the 新产业新业态新商业模式统计分类: the classification as a
-- code list by edition, statistical report forms defined as data, the reports reporting units
-- (tenants) fill for a period, the periods staff close, and the summaries of the
-- jurisdiction: this node's own and those its children send up (every node below, by the
-- region whose jurisdiction a summary covers), with the outbox of what goes on to the parent.
CREATE TABLE sanxin_classes (
    edition TEXT NOT NULL,
    code TEXT NOT NULL,
    name TEXT NOT NULL,
    level SMALLINT NOT NULL,
    industries TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (edition, code)
);
INSERT INTO sanxin_classes (edition, code, name, level, industries) VALUES
    ('2018', '01', '现代农林牧渔业', 1, ''),
    ('2018', '02', '先进制造业', 1, ''),
    ('2018', '03', '新型能源活动', 1, ''),
    ('2018', '04', '节能环保活动', 1, ''),
    ('2018', '05', '互联网与现代信息技术服务', 1, ''),
    ('2018', '06', '现代技术服务与创新创业服务', 1, ''),
    ('2018', '07', '现代生产性服务活动', 1, ''),
    ('2018', '08', '新型生活性服务活动', 1, ''),
    ('2018', '09', '现代综合管理活动', 1, '');

CREATE TABLE industry_forms (
    code TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    edition TEXT NOT NULL,
    frequency TEXT NOT NULL,
    deadline_days INTEGER NOT NULL,
    origin TEXT NOT NULL,
    status TEXT NOT NULL,
    definition TEXT NOT NULL,
    digest TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    published_at TIMESTAMP
);

CREATE TABLE industry_form_units (
    form_code TEXT NOT NULL,
    tenant_id TEXT NOT NULL,
    PRIMARY KEY (form_code, tenant_id)
);

CREATE TABLE industry_reports (
    id TEXT PRIMARY KEY,
    form_code TEXT NOT NULL,
    period TEXT NOT NULL,
    tenant_id TEXT NOT NULL,
    status TEXT NOT NULL,
    figures TEXT NOT NULL,
    digest TEXT NOT NULL,
    version INTEGER NOT NULL,
    filled_by TEXT NOT NULL,
    filled_at TIMESTAMP NOT NULL,
    submitted_at TIMESTAMP,
    reviewed_by TEXT,
    reviewed_at TIMESTAMP,
    reason TEXT NOT NULL DEFAULT ''
);
CREATE UNIQUE INDEX industry_reports_unit ON industry_reports (form_code, period, tenant_id);
CREATE INDEX industry_reports_status ON industry_reports (status, form_code, period);

CREATE TABLE industry_periods (
    form_code TEXT NOT NULL,
    period TEXT NOT NULL,
    closed_by TEXT NOT NULL,
    closed_at TIMESTAMP NOT NULL,
    PRIMARY KEY (form_code, period)
);

-- Reminders sent about a period's reports: to a unit (tenant_id) before the deadline ('due')
-- and after it ('late'), to the node's own channels about children ('' tenant) once late.
CREATE TABLE industry_reminders (
    form_code TEXT NOT NULL,
    period TEXT NOT NULL,
    tenant_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    sent_at TIMESTAMP NOT NULL,
    PRIMARY KEY (form_code, period, tenant_id, kind)
);

CREATE TABLE industry_summaries (
    source_region TEXT NOT NULL,
    form_code TEXT NOT NULL,
    period TEXT NOT NULL,
    via TEXT NOT NULL,
    revision BIGINT NOT NULL,
    units_expected BIGINT NOT NULL,
    units_reported BIGINT NOT NULL,
    children_expected BIGINT NOT NULL,
    children_reported BIGINT NOT NULL,
    figures TEXT NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    PRIMARY KEY (source_region, form_code, period)
);
CREATE INDEX industry_summaries_form ON industry_summaries (form_code, period, via);

CREATE TABLE industry_outbox (
    seq BIGINT PRIMARY KEY,
    source_region TEXT NOT NULL,
    form_code TEXT NOT NULL,
    period TEXT NOT NULL,
    payload TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);
