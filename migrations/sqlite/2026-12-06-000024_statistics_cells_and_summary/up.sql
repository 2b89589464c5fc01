-- Statistics travel by cell group: a change marks (day, region), not the whole day, and the
-- digest of what was last queued is kept per (day, region), so a correction in one county
-- sends that county's cells of that day and nothing else. A mark of region '' stands for
-- the whole day (a day marked before this change, or a slice that came whole from a child).
CREATE TABLE statistics_marks (
    day TEXT NOT NULL,
    region TEXT NOT NULL,
    stamp BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (day, region)
);
INSERT INTO statistics_marks (day, region, stamp) SELECT day, '', stamp FROM statistics_changed;
DROP TABLE statistics_changed;

-- The digests of the day slices sent before carry no region: the parent keeps those slices
-- whole until a region of the day changes and is replaced on its own.
DROP TABLE statistics_sent;
CREATE TABLE statistics_sent (
    day TEXT NOT NULL,
    region TEXT NOT NULL,
    digest TEXT NOT NULL,
    batch_no BIGINT NOT NULL,
    PRIMARY KEY (day, region)
);

-- The jurisdiction's figures (own aggregates plus the children's slices) summed by region
-- level (2, 4 or 6 digits) and period (a day, a month or a year), kept up to date in the
-- transaction that changes either source, so an indicator over any window reads at most
-- five ranges of periods (days, months, years, months, days) at one level.
CREATE TABLE statistics_summary (
    level SMALLINT NOT NULL,
    span TEXT NOT NULL,
    period TEXT NOT NULL,
    region TEXT NOT NULL,
    stage TEXT NOT NULL,
    direction TEXT NOT NULL,
    records BIGINT NOT NULL,
    quantity_milli BIGINT NOT NULL,
    amount_fen BIGINT NOT NULL,
    priced BIGINT NOT NULL,
    price_fen_sum BIGINT NOT NULL,
    PRIMARY KEY (level, span, period, region, stage, direction)
);

-- Filled from what the node holds.
INSERT INTO statistics_summary
SELECT 2, 'd', substr(day, 1, 10), substr(region, 1, 2), stage, direction,
    CAST(SUM(records) AS BIGINT), CAST(SUM(quantity_milli) AS BIGINT), CAST(SUM(amount_fen) AS BIGINT),
    CAST(SUM(priced) AS BIGINT), CAST(SUM(price_fen_sum) AS BIGINT)
FROM (SELECT day, region, stage, direction, records, quantity_milli, amount_fen, priced, price_fen_sum FROM trace_daily
      UNION ALL SELECT day, region, stage, direction, records, quantity_milli, amount_fen, priced, price_fen_sum
      FROM federated_statistics) AS jurisdiction
GROUP BY substr(day, 1, 10), substr(region, 1, 2), stage, direction;
INSERT INTO statistics_summary
SELECT 2, 'm', substr(day, 1, 7), substr(region, 1, 2), stage, direction,
    CAST(SUM(records) AS BIGINT), CAST(SUM(quantity_milli) AS BIGINT), CAST(SUM(amount_fen) AS BIGINT),
    CAST(SUM(priced) AS BIGINT), CAST(SUM(price_fen_sum) AS BIGINT)
FROM (SELECT day, region, stage, direction, records, quantity_milli, amount_fen, priced, price_fen_sum FROM trace_daily
      UNION ALL SELECT day, region, stage, direction, records, quantity_milli, amount_fen, priced, price_fen_sum
      FROM federated_statistics) AS jurisdiction
GROUP BY substr(day, 1, 7), substr(region, 1, 2), stage, direction;
INSERT INTO statistics_summary
SELECT 2, 'y', substr(day, 1, 4), substr(region, 1, 2), stage, direction,
    CAST(SUM(records) AS BIGINT), CAST(SUM(quantity_milli) AS BIGINT), CAST(SUM(amount_fen) AS BIGINT),
    CAST(SUM(priced) AS BIGINT), CAST(SUM(price_fen_sum) AS BIGINT)
FROM (SELECT day, region, stage, direction, records, quantity_milli, amount_fen, priced, price_fen_sum FROM trace_daily
      UNION ALL SELECT day, region, stage, direction, records, quantity_milli, amount_fen, priced, price_fen_sum
      FROM federated_statistics) AS jurisdiction
GROUP BY substr(day, 1, 4), substr(region, 1, 2), stage, direction;
INSERT INTO statistics_summary
SELECT 4, 'd', substr(day, 1, 10), substr(region, 1, 4), stage, direction,
    CAST(SUM(records) AS BIGINT), CAST(SUM(quantity_milli) AS BIGINT), CAST(SUM(amount_fen) AS BIGINT),
    CAST(SUM(priced) AS BIGINT), CAST(SUM(price_fen_sum) AS BIGINT)
