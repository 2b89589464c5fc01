DROP TABLE statistics_summary;
DROP TABLE statistics_sent;
CREATE TABLE statistics_sent (
    day TEXT PRIMARY KEY NOT NULL,
    digest TEXT NOT NULL,
    batch_no BIGINT NOT NULL
);
CREATE TABLE statistics_changed (
    day TEXT PRIMARY KEY NOT NULL,
    stamp BIGINT NOT NULL DEFAULT 0
);
INSERT INTO statistics_changed (day, stamp) SELECT DISTINCT day, 0 FROM statistics_marks;
DROP TABLE statistics_marks;
