DROP TABLE pull_days;
ALTER TABLE party_activity DROP COLUMN corrections;
