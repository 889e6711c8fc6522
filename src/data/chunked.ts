/**
 * Data read in chunks: the inputs of a dataset as a sequence of pieces of at most `items` items, so
 * a verb that looks at each item once (eval, corrupt, noise …) holds one piece, not the whole set.
 *
 * Streamed sources: `.npz` whose `x` is float32, float64 or uint8 in little-endian C order (stored
 * entries are read by position, deflated ones inflated as a stream), bare `.npy` of the same types,
 * and uint8 IDX (plain or gzipped, inflated as a stream). Everything else — image folders, CSV,
 * JSONL, other dtypes — is loaded whole (`streamed: false`) and then handed out in the same pieces,
 * so callers need one code path. Labels, ids and names are small and always held whole.
 *
 * A chunk's values are exactly the values `loadDataset` gives for those items (same float32
 * conversion, same checks and messages: non-finite inputs, labels, ids), so a verb computes the same
 * bytes chunked as whole.
 *
 * Example: `const d = await openChunked({ path: 'train.npz' }); for await (const c of d.chunks(4096)) …`
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import zlib from 'node:zlib';
import { DataError } from '../errors.js';
import { DatasetHasher, itemSize, type Dataset, type ExtraArray } from './dataset.js';
import { idxLabelsPathFor, readIdx } from './idx.js';
import { detectKind, loadDataset, type DataSpec } from './load.js';
import { NPY_PREFIX_BYTES, npyHeaderLength, parseNpy, readNpy, readNpyPrefix, type NpyArray, type NpyPrefix } from './npy.js';
import { metaFromArrays } from './npz.js';
import { FLOAT32_MAX, fileError, FormatProblem, formatShape, readDataFile, shapeSize } from './util.js';
import { entryDataOffset, readAt, readZipEntriesOfFile, readZipEntryOfFile, type ZipEntry } from './zip.js';

/** One piece of the inputs. */
export interface Chunk {
  /** Index of the first item. */
  readonly start: number;
  readonly size: number;
  /** Inputs, float32 in the data domain, row-major [size, ...itemShape]. */
  readonly x: Float32Array;
  /** The same items as stored in the source (`xDescr`), little-endian C order. */
  readonly raw: Uint8Array;
}

/** A dataset whose inputs are read piecewise (see the module comment). */
export interface ChunkedData {
  readonly name: string;
  /** The file it came from. */
  readonly file: string;
  readonly size: number;
  readonly itemShape: readonly number[];
  readonly labels: Int32Array | null;
  readonly ids: readonly string[] | null;
  readonly classNames: readonly string[] | null;
  readonly featureNames: readonly string[] | null;
  /** npz arrays Gauntlet does not interpret (cut to `limit` like `takeFirst`); {} for other kinds. */
  readonly extras: Readonly<Record<string, ExtraArray>>;
  /** The npz's own arrays other than `x`, as read (for verbs that copy them); null for other kinds. */
  readonly npzArrays: Readonly<Record<string, NpyArray>> | null;
  /** npz: every entry's key in the archive's order, `x` included (null for other kinds). */
  readonly npzKeys: readonly string[] | null;
  /** dtype of `raw` in the chunks: the source's ('<f4', '<f8', '|u1'), or '<f4' when loaded whole. */
  readonly xDescr: string;
  /** Whether the inputs are read piecewise (false: the source was loaded whole). */
  readonly streamed: boolean;
  /** The inputs in order, at most `items` items a piece; each call reads the source again. */
  chunks(items: number): AsyncGenerator<Chunk>;
}

/** Items a chunk holds by default: about 4 MB of float32 inputs, at least one item. */
export function defaultChunkItems(itemShape: readonly number[]): number {
  return Math.max(1, Math.floor((1 << 20) / Math.max(1, shapeSize(itemShape))));
}

/**
 * `items` rounded up to whole batches: a chunked pass then runs exactly the batches a whole pass
 * runs (only the last chunk ends with a partial batch), so no chunk boundary adds a partial batch
 * (which an attack pads, and which costs a gradient graph of its own size).
 */
