DROP TABLE monitoring_warnings;
DROP TABLE monitoring_thresholds;
DROP TABLE party_activity;
