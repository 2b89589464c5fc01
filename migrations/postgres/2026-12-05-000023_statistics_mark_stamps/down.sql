ALTER TABLE statistics_changed DROP COLUMN stamp;
