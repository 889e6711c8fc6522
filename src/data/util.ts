/**
 * Small helpers shared by the loaders: file reads and atomic writes with DataErrors that name the
 * file, code-point ordering (Python's `sorted`), and checks every loader makes.
 */
import fs from 'node:fs/promises';
import { closeSync, fsyncSync, openSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { DataError } from '../errors.js';

/**
 * A format problem found while parsing bytes that do not know their file's name. Loaders catch it
 * and rethrow a DataError that names the file. `unsupported` marks well-formed input that Gauntlet
 * does not handle (as opposed to malformed input).
 */
export class FormatProblem extends Error {
  constructor(
    readonly reason: string,
    readonly unsupported = false,
  ) {
    super(reason);
  }
}

/** Largest finite float32. */
export const FLOAT32_MAX = 3.4028234663852886e38;

/** Compares strings by Unicode code point, as Python's `sorted` and numpy's `np.unique` do. */
export function compareCodePoints(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const ca = a.codePointAt(i)!;
    const cb = b.codePointAt(i)!;
    if (ca !== cb) return ca - cb;
    if (ca > 0xffff) i++;
  }
  return a.length - b.length;
}

/** Sorted unique strings, by code point. */
export function sortedUnique(values: Iterable<string>): string[] {
  return [...new Set(values)].sort(compareCodePoints);
}

/** Reads a whole file; a missing or unreadable file is a DataError naming it. */
export async function readDataFile(file: string): Promise<Buffer> {
  try {
    return await fs.readFile(file);
  } catch (err) {
    throw fileError(file, err);
  }
}

/** Maps a filesystem error to a one-line DataError naming the file. */
export function fileError(file: string, err: unknown): DataError {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ENOENT') return new DataError(`${file}: no such file or directory`, { cause: err });
  if (code === 'EISDIR') return new DataError(`${file}: is a directory, expected a file`, { cause: err });
  if (code === 'ENOTDIR') return new DataError(`${file}: a parent of this path is not a directory`, { cause: err });
  if (code === 'EACCES' || code === 'EPERM') return new DataError(`${file}: permission denied`, { cause: err });
  const msg = err instanceof Error ? err.message : String(err);
  return new DataError(`${file}: cannot read (${msg})`, { cause: err });
}

/** A temporary name beside `file` (hidden, unique to this process and call). */
export function tmpBeside(file: string): string {
  return path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
}

export function writeError(file: string, err: unknown): DataError {
  const msg = err instanceof Error ? err.message : String(err);
  return new DataError(`${file}: cannot write (${msg})`, { cause: err });
}

/**
 * Writes `bytes` to `file` atomically: into a temporary file in the same folder, flushed, then
 * renamed over the target. A failure never leaves a half-written target (the temporary is removed).
 */
export async function writeFileAtomic(file: string, bytes: Uint8Array): Promise<void> {
  const tmp = tmpBeside(file);
  let handle: fs.FileHandle | undefined;
  try {
    handle = await fs.open(tmp, 'wx');
    await handle.writeFile(bytes);
    await handle.sync();
    await handle.close();
    handle = undefined;
    await fs.rename(tmp, file);
  } catch (err) {
    await handle?.close().catch(() => undefined);
    await fs.rm(tmp, { force: true }).catch(() => undefined);
    throw writeError(file, err);
  }
}

/** `writeFileAtomic` for synchronous callers (run records, reports): same guarantees. */
export function writeFileAtomicSync(file: string, content: string | Uint8Array): void {
  const tmp = tmpBeside(file);
  let fd: number | undefined;
  try {
    fd = openSync(tmp, 'wx');
    writeFileSync(fd, content);
    fsyncSync(fd);
    closeSync(fd);
    fd = undefined;
    renameSync(tmp, file);
  } catch (err) {
    if (fd !== undefined) closeSync(fd);
    rmSync(tmp, { force: true });
    throw writeError(file, err);
  }
}

/** Throws a DataError if two items share an id. `what` names where ids came from. */
export function checkUniqueIds(ids: readonly string[], name: string, what: string): void {
  const seen = new Map<string, number>();
  for (let i = 0; i < ids.length; i++) {
    const prev = seen.get(ids[i]!);
    if (prev !== undefined) throw new DataError(`${name}: ${what} '${ids[i]}' is used by items ${prev} and ${i}; ids must be unique`);
    seen.set(ids[i]!, i);
  }
}

/** Throws a DataError if a label is at or past the number of class names. */
export function checkLabelsFitClasses(labels: Int32Array | null, classNames: readonly string[] | null, name: string): void {
  if (!labels || !classNames) return;
  for (let i = 0; i < labels.length; i++) {
    if (labels[i]! >= classNames.length) {
      throw new DataError(`${name}: label ${labels[i]} of item ${i} is out of range for ${classNames.length} class names`);
    }
  }
}

/** A copy of `bytes[start, end)` in a fresh ArrayBuffer (`Buffer#slice` would share memory). */
export function copyBytes(bytes: Uint8Array, start = 0, end = bytes.length): Uint8Array {
  const out = new Uint8Array(end - start);
  out.set(bytes.subarray(start, end));
  return out;
}

/** Product of a shape's dimensions (1 for a scalar). */
export function shapeSize(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** Shape as Python writes a tuple, e.g. `(3, 28, 28)` or `(5,)`. */
export function formatShape(shape: readonly number[]): string {
  return shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
}