export function batchAligned(items: number, batchSize: number): number {
  return Math.max(1, Math.ceil(items / batchSize)) * batchSize;
}

/** Opens a data source for chunked reading (same spec and errors as `loadDataset`). */
export async function openChunked(spec: string | DataSpec): Promise<ChunkedData> {
  const s: DataSpec = typeof spec === 'string' ? { path: spec } : spec;
  const simple = s.featureNames === undefined && s.immutable === undefined && s.continuous === undefined && s.labels !== false;
  if (simple && typeof s.path === 'string' && s.path !== '') {
    let stat: fs.Stats | null = null;
    try {
      stat = await fsp.stat(s.path);
    } catch {
      stat = null; // loadDataset reports it
    }
    if (stat?.isFile()) {
      let kind: string | null = s.kind ?? null;
      try {
        kind ??= detectKind(s.path, false);
      } catch {
        kind = null;
      }
      const opened =
        kind === 'npz' && s.labels === undefined ? await openNpz(s.path, s.limit) : kind === 'idx' ? await openIdx(s.path, s.labels, s.limit) : kind === 'npy' ? await openNpy(s.path, s.labels, s.limit) : null;
      if (opened) return opened;
    }
  }
  return chunkedFromDataset(await loadDataset(s), s.path);
}

/** A dataset already in memory, handed out in pieces (views, no copies). */
export function chunkedFromDataset(ds: Dataset, file = ds.name): ChunkedData {
  const per = itemSize(ds);
  return {
    name: ds.name,
    file,
    size: ds.size,
    itemShape: ds.itemShape,
    labels: ds.labels,
    ids: ds.ids,
    classNames: ds.classNames,
    featureNames: ds.featureNames,
    extras: ds.extras,
    npzArrays: null,
    npzKeys: null,
    xDescr: '<f4',
    streamed: false,
    async *chunks(items: number) {
      for (let start = 0; start < ds.size; start += items) {
        const size = Math.min(items, ds.size - start);
        const x = ds.x.subarray(start * per, (start + size) * per);
        yield { start, size, x, raw: new Uint8Array(x.buffer, x.byteOffset, x.byteLength) };
      }
    },
  };
}

/** Every chunk's inputs hashed as `datasetHash` would hash the whole set. */
export async function chunkedHash(d: ChunkedData, items = defaultChunkItems(d.itemShape)): Promise<string> {
  const h = new DatasetHasher(d.size, d.itemShape, d.labels !== null);
  for await (const c of d.chunks(items)) h.update(c.x);
  return h.digest(d.labels);
}

/** Streamable stored x types: little-endian (or byte) float32, float64, uint8. */
const STREAMABLE = new Set(['<f4', '<f8', '|u1']);

function streamable(p: NpyPrefix): boolean {
  return p.little && !p.fortran && !p.string && STREAMABLE.has(p.descr) && p.shape.length >= 2;
}

/** Converts stored bytes of `count` values to float32 as the whole-file loaders do, checking each value. */
function toFloat32(raw: Uint8Array, descr: string, name: string, firstValue: number, per: number, float64Message: boolean): Float32Array {
  const n = raw.length / (descr === '<f8' ? 8 : descr === '<f4' ? 4 : 1);
  let out: Float32Array;
  if (descr === '<f4') {
    out = new Float32Array(n);
    new Uint8Array(out.buffer).set(raw);
  } else if (descr === '<f8') {
    const buf = new Uint8Array(n * 8);
    buf.set(raw);
    const src = new Float64Array(buf.buffer);
    out = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      const v = src[i]!;
      out[i] = v;
      if (float64Message && Number.isFinite(v) && !Number.isFinite(out[i]!)) {
        throw new DataError(`${name}: x value ${v} at index ${firstValue + i} does not fit float32 (largest magnitude ${FLOAT32_MAX})`);
      }
    }
  } else {
    out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = raw[i]! / 255;
  }
  for (let i = 0; i < n; i++) {
    const v = out[i]!;
    if (!Number.isFinite(v)) {
      const at = firstValue + i;
      throw new DataError(`${name}: input of item ${Math.floor(at / per)} has a non-finite value (${v}) at offset ${at % per}`);
    }
  }
  return out;
}

