import fs from 'node:fs';
import path from 'node:path';
import { writeFileAtomicSync } from '../data/util.js';
import { ConfigError } from '../errors.js';
import { canonical } from './plan.js';

/** Writes a file atomically (see `writeFileAtomicSync`), creating its folder. Never leaves a half-written file. */
export function writeAtomic(file: string, content: string | Uint8Array): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  writeFileAtomicSync(file, content);
}

export function writeJson(file: string, value: unknown): void {
  writeAtomic(file, JSON.stringify(value, jsonReplacer, 2) + '\n');
}

/** JSON with non-finite numbers written as null (JSON has no NaN). */
export function jsonReplacer(_key: string, v: unknown): unknown {
  if (typeof v === 'number' && !Number.isFinite(v)) return null;
  if (ArrayBuffer.isView(v) && !(v instanceof DataView)) return Array.from(v as unknown as ArrayLike<number>);
  return v;
}

/** The run directory: manifest, results, per-cell checkpoints and an append-only event log. */
export class RunStore {
  constructor(readonly dir: string) {}

  get manifestPath(): string {
    return path.join(this.dir, 'manifest.json');
  }
  get resultsPath(): string {
    return path.join(this.dir, 'results.json');
  }
  cellPath(id: string): string {
    return path.join(this.dir, 'cells', `${id}.json`);
  }

  readJson<T>(file: string): T | null {
    try {
      return JSON.parse(fs.readFileSync(file, 'utf8')) as T;
    } catch {
      return null;
    }
  }

  event(e: Record<string, unknown>): void {
    fs.mkdirSync(this.dir, { recursive: true });
    fs.appendFileSync(path.join(this.dir, 'events.jsonl'), JSON.stringify({ time: new Date().toISOString(), ...e }, jsonReplacer) + '\n');
  }
}

/**
 * Run-directory rules. Gauntlet writes only these names into a run directory: the files below and
 * `cells/<cell id>.json` (one checkpoint per cell). A directory is a Gauntlet run when its
 * manifest.json parses and carries Gauntlet's version and run identity.
 *
 * - A missing or empty directory: a new run starts there.
 * - A Gauntlet run: refused unless `resume` (continue it; the model, data and config must match) or
 *   `restart` (delete the old run's Gauntlet files — the names above, nothing else — and start again).
 * - Any other non-empty directory: refused unless `force`, which writes the run's files beside the
 *   ones there; even then Gauntlet never overwrites or deletes a file it did not write: it refuses
 *   when one of its names already exists there. `restart` and `resume` refuse such a directory.
 * - A run that fails (or is interrupted) before writing its first cell checkpoint removes what it
 *   created — its files, and the directory and parents it made when they are empty again — so the
 *   same command can simply be run again.
 */
export const RUN_FILES = ['manifest.json', 'results.json', 'events.jsonl', 'report.md', 'report.html', 'junit.xml'] as const;
export const CELLS_DIR = 'cells';

export interface RunDirOptions {
  resume?: boolean;
  restart?: boolean;
  force?: boolean;
}

/** Whether `dir` holds a Gauntlet run (a manifest with Gauntlet's version and the run identity). */
export function isRunDir(dir: string): boolean {
  const m = readManifest(dir);
  return m !== null;
}

function readManifest(dir: string): { gauntlet: string; identity: unknown } | null {
  try {
    const m = JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8')) as { gauntlet?: unknown; identity?: unknown };
    return typeof m === 'object' && m !== null && typeof m.gauntlet === 'string' && typeof m.identity === 'object' && m.identity !== null ? (m as { gauntlet: string; identity: unknown }) : null;
  } catch {
    return null;
  }
}

