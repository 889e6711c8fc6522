/**
 * Ctrl-C for long verbs: the first SIGINT or SIGTERM aborts the library call's AbortSignal (a
 * campaign stops before its next cell with a RunInterruptedError, every finished cell checkpointed).
 * When the current step does not end within `graceMs`, or on a second signal, the process exits at
 * once: every file Gauntlet writes is written atomically (whole or not at all), so nothing is left
 * half-written. Either way one line says what was saved and how to continue.
 */
import { abandonUnfinishedRuns } from '../campaign/store.js';
import { abandonTempFiles } from '../data/npz-writer.js';

export interface Interrupts {
  readonly signal: AbortSignal;
  /** The signal received ('SIGINT' or 'SIGTERM'), or null. */
  readonly received: () => string | null;
  /** Stops listening (call when the verb is done). */
  dispose(): void;
}

/** Exit code the shell reports for a signal. */
export function signalExitCode(sig: string | null): number {
  return sig === 'SIGTERM' ? 143 : 130;
}

/**
 * Listens for SIGINT/SIGTERM. `forcedLine(sig, removed)` gives the line to print when the process
 * must exit before the library call returns; `removed` lists run directories that held no
 * checkpoint and were removed again.
 */
export function onInterrupt(forcedLine: (sig: string, removed: string[]) => string, graceMs = 2000): Interrupts {
  const controller = new AbortController();
  let received: string | null = null;
  let timer: NodeJS.Timeout | null = null;
  const force = () => {
    const removed = abandonUnfinishedRuns();
    abandonTempFiles();
    process.stderr.write(`${process.stderr.isTTY ? '\r\x1b[K' : ''}${forcedLine(received!, removed)}\n`);
    process.exit(signalExitCode(received));
  };
  const handler = (sig: NodeJS.Signals) => {
    if (received !== null) return force();
    received = sig;
    controller.abort(sig);
    timer = setTimeout(force, graceMs);
    timer.unref();
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  return {
    signal: controller.signal,
    received: () => received,
    dispose() {
      if (timer) clearTimeout(timer);
      process.off('SIGINT', handler);
      process.off('SIGTERM', handler);
    },
  };
}

/** Quotes a word for a POSIX shell when it needs it. */
export function shellWord(s: string): string {
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}
