DROP TABLE job_runs;
DROP TABLE job_state;