FROM (SELECT day, region, stage, direction, records, quantity_milli, amount_fen, priced, price_fen_sum FROM trace_daily
      UNION ALL SELECT day, region, stage, direction, records, quantity_milli, amount_fen, priced, price_fen_sum
      FROM federated_statistics) AS jurisdiction
GROUP BY substr(day, 1, 10), substr(region, 1, 4), stage, direction;
INSERT INTO statistics_summary
SELECT 4, 'm', substr(day, 1, 7), substr(region, 1, 4), stage, direction,
    CAST(SUM(records) AS BIGINT), CAST(SUM(quantity_milli) AS BIGINT), CAST(SUM(amount_fen) AS BIGINT),
    CAST(SUM(priced) AS BIGINT), CAST(SUM(price_fen_sum) AS BIGINT)
FROM (SELECT day, region, stage, direction, records, quantity_milli, amount_fen, priced, price_fen_sum FROM trace_daily
      UNION ALL SELECT day, region, stage, direction, records, quantity_milli, amount_fen, priced, price_fen_sum
      FROM federated_statistics) AS jurisdiction
GROUP BY substr(day, 1, 7), substr(region, 1, 4), stage, direction;
INSERT INTO statistics_summary
SELECT 4, 'y', substr(day, 1, 4), substr(region, 1, 4), stage, direction,
    CAST(SUM(records) AS BIGINT), CAST(SUM(quantity_milli) AS BIGINT), CAST(SUM(amount_fen) AS BIGINT),
    CAST(SUM(priced) AS BIGINT), CAST(SUM(price_fen_sum) AS BIGINT)
FROM (SELECT day, region, stage, direction, records, quantity_milli, amount_fen, priced, price_fen_sum FROM trace_daily
      UNION ALL SELECT day, region, stage, direction, records, quantity_milli, amount_fen, priced, price_fen_sum
      FROM federated_statistics) AS jurisdiction
GROUP BY substr(day, 1, 4), substr(region, 1, 4), stage, direction;
INSERT INTO statistics_summary
SELECT 6, 'd', substr(day, 1, 10), substr(region, 1, 6), stage, direction,
    CAST(SUM(records) AS BIGINT), CAST(SUM(quantity_milli) AS BIGINT), CAST(SUM(amount_fen) AS BIGINT),
    CAST(SUM(priced) AS BIGINT), CAST(SUM(price_fen_sum) AS BIGINT)
FROM (SELECT day, region, stage, direction, records, quantity_milli, amount_fen, priced, price_fen_sum FROM trace_daily
      UNION ALL SELECT day, region, stage, direction, records, quantity_milli, amount_fen, priced, price_fen_sum
      FROM federated_statistics) AS jurisdiction
GROUP BY substr(day, 1, 10), substr(region, 1, 6), stage, direction;
INSERT INTO statistics_summary
SELECT 6, 'm', substr(day, 1, 7), substr(region, 1, 6), stage, direction,
    CAST(SUM(records) AS BIGINT), CAST(SUM(quantity_milli) AS BIGINT), CAST(SUM(amount_fen) AS BIGINT),
    CAST(SUM(priced) AS BIGINT), CAST(SUM(price_fen_sum) AS BIGINT)
FROM (SELECT day, region, stage, direction, records, quantity_milli, amount_fen, priced, price_fen_sum FROM trace_daily
      UNION ALL SELECT day, region, stage, direction, records, quantity_milli, amount_fen, priced, price_fen_sum
      FROM federated_statistics) AS jurisdiction
GROUP BY substr(day, 1, 7), substr(region, 1, 6), stage, direction;
INSERT INTO statistics_summary
SELECT 6, 'y', substr(day, 1, 4), substr(region, 1, 6), stage, direction,
    CAST(SUM(records) AS BIGINT), CAST(SUM(quantity_milli) AS BIGINT), CAST(SUM(amount_fen) AS BIGINT),
    CAST(SUM(priced) AS BIGINT), CAST(SUM(price_fen_sum) AS BIGINT)
FROM (SELECT day, region, stage, direction, records, quantity_milli, amount_fen, priced, price_fen_sum FROM trace_daily
      UNION ALL SELECT day, region, stage, direction, records, quantity_milli, amount_fen, priced, price_fen_sum
      FROM federated_statistics) AS jurisdiction
GROUP BY substr(day, 1, 4), substr(region, 1, 6), stage, direction;
