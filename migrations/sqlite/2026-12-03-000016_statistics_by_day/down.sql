DROP INDEX federated_statistics_day;
