/**
 * Ctrl-C for long verbs: the first SIGINT or SIGTERM aborts the library call's AbortSignal (a
 * campaign stops before its next cell with a RunInterruptedError, every finished cell checkpointed).
 * When the current step does not end within `graceMs`, or on a second signal, the process exits at
 * once: every file Gauntlet writes is written atomically (whole or not at all), so nothing is left
 * half-written. Either way one line says what was saved and how to continue.
 */
import { abandonUnfinishedRuns } from '../campaign/store.js';
import { abandonTempFiles } from '../data/npz-writer.js';
import { UsageError } from '../errors.js';

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

/** Resolves with the first SIGINT or SIGTERM (a server verb's "Ctrl-C stops it"), then stops listening. */
export function untilStopped(): Promise<NodeJS.Signals> {
  return new Promise<NodeJS.Signals>((resolve) => {
    const on = (s: NodeJS.Signals) => {
      process.off('SIGINT', on);
      process.off('SIGTERM', on);
      resolve(s);
    };
    process.on('SIGINT', on);
    process.on('SIGTERM', on);
  });
}

/** A server verb's failure to listen, as the one line a user can act on (`e` itself when it is something else). */
export function listenFailure(verb: string, host: string, port: number, e: unknown): unknown {
  const code = (e as NodeJS.ErrnoException | null)?.code;
  if (code === 'EADDRINUSE') return new UsageError(`${verb}: port ${port} on ${host} is in use; pick another with --port (0: any free port)`);
  if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND') return new UsageError(`${verb}: cannot listen on '${host}' (${code}); give a local address with --host`);
  if (code === 'EACCES') return new UsageError(`${verb}: no permission to listen on port ${port}; use a port above 1023`);
  return e;
}
