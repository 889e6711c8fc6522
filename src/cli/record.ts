/**
 * Recording a verb's run in the registry (src/registry): the `--registry` / `--no-registry` flags,
 * checked before the run starts, and `save`, called after the run's results are written. A registry
 * that cannot be opened or written never costs the run its results: `save` prints one warning line
 * and the verb exits as it would have.
 */
import path from 'node:path';
import { UsageError } from '../errors.js';
import { flagSpec, helpLines, parseFlags } from '../options/schema.js';
import { RECORD_OPTIONS } from '../registry/options.js';
import { gitCommit, newRunId, openRegistry, redactUrl, registryTarget, versions, type RunKind, type RunRecord } from '../registry/index.js';

/** parseArgs entries of the recording flags. */
export const recordFlags = flagSpec(RECORD_OPTIONS);

/** `--help` lines of the recording flags. */
export function recordHelp(): string {
  return helpLines(RECORD_OPTIONS, 19);
}

export interface Recorder {
  /** Where the run will be recorded, or null. */
  readonly target: string | null;
  readonly id: string;
  readonly started: Date;
  /** Provenance every record carries. */
  readonly provenance: { versions: Record<string, string>; gitCommit: string | null };
  /** Records the run; on any failure prints one warning line on stderr and returns. */
  save(build: () => RunRecord, results?: unknown): Promise<void>;
}

/**
 * Checks the recording flags of `values` (parseArgs values) and says where a `kind` run whose output
 * lies in `anchorDir` will be recorded.
 */
export function recorder(kind: RunKind, values: Record<string, unknown>, anchorDir: string): Recorder {
  const o = parseFlags(RECORD_OPTIONS, values);
  if (o.noRegistry && o.registry !== undefined) throw new UsageError(`${kind}: give either '--registry' or '--no-registry', not both`);
  const target = registryTarget({ flag: o.registry, off: o.noRegistry, anchorDir: path.resolve(anchorDir) });
  const started = new Date();
  const id = newRunId(kind, started);
  return {
    target,
    id,
    started,
    get provenance() {
      return { versions: versions(), gitCommit: gitCommit() };
    },
    async save(build, results) {
      if (target === null) return;
      const where = /^postgres/i.test(target) ? redactUrl(target) : target;
      try {
        const rec = build();
        const reg = await openRegistry(target);
        try {
          await reg.record(rec, results);
        } finally {
          await reg.close();
        }
        process.stderr.write(`recorded run ${rec.id} in ${reg.location}\n`);
      } catch (e) {
        process.stderr.write(`gauntlet: warning: run not recorded in the registry ${where} (${(e as Error).message.split('\n')[0]}); its results are written as usual\n`);
      }
    },
  };
}
