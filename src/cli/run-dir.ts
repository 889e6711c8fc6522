/**
 * What `gauntlet run` adds to the run-directory rules of src/campaign/store.ts: the --resume /
 * --restart / --force flags, the guard that no input lies where the run writes, and Ctrl-C (one line
 * saying what is checkpointed and the command that continues).
 */
import path from 'node:path';
import type { CampaignConfig } from '../campaign/config.js';
import type { CampaignEvent } from '../campaign/runner.js';
import { checkRunDir, RUN_FILES, type RunDirOptions } from '../campaign/store.js';
import { RunInterruptedError, UsageError } from '../errors.js';
import { onInterrupt, shellWord, signalExitCode } from './interrupt.js';
import { guardOutputs, type PathArg } from './outputs.js';

type RunValues = { queue?: string; 'dry-run'?: boolean; resume?: boolean; restart?: boolean; force?: boolean; seed?: string; limit?: string; model?: string; data?: string; out?: string };

/** Checks the run-directory flags, the directory's rules (not on --dry-run), and that no input of the campaign is DIR or a file the run writes there. */
export function runDirFlags(values: RunValues, configFile: string | undefined, config: CampaignConfig, outDir: string): RunDirOptions {
  if (values.resume && values.restart) throw new UsageError(`run: give either '--resume' (continue the run in ${outDir}) or '--restart' (discard it and start again), not both`);
  const inputs: PathArg[] = [
    { name: 'CONFIG', path: configFile },
    { name: 'model', path: config.model.path },
    { name: 'data', path: config.data.path },
    { name: 'data.labels', path: typeof config.data.labels === 'string' ? config.data.labels : undefined },
    ...(config.uncertainty?.ensemble ?? []).map((p, i) => ({ name: `uncertainty.ensemble[${i}]`, path: p })),
  ];
  guardOutputs('run', [{ name: '--out', path: outDir }, ...RUN_FILES.map((f) => ({ name: `--out's ${f}`, path: path.join(outDir, f) }))], inputs);
  const opts = { resume: values.resume, restart: values.restart, force: values.force };
  // Refuse before printing the plan and loading anything (the runner checks again, with the run's identity).
  if (!values['dry-run']) checkRunDir(outDir, opts);
  return opts;
}

/** The exact command that continues this run: the same CONFIG and identity flags, with --resume. */
export function resumeCommand(values: RunValues, configFile: string | undefined, outDir: string): string {
  const words = ['gauntlet', 'run'];
  if (configFile !== undefined) words.push(configFile);
  words.push('--out', outDir, '--resume');
  for (const k of ['seed', 'limit', 'model', 'data', 'queue'] as const) if (values[k] !== undefined) words.push(`--${k}`, values[k]!);
  return words.map(shellWord).join(' ');
}

function interruptedLine(sig: string, checkpointed: number, total: number | null, dir: string, removed: boolean, command: string): string {
  if (checkpointed === 0) {
    const again = command.replace(/ --resume\b/, '');
    return `gauntlet: interrupted (${sig}) before any cell was checkpointed; ${removed ? `removed what this run created in ${dir}` : `nothing saved in ${dir}`}; start again with: ${again}`;
  }
  return `gauntlet: interrupted (${sig}); ${checkpointed}${total === null ? '' : ` of ${total}`} cells checkpointed in ${dir}; continue with: ${command}`;
}

/**
 * Runs a campaign with Ctrl-C handling: on SIGINT/SIGTERM prints one line (cells checkpointed, the
 * directory, the command that continues) and returns the exit code 130/143 — through the runner's
 * RunInterruptedError when the current cell ends soon, else by exiting at once (every file is
 * written atomically, so nothing is half-written).
 */
export async function interruptible<T extends object>(
  dir: string,
  command: string,
  show: (e: CampaignEvent) => void,
  run: (o: { signal: AbortSignal; onEvent: (e: CampaignEvent) => void }) => Promise<T>,
): Promise<T | number> {
  let done = 0;
  let total: number | null = null;
  const stop = onInterrupt((sig, removed) => interruptedLine(sig, done, total, dir, removed.length > 0, command));
  try {
    return await run({
      signal: stop.signal,
      onEvent: (e) => {
        if (e.type === 'plan') total = e.plan.cells.length;
        if (e.type === 'cell_done') done = e.index + 1;
        show(e);
      },
    });
  } catch (e) {
    if (e instanceof RunInterruptedError) {
      const sig = e.signal ?? stop.received() ?? 'SIGINT';
      process.stderr.write(`${process.stderr.isTTY ? '\r\x1b[K' : ''}${interruptedLine(sig, e.checkpointed, e.total, e.dir, e.removed, command)}\n`);
      return signalExitCode(sig);
    }
    throw e;
  } finally {
    stop.dispose();
  }
}