/** Bytes pulled from a stream in exact amounts. */
class ByteQueue {
  private readonly parts: Buffer[] = [];
  private have = 0;
  private done = false;
  constructor(private readonly it: AsyncIterator<Buffer>) {}
  /** Exactly `n` bytes, or fewer at the end of the stream. */
  async take(n: number): Promise<Uint8Array> {
    while (this.have < n && !this.done) {
      const r = await this.it.next();
      if (r.done) this.done = true;
      else {
        this.parts.push(r.value);
        this.have += r.value.length;
      }
    }
    const all = this.parts.length === 1 ? this.parts[0]! : Buffer.concat(this.parts);
    const m = Math.min(n, all.length);
    const out = new Uint8Array(m);
    out.set(all.subarray(0, m));
    this.parts.length = 0;
    if (all.length > m) this.parts.push(all.subarray(m));
    this.have = all.length - m;
    return out;
  }
  /** Whether bytes remain after what was taken. */
  async more(): Promise<boolean> {
    return (await this.take(1)).length > 0;
  }
  async close(): Promise<void> {
    await this.it.return?.();
  }
}

function streamOf(file: string, range?: { start: number; end: number }, inflate?: 'raw' | 'gzip'): ByteQueue {
  const src = fs.createReadStream(file, range ? { start: range.start, end: Math.max(range.start, range.end) - 1, highWaterMark: 1 << 20 } : { highWaterMark: 1 << 20 });
  const s = inflate === 'raw' ? src.pipe(zlib.createInflateRaw()) : inflate === 'gzip' ? src.pipe(zlib.createGunzip()) : src;
  if (inflate) src.on('error', (e) => s.destroy(e));
  return new ByteQueue((s as AsyncIterable<Buffer>)[Symbol.asyncIterator]());
}

interface XLayout {
  name: string;
  file: string;
  n: number;
  size: number;
  itemShape: number[];
  descr: string;
  itemBytes: number;
  /** Reads the stored bytes of items [start, start + count) in order; `next` is called with increasing starts. */
  reader(): { next(count: number): Promise<Uint8Array>; finish(full: boolean): Promise<void> };
}

function chunksOf(l: XLayout, float64Message: boolean): (items: number) => AsyncGenerator<Chunk> {
  const per = shapeSize(l.itemShape);
  return async function* (items: number) {
    const r = l.reader();
    let completed = false;
    try {
      for (let start = 0; start < l.size; start += items) {
        const size = Math.min(items, l.size - start);
        const raw = await r.next(size);
        if (raw.length !== size * per * l.itemBytes) throw new DataError(`${l.file}: not a valid file (truncated data: x of shape [${l.n}, ${l.itemShape.join(', ')}] ends at item ${start + Math.floor(raw.length / (per * l.itemBytes))})`);
        yield { start, size, x: toFloat32(raw, l.descr, l.file, start * per, per, float64Message), raw };
      }
      completed = true;
      await r.finish(l.size === l.n);
    } finally {
      if (!completed) await r.finish(false).catch(() => undefined);
    }
  };
}

async function withFile<T>(file: string, fn: (fh: fsp.FileHandle, size: number) => Promise<T>): Promise<T> {
  let fh: fsp.FileHandle;
  try {
    fh = await fsp.open(file, 'r');
  } catch (err) {
    throw fileError(file, err);
  }
  try {
    return await fn(fh, (await fh.stat()).size);
  } finally {
    await fh.close();
  }
}

