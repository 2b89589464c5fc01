-- Statistics are read by day and region (a window of days, a region prefix): the
-- children's slices get the index the node's own aggregates have.
CREATE INDEX federated_statistics_day ON federated_statistics(day, region);
