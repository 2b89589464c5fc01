DROP TABLE anomaly_rules;
