-- Anomaly rules (异常数据监测规则) as data: node-wide rules (no tenant) and a tenant's own.
-- `params` is the rule's parameters as JSON, checked by the node against the rule's kind.
CREATE TABLE anomaly_rules (
    id TEXT PRIMARY KEY NOT NULL,
    tenant_id TEXT REFERENCES tenants(id),
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    params TEXT NOT NULL,
    enabled BOOLEAN NOT NULL,
    updated_by TEXT NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX anomaly_rules_tenant ON anomaly_rules(tenant_id);

-- The rules every node starts with; operators edit, disable or add to them in the console.
INSERT INTO anomaly_rules (id, tenant_id, kind, name, params, enabled, updated_by, updated_at) VALUES
('builtin-time-order', NULL, 'time_order', '时间顺序异常', '{}', TRUE, 'system', '2026-11-26 00:00:00'),
('builtin-sales-beyond-stock', NULL, 'sales_beyond_stock', '销售量超过购进量',
 '{"stages":["distribution_sale"],"tolerance_percent":0}', FALSE, 'system', '2026-11-26 00:00:00'),
('builtin-price-outlier', NULL, 'price_outlier', '价格偏离近期均价',
 '{"window_days":30,"z":3,"min_samples":20}', TRUE, 'system', '2026-11-26 00:00:00'),
('builtin-repeated-code', NULL, 'repeated_trace_code', '单品追溯码重复销售',
 '{"stage":"distribution_sale","direction":"out","max_count":1,"schemes":["drug","ecode","gs1"]}', TRUE, 'system', '2026-11-26 00:00:00'),
('builtin-quantity-range', NULL, 'range', '单笔数量过大',
 '{"field":"quantity","min":null,"max":1000000,"category":"","stage":"","unit":""}', TRUE, 'system', '2026-11-26 00:00:00');