async function openNpz(file: string, limit: number | undefined): Promise<ChunkedData | null> {
  const invalid = (reason: string): DataError => new DataError(`${file}: not a valid .npz (${reason})`);
  const found = await withFile(file, async (fh, fileSize) => {
    let entries: ZipEntry[];
    try {
      entries = await readZipEntriesOfFile(fh, fileSize);
    } catch (err) {
      if (err instanceof FormatProblem) return null; // loadDataset gives the message
      throw err;
    }
    const xe = entries.find((e) => e.name === 'x.npy');
    if (!xe || (xe.method !== 0 && xe.method !== 8) || entries.some((e) => !e.name.endsWith('/') && !e.name.endsWith('.npy'))) return null;
    let dataOffset: number;
    let prefix: NpyPrefix;
    try {
      dataOffset = await entryDataOffset(fh, xe);
      const head = xe.method === 0 ? await readAt(fh, dataOffset, Math.min(xe.size, 1 << 16)) : await inflateHead(file, dataOffset, xe.compressedSize);
      const len = npyHeaderLength(head.subarray(0, NPY_PREFIX_BYTES));
      prefix = readNpyPrefix(head.subarray(0, len));
    } catch (err) {
      if (err instanceof FormatProblem) return null;
      throw err;
    }
    if (!streamable(prefix)) return null;
    if (prefix.dataStart + shapeSize(prefix.shape) * prefix.itemBytes !== xe.size) return null;
    const others: Record<string, NpyArray> = {};
    for (const e of entries) {
      if (e === xe || e.name.endsWith('/')) continue;
      const key = e.name.slice(0, -4);
      if (key in others) throw invalid(`entry '${e.name}' appears twice`);
      try {
        others[key] = parseNpy(await readZipEntryOfFile(fh, e), e.method === 8);
      } catch (err) {
        if (err instanceof FormatProblem && err.unsupported) throw new DataError(`${file}: entry '${e.name}': ${err.reason}`);
        if (err instanceof FormatProblem) throw invalid(`entry '${e.name}': ${err.reason}`);
        throw err;
      }
    }
    const keys = entries.filter((e) => !e.name.endsWith('/')).map((e) => e.name.slice(0, -4));
    return { xe, dataOffset, prefix, others, keys };
  });
  if (!found) return null;
  const { xe, dataOffset, prefix, others } = found;
  const n = prefix.shape[0]!;
  const itemShape = prefix.shape.slice(1);
  const meta = metaFromArrays(others, n, itemShape, file);
  checkItemShape(itemShape, file);
  const size = Math.min(n, limit ?? n);
  const layout: XLayout = {
    name: path.basename(file),
    file,
    n,
    size,
    itemShape,
    descr: prefix.descr,
    itemBytes: prefix.itemBytes,
    reader: () => {
      const itemBytes = shapeSize(itemShape) * prefix.itemBytes;
      if (xe.method === 0) {
        let fhP: Promise<fsp.FileHandle> | null = null;
        let pos = dataOffset + prefix.dataStart;
        let crc = 0;
        return {
          async next(count) {
            fhP ??= fsp.open(file, 'r');
            const fh = await fhP;
            if (pos === dataOffset + prefix.dataStart) crc = zlib.crc32(await readAt(fh, dataOffset, prefix.dataStart));
            const raw = await readAt(fh, pos, count * itemBytes);
            pos += raw.length;
            crc = zlib.crc32(raw, crc);
            return raw;
          },
          async finish(full) {
            if (fhP) await (await fhP).close();
            if (full && crc !== xe.crc32) throw invalid(`entry 'x.npy' fails its CRC-32 check`);
          },
        };
      }
      const q = streamOf(file, { start: dataOffset, end: dataOffset + xe.compressedSize }, 'raw');
      let started = false;
      let crc = 0;
      return {
        async next(count) {
          if (!started) {
            started = true;
            crc = zlib.crc32(await q.take(prefix.dataStart));
          }
          const raw = await inflating(file, () => q.take(count * itemBytes));
          crc = zlib.crc32(raw, crc);
          return raw;
        },
        async finish(full) {
          try {
            if (full && (await inflating(file, () => q.more()))) throw invalid(`entry 'x.npy' holds more bytes than the directory says`);
          } finally {
            await q.close();
          }
          if (full && crc !== xe.crc32) throw invalid(`entry 'x.npy' fails its CRC-32 check`);
        },
      };
    },
  };
  const cut = <T>(a: readonly T[] | null): T[] | null => (a ? a.slice(0, size) : null);
  const extras: Record<string, ExtraArray> = {};
  for (const [key, e] of Object.entries(meta.extras)) {
    if (size === n || e.shape.length === 0 || e.shape[0] !== n) extras[key] = e;
    else {
      const rest = e.shape.slice(1).reduce((a, b) => a * b, 1);
      const data = e.data as ArrayLike<number | bigint | string> & { slice(start: number, end: number): ArrayLike<number | bigint | string> };
      extras[key] = { dtype: e.dtype, shape: [size, ...e.shape.slice(1)], data: data.slice(0, size * rest) };
    }
  }
  return {
    name: layout.name,
    file,
    size,
    itemShape,
    labels: meta.labels ? meta.labels.slice(0, size) : null,
    ids: cut(meta.ids),
    classNames: meta.classNames,
    featureNames: meta.featureNames,
    extras,
    npzArrays: others,
    npzKeys: found.keys,
    xDescr: prefix.descr,
    streamed: true,
    chunks: chunksOf(layout, true),
  };
}

