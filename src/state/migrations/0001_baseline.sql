-- Baseline: the tables the release before numbered migrations created on first use, exactly as
-- it created them. A data folder written by that release has some or all of them already (its
-- user_version is 0); `IF NOT EXISTS` leaves those as they are and adds the missing ones.

-- The ingest ledger (lake::ledger): one row per dropped file or database pull.
CREATE TABLE IF NOT EXISTS deliveries (
    id            INTEGER PRIMARY KEY,
    unit          TEXT NOT NULL,
    feed          TEXT,
    table_name    TEXT,
    file_name     TEXT NOT NULL,
    sha256        TEXT NOT NULL,
    bytes         INTEGER NOT NULL,
    file_mtime    TEXT NOT NULL,
    received_at   TEXT NOT NULL,
    finished_at   TEXT,
    status        TEXT NOT NULL,
    format        TEXT,
    sheet         TEXT,
    header_row    INTEGER,
    rows_read     INTEGER NOT NULL DEFAULT 0,
    rows_accepted INTEGER NOT NULL DEFAULT 0,
    rows_rejected INTEGER NOT NULL DEFAULT 0,
    rows_warned   INTEGER NOT NULL DEFAULT 0,
    rows_skipped  INTEGER NOT NULL DEFAULT 0,
    reason        TEXT,
    lake_file     TEXT,
    archive_path  TEXT,
    receipt_path  TEXT
);
CREATE INDEX IF NOT EXISTS deliveries_sha ON deliveries(sha256, status);

-- Database feeds: how far each has been pulled. Written in the same transaction that marks the
-- pull's delivery ingested, so a crash in between repeats the window instead of skipping it.
CREATE TABLE IF NOT EXISTS watermarks (
    feed        TEXT PRIMARY KEY,
    column_name TEXT NOT NULL,
    kind        TEXT NOT NULL,
    value       TEXT NOT NULL,
    -- JSON array of the fingerprints of the rows taken whose watermark is exactly `value`:
    -- the next pull reads from `value` inclusive and skips these.
    boundary    TEXT NOT NULL,
    delivery    INTEGER,
    updated_at  TEXT NOT NULL
);

-- Every pull attempt of a database feed, including the ones that brought nothing or failed.
CREATE TABLE IF NOT EXISTS pulls (
    id             INTEGER PRIMARY KEY,
    feed           TEXT NOT NULL,
    source         TEXT NOT NULL,
    started_at     TEXT NOT NULL,
    finished_at    TEXT NOT NULL,
    status         TEXT NOT NULL,
    attempts       INTEGER NOT NULL,
    rows_read      INTEGER NOT NULL,
    rows_seen      INTEGER NOT NULL,
    delivery       INTEGER,
    watermark_from TEXT,
    watermark_to   TEXT,
    error          TEXT
);

-- The run ledger (schedule::ledger): one row per attempt of a job.
CREATE TABLE IF NOT EXISTS runs (
    id              INTEGER PRIMARY KEY,
    trigger         TEXT NOT NULL,      -- cron | file | manual
    job             TEXT NOT NULL,      -- ingest | build | report:<name>; a file trigger is "ingest"
    unit            TEXT,               -- file trigger: the inbox folder the file came from
    file            TEXT,               -- file trigger: the file's path
    scheduled_for   TEXT,               -- cron trigger: the slot, UTC RFC 3339
    catch_up        INTEGER NOT NULL DEFAULT 0,  -- 1: run late for a slot missed while down
    attempt         INTEGER NOT NULL DEFAULT 1,
    retry_of        INTEGER,            -- the first attempt's id, on attempts 2..
    pid             INTEGER NOT NULL,
    started_at      TEXT NOT NULL,
    ended_at        TEXT,
    status          TEXT NOT NULL,      -- running | ok | failed | retrying
    rows_in         INTEGER NOT NULL DEFAULT 0,
    rows_accepted   INTEGER NOT NULL DEFAULT 0,
    rows_rejected   INTEGER NOT NULL DEFAULT 0,
    error           TEXT,
    next_attempt_at TEXT                -- status retrying: when the next attempt is due
);
CREATE INDEX IF NOT EXISTS runs_status ON runs(status);
CREATE INDEX IF NOT EXISTS runs_job ON runs(job, started_at);

-- Cron slots claimed (schedule::ledger): a slot runs once, whoever triggers it.
CREATE TABLE IF NOT EXISTS schedule_slots (
    job           TEXT NOT NULL,
    scheduled_for TEXT NOT NULL,        -- UTC RFC 3339, whole seconds
    claimed_at    TEXT NOT NULL,
    missed_before INTEGER NOT NULL DEFAULT 0,  -- earlier slots folded into this one (capped)
    run_id        INTEGER,              -- the first attempt's id in runs
    state         TEXT NOT NULL DEFAULT 'claimed',  -- claimed | released (cut short: redo once)
    UNIQUE (job, scheduled_for)
);

-- The exchange audit (exchange): which unit received which table, how many rows, under which rule.
CREATE TABLE IF NOT EXISTS exchange_audit (
    id INTEGER PRIMARY KEY, unit TEXT NOT NULL, week TEXT NOT NULL, table_name TEXT NOT NULL,
    rows INTEGER NOT NULL, rule TEXT NOT NULL, mode TEXT NOT NULL, max_delivery INTEGER,
    package TEXT NOT NULL, sha256 TEXT NOT NULL, created_at TEXT NOT NULL);
