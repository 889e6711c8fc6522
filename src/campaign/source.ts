/**
 * The clean data of a campaign read from its file chunk by chunk, not held whole. A campaign whose
 * every input-changing cell is streamed (stream.ts) needs the clean inputs only in order: the clean
 * predictions, each streamed input set's pass (two for a shift) and the data hash each read the
 * file once more, in chunks. What stays in memory is small per item: labels, ids, and the rows the
 * clean cells' gallery and the compute floor's batch show.
 *
 * Used when (`leanSource`) the data file is streamable (npz, npy, IDX: data/chunked.ts), the cells
 * are streamed (`chunkItems` > 0), and the config has no section that re-runs models on whole
 * clean sets (`explain:`, `uncertainty:`), the data are not tabular (per-feature constraints and σ
 * look at whole columns) and the cells run here (queue workers load the data themselves). Otherwise
 * the runner loads the set whole, as before: the same results either way.
 *
 * Example: `const c = memoryCursor(ds); const x = await c.read(0, 100); await c.close();`
 */
import type { Chunk, ChunkedData } from '../data/chunked.js';
import { itemSize, type Dataset } from '../data/dataset.js';
import { DataError } from '../errors.js';
import { galleryPositions } from './gallery.js';

/** Clean inputs read in order: items [start, end), each call starting no earlier than the chunk the last one ended in. */
export interface CleanCursor {
  read(start: number, end: number): Promise<Float32Array>;
  /** Reads the source to its end (its integrity checks: an npz entry's CRC-32) and lets it go. */
  close(): Promise<void>;
}

/** Where the clean inputs of a run come from when they are not held whole (see the module comment). */
export interface CleanSource {
  /** A new pass over the clean inputs. */
  cursor(): CleanCursor;
  /** The clean cells' gallery items (galleryPositions of the true labels), as `StreamedInputs.kept`. */
  gallery: { positions: number[]; x: Float32Array; clean: Float32Array };
  /** The first min(n, batch size) items (the compute floor's batch). */
  head: Float32Array;
}

/** A cursor over a set held in memory (views, no copies). */
export function memoryCursor(ds: Pick<Dataset, 'x' | 'size' | 'itemShape'>): CleanCursor {
  const per = itemSize(ds);
  return { read: async (start, end) => ds.x.subarray(start * per, end * per), close: async () => {} };
}

/** A cursor over a chunked source: one pass over its chunks of `items` items. */
export function chunkedCursor(d: ChunkedData, items: number): CleanCursor {
  const per = itemSize(d);
  const it = d.chunks(items)[Symbol.asyncIterator]();
  let buf: Chunk | null = null;
  let done = false;
  const next = async (): Promise<Chunk> => {
    const r = await it.next();
    if (r.done) {
      done = true;
      throw new DataError(`${d.name}: ended before the items read`);
    }
    return (buf = r.value);
  };
  return {
    async read(start, end) {
      if (buf && start < buf.start) throw new DataError(`internal: ${d.name} read out of order (item ${start} after ${buf.start})`);
      const out = new Float32Array((end - start) * per);
      for (let pos = start; pos < end; ) {
        const c = buf && pos < buf.start + buf.size ? buf : await next();
        if (pos < c.start) throw new DataError(`internal: ${d.name} read out of order (item ${pos} before ${c.start})`);
        const stop = Math.min(end, c.start + c.size);
        out.set(c.x.subarray((pos - c.start) * per, (stop - c.start) * per), (pos - start) * per);
        pos = stop;
      }
      return out;
    },
    async close() {
      while (!done) done = (await it.next()).done === true;
    },
  };
}

/**
 * A campaign's data opened for chunked reading as the Dataset the cells see (labels, ids, names;
 * `x` empty: no hook that reads it runs) and the clean source; the data hash and the small held
 * rows come from one pass over the file.
 */
export async function leanSource(d: ChunkedData, opts: { chunkItems: number; batchSize: number; hash: (x: Float32Array) => void }): Promise<{ ds: Dataset; source: CleanSource }> {
  const per = itemSize(d);
  const positions = galleryPositions(d.labels ?? []);
  const kept = new Float32Array(positions.length * per);
  const head = new Float32Array(Math.min(d.size, opts.batchSize) * per);
  for await (const c of d.chunks(opts.chunkItems)) {
    opts.hash(c.x);
    if (c.start * per < head.length) head.set(c.x.subarray(0, Math.min(c.x.length, head.length - c.start * per)), c.start * per);
    positions.forEach((p, j) => {
      if (p >= c.start && p < c.start + c.size) kept.set(c.x.subarray((p - c.start) * per, (p - c.start + 1) * per), j * per);
    });
  }
  const ds: Dataset = {
    name: d.name,
    size: d.size,
    itemShape: [...d.itemShape],
    x: new Float32Array(0),
    labels: d.labels,
    classNames: d.classNames,
    ids: d.ids,
    metadata: null,
    extras: d.extras,
    featureNames: d.featureNames,
  };
  return { ds, source: { cursor: () => chunkedCursor(d, opts.chunkItems), gallery: { positions, x: kept, clean: kept }, head } };
}
