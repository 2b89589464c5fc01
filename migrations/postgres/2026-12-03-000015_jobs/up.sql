-- The job supervisor's state: one row a job. A job that must run once across the processes
-- of a node claims each occurrence (fire_at) by an update that only one process can win,
-- and holds a lease (lease_until) while it runs, so a slow run is not overlapped.
CREATE TABLE job_state (
    name TEXT PRIMARY KEY,
    fire_at TIMESTAMP,
    holder TEXT,
    lease_until TIMESTAMP,
    last_started_at TIMESTAMP,
    last_finished_at TIMESTAMP,
    last_outcome TEXT,
    last_detail TEXT,
    runs BIGINT NOT NULL DEFAULT 0,
    failures BIGINT NOT NULL DEFAULT 0
);

-- The newest runs of each job (the supervisor keeps 200 a job): when, by which process,
-- and how it ended. One row an occurrence at most.
CREATE TABLE job_runs (
    id BIGSERIAL PRIMARY KEY,
    name TEXT NOT NULL,
    fire_at TIMESTAMP NOT NULL,
    holder TEXT NOT NULL,
    started_at TIMESTAMP NOT NULL,
    finished_at TIMESTAMP,
    outcome TEXT,
    detail TEXT,
    UNIQUE (name, fire_at)
);