async function inflating<T>(file: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof DataError) throw err;
    throw new DataError(`${file}: not a valid .npz (entry 'x.npy' does not inflate (${(err as Error).message}))`);
  }
}

/** The first inflated bytes of a deflated entry (enough for a .npy header). */
async function inflateHead(file: string, start: number, length: number): Promise<Uint8Array> {
  const q = streamOf(file, { start, end: start + length }, 'raw');
  try {
    const first = await q.take(NPY_PREFIX_BYTES);
    const len = npyHeaderLength(first);
    const rest = await q.take(len - first.length);
    const out = new Uint8Array(first.length + rest.length);
    out.set(first);
    out.set(rest, first.length);
    return out;
  } catch (err) {
    if (err instanceof FormatProblem) throw err;
    throw new FormatProblem(`entry 'x.npy' does not inflate (${(err as Error).message})`);
  } finally {
    await q.close();
  }
}

function checkItemShape(itemShape: readonly number[], file: string): void {
  if (!itemShape.every((d) => Number.isInteger(d) && d > 0)) throw new DataError(`${path.basename(file)}: item shape [${itemShape.join(', ')}] must have positive integer dimensions`);
}

async function openNpy(file: string, labelsFile: string | false | undefined, limit: number | undefined): Promise<ChunkedData | null> {
  const head = await withFile(file, async (fh) => {
    const first = await readAt(fh, 0, NPY_PREFIX_BYTES);
    try {
      const len = npyHeaderLength(first);
      return readNpyPrefix(await readAt(fh, 0, len));
    } catch (err) {
      if (err instanceof FormatProblem) return null;
      throw err;
    }
  });
  if (!head || !streamable(head) || labelsFile === false) return null;
  const total = (await fsp.stat(file)).size;
  if (total !== head.dataStart + shapeSize(head.shape) * head.itemBytes) return null; // loadDataset gives the message
  const n = head.shape[0]!;
  const itemShape = head.shape.slice(1);
  checkItemShape(itemShape, file);
  let labels: Int32Array | null = null;
  if (typeof labelsFile === 'string') {
    const y = readNpy(await readDataFile(labelsFile), labelsFile);
    if (y.shape.length !== 1 || y.shape[0] !== n) return null; // loadDataset gives the message
    labels = metaFromArrays({ y }, n, itemShape, labelsFile).labels;
  }
  const size = Math.min(n, limit ?? n);
  return positional(file, { name: path.basename(file), file, n, size, itemShape, descr: head.descr, itemBytes: head.itemBytes, reader: () => positionalReader(file, head.dataStart, shapeSize(itemShape) * head.itemBytes) }, labels);
}

function positionalReader(file: string, start: number, itemBytes: number): ReturnType<XLayout['reader']> {
  let fhP: Promise<fsp.FileHandle> | null = null;
  let pos = start;
  return {
    async next(count) {
      fhP ??= fsp.open(file, 'r');
      const raw = await readAt(await fhP, pos, count * itemBytes);
      pos += raw.length;
      return raw;
    },
    async finish() {
      if (fhP) await (await fhP).close();
    },
  };
}

