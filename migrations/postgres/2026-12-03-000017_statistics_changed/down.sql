DROP TABLE statistics_changed;
