-- Monitoring evaluation (监测评价). An indicator set is versioned: a change adds a version and
-- never rewrites one that runs were made with. `definition` is the set as JSON (indicators
-- with formula, weight and scoring rule; grade bounds), checked before it is stored.
CREATE TABLE evaluation_sets (
    code TEXT NOT NULL,
    version INTEGER NOT NULL,
    name TEXT NOT NULL,
    frequency TEXT NOT NULL,
    object_kind TEXT NOT NULL,
    stage TEXT NOT NULL,
    definition TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (code, version)
);

-- A run evaluates every object of a set's kind for one period. Running a period again makes a
-- new run; the earlier one stays, marked superseded.
CREATE TABLE evaluation_runs (
    id TEXT PRIMARY KEY NOT NULL,
    set_code TEXT NOT NULL,
    set_version INTEGER NOT NULL,
    period TEXT NOT NULL,
    status TEXT NOT NULL,
    objects BIGINT NOT NULL,
    evaluated BIGINT NOT NULL,
    run_by TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    FOREIGN KEY (set_code, set_version) REFERENCES evaluation_sets (code, version)
);
CREATE INDEX evaluation_runs_period ON evaluation_runs (set_code, period, status);

-- One object's result in a run: its composite score (thousandths of a point; absent when no
-- indicator had a value), grade, rank, and the inputs it was computed from (JSON).
CREATE TABLE evaluation_results (
    run_id TEXT NOT NULL REFERENCES evaluation_runs (id),
    object_id TEXT NOT NULL,
    object_code TEXT NOT NULL,
    object_name TEXT NOT NULL,
    tenant_id TEXT NOT NULL,
    region TEXT NOT NULL,
    score_milli BIGINT,
    grade TEXT NOT NULL,
    rank BIGINT,
    inputs TEXT NOT NULL,
    PRIMARY KEY (run_id, object_id)
);
CREATE INDEX evaluation_results_rank ON evaluation_results (run_id, rank);
CREATE INDEX evaluation_results_object ON evaluation_results (object_id, run_id);
