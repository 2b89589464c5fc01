-- More measures for monitoring evaluation. Corrections: stored records that correct an earlier
-- one, counted per acting party and day like the other activity counts.
ALTER TABLE party_activity ADD COLUMN corrections BIGINT NOT NULL DEFAULT 0;

-- Each pull source's runs per day (China Standard Time) and how many failed: the availability
-- of a platform's pulls.
CREATE TABLE pull_days (
    tenant_id TEXT NOT NULL,
    source TEXT NOT NULL,
    day TEXT NOT NULL,
    runs BIGINT NOT NULL,
    failures BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, day, source)
);
