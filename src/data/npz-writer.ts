/**
 * An `.npz` written array by array, the big one in pieces, so a verb holds one chunk of its output
 * and not all of it. The bytes equal `saveNpz` of the same arrays in the same order (stored
 * entries, as `np.savez`): same headers, same zip records. Like `saveNpz` it writes a temporary
 * file beside the target and renames it at `commit`; `abort` (or any failure) removes it, so a
 * half-written output never appears under the target's name.
 *
 * Example:
 *   const w = await NpzFileWriter.create('out.npz');
 *   await w.array('y', { dtype: '<i4', shape: [n], data: labels });
 *   await w.begin('x', '<f4', [n, 1, 28, 28]); for (…) await w.write(chunk); await w.end();
 *   await w.commit();
 */
import { rmSync } from 'node:fs';
import fs from 'node:fs/promises';
import { UsageError } from '../errors.js';
import { npyWriterFor, writeNpy, type NpyArrayLike } from './npy.js';
import { tmpBeside, writeError } from './util.js';
import { ZipFileWriter } from './zip.js';

/** Temporary files of writers not yet committed or aborted. */
const live = new Set<string>();

/**
 * Removes the temporary files of every writer still open (synchronously), for a process that must
 * exit now (Ctrl-C): the outputs were never renamed into place, and now no hidden temporary file is
 * left beside them either. Returns the files removed.
 */
export function abandonTempFiles(): string[] {
  const removed = [...live];
  for (const f of removed) rmSync(f, { force: true });
  live.clear();
  return removed;
}

export class NpzFileWriter {
  private piece: ReturnType<typeof npyWriterFor> | null = null;
  private closed = false;

  private constructor(
    readonly file: string,
    private readonly tmp: string,
    private readonly handle: fs.FileHandle,
    private readonly zip: ZipFileWriter,
  ) {}

  /** Opens a temporary file beside `file`. */
  static async create(file: string): Promise<NpzFileWriter> {
    const tmp = tmpBeside(file);
    let handle: fs.FileHandle;
    try {
      handle = await fs.open(tmp, 'wx');
    } catch (err) {
      throw writeError(file, err);
    }
    live.add(tmp);
    return new NpzFileWriter(file, tmp, handle, new ZipFileWriter(handle));
  }

  /** Writes a whole array as entry `<key>.npy`. */
  async array(key: string, array: NpyArrayLike): Promise<void> {
    await this.guard(() => this.zip.add(`${key}.npy`, writeNpy(array)));
  }

  /** Starts entry `<key>.npy` of a numeric array of `dtype` and `shape`, whose values `write` appends in C order. */
  async begin(key: string, dtype: string, shape: readonly number[]): Promise<void> {
    const w = npyWriterFor(dtype, shape);
    await this.guard(async () => {
      await this.zip.begin(`${key}.npy`, w.bytes);
      await this.zip.write(w.header);
    });
    this.piece = w;
  }

  /** Appends values to the open array. */
  async write(values: ArrayLike<number | bigint>): Promise<void> {
    if (!this.piece) throw new UsageError('NpzFileWriter: no array is open');
    const bytes = this.piece.encode(values);
    await this.guard(() => this.zip.write(bytes));
  }

  /** Appends values already encoded as the open array's dtype (little-endian C order). */
  async writeBytes(bytes: Uint8Array): Promise<void> {
    if (!this.piece) throw new UsageError('NpzFileWriter: no array is open');
    await this.guard(() => this.zip.write(bytes));
  }

  /** Ends the open array (all its values must have been written). */
  async end(): Promise<void> {
    this.piece = null;
    await this.guard(() => this.zip.end());
  }

  /** Finishes the archive and renames it over the target. */
  async commit(): Promise<void> {
    await this.guard(async () => {
      await this.zip.finish();
      await this.handle.sync();
      await this.handle.close();
      this.closed = true;
      await fs.rename(this.tmp, this.file);
      live.delete(this.tmp);
    });
  }

  /** Removes the temporary file (nothing is left under the target's name). */
  async abort(): Promise<void> {
    if (!this.closed) await this.handle.close().catch(() => undefined);
    this.closed = true;
    await fs.rm(this.tmp, { force: true }).catch(() => undefined);
    live.delete(this.tmp);
  }

  private async guard(fn: () => Promise<void>): Promise<void> {
    try {
      await fn();
    } catch (err) {
      await this.abort();
      throw err instanceof UsageError ? err : writeError(this.file, err);
    }
  }
}

/**
 * Runs `fn` with a writer for `file`, committing when it returns and removing the temporary file
 * when it throws.
 */
export async function withNpzWriter<T>(file: string, fn: (w: NpzFileWriter) => Promise<T>): Promise<T> {
  const w = await NpzFileWriter.create(file);
  try {
    const r = await fn(w);
    await w.commit();
    return r;
  } catch (err) {
    await w.abort();
    throw err;
  }
}
