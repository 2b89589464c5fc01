DROP TABLE evaluation_results;
DROP TABLE evaluation_runs;
DROP TABLE evaluation_sets;
