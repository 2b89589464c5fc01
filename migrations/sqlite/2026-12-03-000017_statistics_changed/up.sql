-- The days whose statistics slice may have changed since it was last queued for the
-- parent: marked in the transaction that changes the node's own aggregates or a child's
-- slice, taken a bounded number at a time by the statistics roll-up. A database made
-- before marks every day it holds, so its first roll-up compares them all once.
CREATE TABLE statistics_changed (
    day TEXT PRIMARY KEY NOT NULL
);
INSERT INTO statistics_changed (day)
SELECT day FROM trace_daily
UNION SELECT day FROM federated_statistics
UNION SELECT day FROM statistics_sent;
