/**
 * The run registry: every `gauntlet run`, `train`, `attack`, `stream` and `calibrate` records
 * itself — ids, status, models with lineage, data, config, seed, versions, git commit, every metric
 * with its CI, budgets, artifacts — in a SQLite file (embedded default) or a PostgreSQL database
 * (teams). `gauntlet runs` reads it, `gauntlet hub` serves it.
 *
 * Where it lives (`registryTarget`): `--registry URL` (a file path, `file:` URL or
 * `postgres://…`), else `$GAUNTLET_REGISTRY` (`off` or empty: record nothing), else
 * `.gauntlet/registry.db` in the folder that holds the run's output. Under the Node test runner
 * (`NODE_TEST_CONTEXT` set) with neither given, nothing is recorded, so test suites that run
 * Gauntlet never leave registry files in a repository or a home directory.
 *
 * Example:
 *   const reg = await openRegistry('runs/.gauntlet/registry.db');
 *   await reg.record(campaignRecord(results, { id, started, finished, outDir, resultsSha256 }), compactResults(results));
 *   (await reg.list({ model: 'classifier' })).map((r) => r.id);
 *   await reg.close();
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { readResults } from '../report/index.js';
import { RegistryError } from '../errors.js';
import { campaignRecord, compactResults, fileSha256, newRunId } from './record.js';
import { openPostgres } from './postgres.js';
import { openSqlite } from './sqlite.js';
import { migrate, SqlRegistry } from './sql.js';
import type { Registry, RunRecord } from './types.js';

export * from './types.js';
export { campaignRecord, compactResults, fileSha256, gitCommit, modelName, newRunId, stressLabel, verbRecord, versions, type VerbMetric, type VerbRecordInput } from './record.js';
export { SCHEMA_VERSION } from './schema.js';
export { redactUrl } from './postgres.js';

/** The registry file name under `.gauntlet/`. */
export const DEFAULT_REGISTRY = path.join('.gauntlet', 'registry.db');

export function isPostgresUrl(url: string): boolean {
  return /^postgres(ql)?:\/\//i.test(url);
}

/**
 * Where a run records itself, or null for nowhere. `flag` is `--registry`, `off` is `--no-registry`,
 * `anchorDir` the folder that holds the run's output (the run directory's parent, or the folder of
 * an output file, or the working directory).
 */
export function registryTarget(o: { flag?: string; off?: boolean; anchorDir: string; env?: NodeJS.ProcessEnv }): string | null {
  const env = o.env ?? process.env;
  if (o.off) return null;
  if (o.flag !== undefined) return o.flag;
  const fromEnv = env.GAUNTLET_REGISTRY;
  if (fromEnv !== undefined) return fromEnv === '' || /^(off|none|0|false)$/i.test(fromEnv) ? null : fromEnv;
  if (env.NODE_TEST_CONTEXT !== undefined) return null;
  return path.join(path.resolve(o.anchorDir), DEFAULT_REGISTRY);
}

/** The registry that `gauntlet runs` and `gauntlet hub` read: `--registry`, else `$GAUNTLET_REGISTRY`, else .gauntlet/registry.db here. */
export function readTarget(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  if (flag !== undefined) return flag;
  const e = env.GAUNTLET_REGISTRY;
  if (e !== undefined && e !== '' && !/^(off|none|0|false)$/i.test(e)) return e;
  return path.resolve(DEFAULT_REGISTRY);
}

/**
 * Opens the registry at `url` and brings its schema up to date. `mustExist`: a SQLite file that is
 * not there is an error (for readers), instead of being created.
 */
export async function openRegistry(url: string, opts: { mustExist?: boolean } = {}): Promise<Registry> {
  if (url.trim() === '') throw new RegistryError(`the registry location is empty; give a SQLite file path or a postgres:// URL`);
  let db;
  if (isPostgresUrl(url)) db = await openPostgres(url);
  else {
    if (/^[a-z][a-z0-9+.-]*:\/\//i.test(url) && !url.startsWith('file:')) throw new RegistryError(`'${url}': not a registry location; give a SQLite file path, a file: URL or a postgres:// URL`);
    const file = url.startsWith('file:') ? fileURLToPath(url) : url;
    if (opts.mustExist && !fs.existsSync(file)) throw new RegistryError(`${path.resolve(file)}: no registry there (runs record themselves into .gauntlet/registry.db beside their output, or where --registry / GAUNTLET_REGISTRY say)`);
    db = await openSqlite(file);
  }
  try {
    await migrate(db);
  } catch (e) {
    await db.close().catch(() => {});
    if (e instanceof RegistryError) throw e;
    throw new RegistryError(`${db.location}: cannot prepare the registry (${(e as Error).message.split('\n')[0]})`);
  }
  return new SqlRegistry(db);
}

export interface ImportOutcome {
  dir: string;
  /** 'recorded' with the new id, or 'already' with the id of the run that holds the same results.json. */
  status: 'recorded' | 'already';
  id: string;
}

/**
 * Records an existing run directory (its results.json and manifest.json) as a run that finished
 * when its results.json was written. A directory whose results.json is already recorded (same
 * sha256) is not recorded twice. Throws DataError for a directory that is not a finished run.
 */
export async function importRunDir(reg: Registry, dir: string): Promise<ImportOutcome> {
  const results = readResults(dir);
  const file = path.join(dir, 'results.json');
  const sha = fileSha256(file);
  const have = await reg.findByResults(sha);
  if (have) return { dir, status: 'already', id: have };
  const finished = fs.statSync(file).mtime;
  let started = new Date(finished.getTime() - Math.round((results.performance?.wall_seconds ?? 0) * 1000));
  try {
    const first = fs.readFileSync(path.join(dir, 'events.jsonl'), 'utf8').split('\n', 1)[0]!;
    const t = (JSON.parse(first) as { time?: string }).time;
    if (t && !Number.isNaN(Date.parse(t))) started = new Date(t);
  } catch {
    // no event log: started = finished − wall time
  }
  const id = newRunId('run', started, sha);
  const rec: RunRecord = campaignRecord(results, { id, started: started.toISOString(), finished: finished.toISOString(), outDir: dir, resultsSha256: sha, imported: true, versions: { gauntlet: results.gauntlet } });
  await reg.record(rec, compactResults(results));
  return { dir, status: 'recorded', id };
}
