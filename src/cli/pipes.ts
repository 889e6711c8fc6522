/**
 * A reader that goes away is not an error. `gauntlet run --dry-run | head -1` closes stdout after one
 * line; `gauntlet run 2>&1 | head` closes both streams. Node reports the next write as an EPIPE
 * 'error' event, which, unhandled, becomes an uncaught exception with a stack trace.
 *
 * - stdout closed (EPIPE): nobody reads the results any more, so the process ends quietly, exit 0
 *   (as before for `gauntlet list | head`).
 * - stderr closed (EPIPE): only diagnostics are lost; the verb goes on and its own exit code stands
 *   (a bad input still exits 2, a failed check 1).
 * - any other write error (EIO, ENOSPC on a redirected stream): one line on the other stream if it
 *   is still open, exit 74 (EX_IOERR).
 */
import type { Writable } from 'node:stream';

/** Exit code for an output stream that cannot be written (sysexits EX_IOERR). */
export const EXIT_IO = 74;

const CLOSED = new Set(['EPIPE', 'ERR_STREAM_DESTROYED', 'ERR_STREAM_WRITE_AFTER_END']);

/** Installs the handlers on stdout and stderr (or on the given streams, for tests). */
export function endQuietlyOnClosedPipes(
  out: Writable = process.stdout,
  err: Writable = process.stderr,
  exit: (code: number) => void = (code) => process.exit(code),
): void {
  let errClosed = false;
  out.on('error', (e: NodeJS.ErrnoException) => {
    if (CLOSED.has(e.code ?? '')) return exit(0);
    if (!errClosed) err.write(`gauntlet: cannot write to stdout (${e.code ?? e.message})\n`);
    exit(EXIT_IO);
  });
  err.on('error', (e: NodeJS.ErrnoException) => {
    errClosed = true;
    if (CLOSED.has(e.code ?? '')) return;
    exit(EXIT_IO);
  });
}
