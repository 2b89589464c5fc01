-- Each mark of a changed day counts up, so a roll-up that read a day outside the write lock
-- clears the mark only if no change marked the day again meanwhile.
ALTER TABLE statistics_changed ADD COLUMN stamp BIGINT NOT NULL DEFAULT 0;
