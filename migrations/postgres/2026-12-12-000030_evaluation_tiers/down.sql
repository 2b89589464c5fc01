DROP TABLE evaluation_outbox;
DROP TABLE evaluation_held_results;
DROP TABLE evaluation_held_runs;
DROP TABLE evaluation_summaries;
ALTER TABLE evaluation_runs DROP COLUMN basis;
ALTER TABLE evaluation_runs DROP COLUMN grades;
ALTER TABLE evaluation_sets DROP COLUMN origin;
