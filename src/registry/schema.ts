/**
 * The registry's schema as versioned migrations, one SQL list per version, written once in the
 * SQL that SQLite and PostgreSQL both speak (TEXT, INTEGER, DOUBLE PRECISION). A registry records
 * the versions it applied in `schema_migrations`; opening one applies the missing versions in one
 * write transaction (PostgreSQL: under an advisory lock), so two processes opening a new registry at
 * once apply each migration exactly once. A registry whose schema is newer than this Gauntlet is
 * refused, never altered.
 */
export const MIGRATIONS: readonly { version: number; name: string; sql: readonly string[] }[] = [
  {
    version: 1,
    name: 'runs, models, metrics, budgets, artifacts',
    sql: [
      `CREATE TABLE runs (
        id TEXT PRIMARY KEY, kind TEXT NOT NULL, imported INTEGER NOT NULL, status TEXT NOT NULL,
        started_at TEXT NOT NULL, finished_at TEXT NOT NULL,
        model_name TEXT NOT NULL, model_sha256 TEXT NOT NULL, parent_sha256 TEXT,
        data_name TEXT, data_sha256 TEXT, seed DOUBLE PRECISION, git_commit TEXT, out_dir TEXT,
        results_sha256 TEXT, budgets_passed INTEGER NOT NULL, budgets_failed INTEGER NOT NULL,
        record TEXT NOT NULL, results TEXT)`,
      `CREATE INDEX runs_started ON runs (started_at)`,
      `CREATE INDEX runs_model ON runs (model_name)`,
      `CREATE INDEX runs_results ON runs (results_sha256)`,
      `CREATE TABLE run_models (
        run_id TEXT NOT NULL, name TEXT NOT NULL, sha256 TEXT NOT NULL, parent_sha256 TEXT, parent_name TEXT,
        PRIMARY KEY (run_id, name, sha256))`,
      `CREATE INDEX run_models_name ON run_models (name)`,
      `CREATE TABLE metrics (
        run_id TEXT NOT NULL, model_name TEXT NOT NULL, model_sha256 TEXT NOT NULL, cell TEXT NOT NULL,
        stage TEXT NOT NULL, stress TEXT NOT NULL, metric TEXT NOT NULL,
        value DOUBLE PRECISION, ci_lo DOUBLE PRECISION, ci_hi DOUBLE PRECISION,
        PRIMARY KEY (run_id, cell, metric))`,
      `CREATE INDEX metrics_model ON metrics (model_name, metric)`,
      `CREATE TABLE budgets (
        run_id TEXT NOT NULL, idx INTEGER NOT NULL, name TEXT NOT NULL, passed INTEGER NOT NULL, message TEXT NOT NULL,
        PRIMARY KEY (run_id, idx))`,
      `CREATE TABLE artifacts (
        run_id TEXT NOT NULL, idx INTEGER NOT NULL, name TEXT NOT NULL, path TEXT NOT NULL,
        PRIMARY KEY (run_id, idx))`,
    ],
  },
];

export const SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1]!.version;