function entries(dir: string): string[] | null {
  try {
    return fs.readdirSync(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    if ((e as NodeJS.ErrnoException).code === 'ENOTDIR') throw new ConfigError(`${dir}: is a file, not a directory; give --out a directory`);
    throw e;
  }
}

/** The Gauntlet checkpoint files in a run directory's cells/ folder. */
function cellFiles(dir: string): string[] {
  return (entries(path.join(dir, CELLS_DIR)) ?? []).filter((f) => f.endsWith('.json'));
}

/** Paths this process has claimed and not yet finished with (see `abandonUnfinishedRuns`). */
const live = new Set<RunDirClaim>();

/**
 * Checks `dir` against the run-directory rules and takes it: deletes an old run's files on
 * `restart`, and remembers what existed so that `abandon()` can remove only what this run created.
 * `identity` is the canonical identity of the run about to start (compared on `resume`).
 */
export function claimRunDir(dir: string, identity: string, opts: RunDirOptions = {}): RunDirClaim {
  if (checkRunDir(dir, opts, identity) === 'run' && opts.restart) discardRun(dir);
  const claim = new RunDirClaim(dir);
  live.add(claim);
  return claim;
}

/**
 * The run-directory rules without side effects (for --dry-run and early checks): throws a ConfigError
 * naming the way out, or says what `dir` is. `identity` (when known) is compared on `resume`.
 */
export function checkRunDir(dir: string, opts: RunDirOptions = {}, identity?: string): 'new' | 'run' | 'forced' {
  const list = entries(dir);
  const manifest = list?.includes('manifest.json') ? readManifest(dir) : null;
  if (manifest) {
    if (opts.restart) return 'run';
    if (!opts.resume) throw new ConfigError(`${dir}: already holds a run; use --resume to continue it, --restart to discard it and start again, or another --out`);
    if (identity !== undefined && canonical(manifest.identity) !== identity) throw new ConfigError(`${dir}: cannot resume: the model, data or config differ from the run recorded there (--restart discards that run and starts again)`);
  } else if (list && list.length > 0) {
    if (opts.restart || (opts.resume && !opts.force)) {
      throw new ConfigError(`${dir}: is not a Gauntlet run (no Gauntlet manifest.json), so there is nothing to ${opts.restart ? 'restart' : 'resume'}; Gauntlet never deletes files it did not write`);
    }
    if (!opts.force) throw new ConfigError(`${dir}: is not empty and is not a Gauntlet run; use another --out, or --force to write the run beside its files (nothing there is overwritten or deleted)`);
    const taken = [...RUN_FILES, CELLS_DIR].filter((f) => list.includes(f) && !(f === CELLS_DIR && fs.statSync(path.join(dir, f)).isDirectory() && cellFiles(dir).length === 0));
    if (taken.length) throw new ConfigError(`${dir}: already has ${taken.join(', ')}, not written by a Gauntlet run; --force never overwrites files Gauntlet did not write: move ${taken.length > 1 ? 'them' : 'it'} or use another --out`);
    return 'forced';
  }
  return manifest ? 'run' : 'new';
}

/** Deletes a run's Gauntlet files (RUN_FILES and cells/*.json; cells/ itself when left empty). Nothing else. */
export function discardRun(dir: string): void {
  for (const f of cellFiles(dir)) fs.rmSync(path.join(dir, CELLS_DIR, f), { force: true });
  removeEmptyDir(path.join(dir, CELLS_DIR));
  // manifest.json last: an interrupted discard still reads as a run.
  for (const f of [...RUN_FILES].reverse()) fs.rmSync(path.join(dir, f), { force: true });
}

function removeEmptyDir(dir: string): void {
  try {
    fs.rmdirSync(dir);
  } catch {
    // not empty, or not there: kept
  }
}

/** What a run found in its directory when it started, so that it can remove only what it created. */
export class RunDirClaim {
  /** Directories that did not exist (deepest first), the run files that did not exist, and the checkpoints that did. */
  private readonly createdDirs: string[] = [];
  private readonly newFiles: string[];
  private readonly oldCells: Set<string>;
  private active = true;

  constructor(readonly dir: string) {
    for (let d = path.resolve(dir); !fs.existsSync(d); d = path.dirname(d)) this.createdDirs.push(d);
    const cells = path.join(dir, CELLS_DIR);
    if (!fs.existsSync(cells)) this.createdDirs.unshift(path.resolve(cells));
    this.newFiles = RUN_FILES.filter((f) => !fs.existsSync(path.join(dir, f))).map((f) => path.join(dir, f));
    this.oldCells = new Set(cellFiles(dir));
  }

  /** Cell checkpoints written since the claim. */
  newCheckpoints(): number {
    return cellFiles(this.dir).filter((f) => !this.oldCells.has(f)).length;
  }

  /**
   * The run failed or was interrupted: when it wrote no cell checkpoint, removes the files and
   * directories it created (and nothing else). Returns true when it removed the run.
   */
  abandon(): boolean {
    if (!this.active) return false;
    this.finish();
    if (this.newCheckpoints() > 0) return false;
    for (const f of this.newFiles) fs.rmSync(f, { force: true });
    for (const d of this.createdDirs) removeEmptyDir(d);
    return true;
  }

  /** The run finished (or its caller takes over): nothing will be removed. */
  finish(): void {
    this.active = false;
    live.delete(this);
  }
}

/**
 * For a process about to exit on a signal: abandons every run this process claimed and has not
 * finished (`RunDirClaim.abandon`). Returns the directories removed.
 */
export function abandonUnfinishedRuns(): string[] {
  return [...live].filter((c) => c.abandon()).map((c) => c.dir);
}
