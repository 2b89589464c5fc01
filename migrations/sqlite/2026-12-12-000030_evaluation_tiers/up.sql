-- Monitoring evaluation across the tiers. A set defined above arrives down the mailbox and is
-- kept with the region of the node that defined it (`origin`; empty: this node's own).
ALTER TABLE evaluation_sets ADD COLUMN origin TEXT NOT NULL DEFAULT '';

-- What a run's objects came to together: objects by grade (JSON array of five counts) and the
-- counters of their figures (JSON object), from which the jurisdiction is scored.
ALTER TABLE evaluation_runs ADD COLUMN grades TEXT NOT NULL DEFAULT '[0,0,0,0,0]';
ALTER TABLE evaluation_runs ADD COLUMN basis TEXT NOT NULL DEFAULT '{}';

-- The evaluation of a jurisdiction per set version and period: this node's own (via '') and
-- every one its children sent (via: the child it came through), the highest revision of each.
CREATE TABLE evaluation_summaries (
    set_code TEXT NOT NULL,
    set_version INTEGER NOT NULL,
    period TEXT NOT NULL,
    source_region TEXT NOT NULL,
    via TEXT NOT NULL,
    revision BIGINT NOT NULL,
    objects BIGINT NOT NULL,
    evaluated BIGINT NOT NULL,
    grades TEXT NOT NULL,
    basis TEXT NOT NULL,
    children_expected BIGINT NOT NULL,
    children_reported BIGINT NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    PRIMARY KEY (set_code, set_version, period, source_region)
);

-- The run of another node whose results are held here, per source: its parts as they arrive.
CREATE TABLE evaluation_held_runs (
    set_code TEXT NOT NULL,
    set_version INTEGER NOT NULL,
    period TEXT NOT NULL,
    source_region TEXT NOT NULL,
    run_id TEXT NOT NULL,
    parts INTEGER NOT NULL,
    parts_received INTEGER NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    PRIMARY KEY (set_code, set_version, period, source_region)
);

-- The results of those runs, as their nodes ranked them.
CREATE TABLE evaluation_held_results (
    set_code TEXT NOT NULL,
    set_version INTEGER NOT NULL,
    period TEXT NOT NULL,
    source_region TEXT NOT NULL,
    object_id TEXT NOT NULL,
    object_code TEXT NOT NULL,
    object_name TEXT NOT NULL,
    region TEXT NOT NULL,
    score_milli BIGINT,
    grade TEXT NOT NULL,
    rank BIGINT,
    indicators TEXT NOT NULL,
    PRIMARY KEY (set_code, set_version, period, source_region, object_id)
);
CREATE INDEX evaluation_held_results_rank
    ON evaluation_held_results (set_code, set_version, period, source_region, rank);

-- What goes up to the parent next (roll-up kind `evaluations`), in order.
CREATE TABLE evaluation_outbox (
    seq BIGINT PRIMARY KEY NOT NULL,
    payload TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);
