DROP TABLE pull_cursors;
DROP TABLE anomalies;
DROP TABLE ingest_policies;
DROP TABLE submissions;
DROP TABLE trace_daily;
DROP TABLE trace_corrections;
DROP TABLE trace_records;
