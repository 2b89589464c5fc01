-- The business document of an act (交易凭证号; an EPCIS event's bizTransactionList), kept
-- beside the record only when it has one.
CREATE TABLE trace_vouchers (
    tenant_id TEXT NOT NULL,
    record_id TEXT NOT NULL,
    voucher TEXT NOT NULL,
    PRIMARY KEY (tenant_id, record_id)
);
-- The GS1 GLN of a site, by which EPCIS documents name it (bizLocation, readPoint).
ALTER TABLE sites ADD COLUMN gln TEXT;
CREATE UNIQUE INDEX sites_gln ON sites (gln);