function positional(file: string, l: XLayout, labels: Int32Array | null): ChunkedData {
  return {
    name: l.name,
    file,
    size: l.size,
    itemShape: l.itemShape,
    labels: labels ? labels.slice(0, l.size) : null,
    ids: null,
    classNames: null,
    featureNames: null,
    extras: {},
    npzArrays: null,
    npzKeys: null,
    xDescr: l.descr,
    streamed: true,
    chunks: chunksOf(l, true),
  };
}

async function openIdx(file: string, labelsSpec: string | false | undefined, limit: number | undefined): Promise<ChunkedData | null> {
  if (labelsSpec === false) return null;
  const magic = await withFile(file, (fh) => readAt(fh, 0, 2));
  const gz = magic[0] === 0x1f && magic[1] === 0x8b;
  const q = streamOf(file, undefined, gz ? 'gzip' : undefined);
  let shape: number[];
  let dataStart: number;
  try {
    const h = await q.take(4);
    if (h.length < 4 || h[0] !== 0 || h[1] !== 0 || h[2] !== 0x08) return null; // not uint8: loaded whole
    const ndim = h[3]!;
    const dims = await q.take(4 * ndim);
    if (dims.length < 4 * ndim) return null;
    const dv = new DataView(dims.buffer, dims.byteOffset, dims.byteLength);
    shape = Array.from({ length: ndim }, (_, d) => dv.getUint32(4 * d, false));
    dataStart = 4 + 4 * ndim;
  } catch {
    return null;
  } finally {
    await q.close();
  }
  if (shape.length < 2) return null;
  const n = shape[0]!;
  const itemShape = shape.length === 3 ? [1, shape[1]!, shape[2]!] : shape.slice(1);
  const labelsPath = labelsSpec ?? idxLabelsPathFor(file) ?? undefined;
  let labels: Int32Array | null = null;
  if (labelsPath !== undefined) {
    let bytes: Buffer;
    try {
      bytes = await fsp.readFile(labelsPath);
    } catch (err) {
      throw fileError(labelsPath, err);
    }
    const lab = readIdx(bytes, labelsPath);
    if (lab.shape.length !== 1) throw new DataError(`${labelsPath}: labels must be a 1-D IDX array, got shape ${formatShape(lab.shape)}`);
    if (lab.dtype === 'f4' || lab.dtype === 'f8') throw new DataError(`${labelsPath}: labels have type ${lab.dtype}; expected an integer type`);
    if (lab.shape[0] !== n) throw new DataError(`${labelsPath}: ${lab.shape[0]} labels, but ${file} has ${n} items`);
    labels = Int32Array.from(lab.data.subarray(0, Math.min(n, limit ?? n)));
    for (let i = 0; i < labels.length; i++) if (labels[i]! < 0) throw new DataError(`${path.basename(file)}: label of item ${i} is negative (${labels[i]})`);
  }
  const size = Math.min(n, limit ?? n);
  const per = shapeSize(itemShape);
  const layout: XLayout = {
    name: path.basename(file),
    file,
    n,
    size,
    itemShape,
    descr: '|u1',
    itemBytes: 1,
    reader: () => {
      const s = streamOf(file, undefined, gz ? 'gzip' : undefined);
      let started = false;
      return {
        async next(count) {
          try {
            if (!started) {
              started = true;
              await s.take(dataStart);
            }
            return await s.take(count * per);
          } catch (err) {
            throw new DataError(`${file}: not a valid gzip file (${(err as Error).message})`);
          }
        },
        async finish(full) {
          try {
            if (full && (await s.more())) throw new DataError(`${file}: not a valid IDX file (unexpected bytes after the data)`);
          } finally {
            await s.close();
          }
        },
      };
    },
  };
  return { ...positional(file, layout, null), labels, chunks: chunksOf(layout, false) };
}
