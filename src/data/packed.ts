/**
 * A loaded dataset as one byte string and back, for sending it to machines that cannot read its
 * source (queue workers without shared storage): `GDS1`, a little-endian uint32 header length, a
 * JSON header (name, item shape, size, class names, ids, feature names, per-item metadata), then
 * the float32 inputs and the int32 labels. Arrays the source carried but Gauntlet does not
 * interpret (`extras`) are not included. `unpackDataset` checks the layout; the caller checks the
 * content against `datasetHash`.
 */
import fs from 'node:fs';
import { DataError } from '../errors.js';
import { makeDataset, type Dataset } from './dataset.js';

const MAGIC = 'GDS1';

interface Header {
  name: string;
  size: number;
  item_shape: number[];
  labels: boolean;
  class_names: string[] | null;
  ids: string[] | null;
  feature_names: string[] | null;
  metadata: (Record<string, unknown> | null)[] | null;
}

function littleEndian(a: Float32Array | Int32Array): Buffer {
  const out = Buffer.alloc(a.byteLength);
  for (let i = 0; i < a.length; i++) {
    if (a instanceof Float32Array) out.writeFloatLE(a[i]!, 4 * i);
    else out.writeInt32LE(a[i]!, 4 * i);
  }
  return out;
}

const isLE = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
const bytesOf = (a: Float32Array | Int32Array): Buffer => (isLE ? Buffer.from(a.buffer, a.byteOffset, a.byteLength) : littleEndian(a));

export function packDataset(ds: Dataset): Buffer {
  return Buffer.concat([...packedPieces(ds)]);
}

/**
 * The bytes of `packDataset(ds)` as pieces of at most `maxBytes` each, in order, without one buffer
 * of the whole: the arrays' pieces are views of the dataset's own memory (on little-endian hosts), so
 * a caller that sends them on (queue/files.ts) holds one piece at a time beside the dataset.
 */
export function* packedPieces(ds: Dataset, maxBytes = 1 << 20): Generator<Buffer> {
  const header: Header = {
    name: ds.name,
    size: ds.size,
    item_shape: [...ds.itemShape],
    labels: ds.labels !== null,
    class_names: ds.classNames ? [...ds.classNames] : null,
    ids: ds.ids ? [...ds.ids] : null,
    feature_names: ds.featureNames ? [...ds.featureNames] : null,
    metadata: ds.metadata ? [...ds.metadata] : null,
  };
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  const len = Buffer.alloc(4);
  len.writeUInt32LE(json.length, 0);
  yield Buffer.concat([Buffer.from(MAGIC, 'latin1'), len, json]);
  const step = Math.max(1, Math.floor(maxBytes / 4));
  for (const a of [ds.x, ...(ds.labels ? [ds.labels] : [])]) {
    for (let i = 0; i < a.length; i += step) yield bytesOf(a.subarray(i, Math.min(a.length, i + step)));
  }
}

/**
 * A packed dataset read through `read` (copies `into.length` bytes from offset `at`) from `size`
 * bytes: the layout checked, the arrays filled in their own memory, straight from the source.
 */
function unpack(size: number, read: (into: Uint8Array, at: number) => void, label: string): Dataset {
  const bad = (why: string) => new DataError(`${label}: not a packed dataset (${why})`);
  const head = Buffer.alloc(8);
  if (size < 8) throw bad('no GDS1 header');
  read(head, 0);
  if (head.toString('latin1', 0, 4) !== MAGIC) throw bad('no GDS1 header');
  const n = head.readUInt32LE(4);
  if (8 + n > size) throw bad('truncated header');
  const json = Buffer.alloc(n);
  read(json, 8);
  let h: Header;
  try {
    h = JSON.parse(json.toString('utf8')) as Header;
  } catch (e) {
    throw bad(`header: ${(e as Error).message}`);
  }
  const itemSize = h.item_shape.reduce((a, b) => a * b, 1);
  const xBytes = 4 * h.size * itemSize;
  const yBytes = h.labels ? 4 * h.size : 0;
  if (size !== 8 + n + xBytes + yBytes) throw bad(`${size} bytes, the header says ${8 + n + xBytes + yBytes}`);
  const x = new Float32Array(h.size * itemSize);
  const y = h.labels ? new Int32Array(h.size) : null;
  const readInto = (a: Float32Array | Int32Array, at: number) => {
    read(new Uint8Array(a.buffer, a.byteOffset, a.byteLength), at);
    if (!isLE) {
      const dv = new DataView(a.buffer, a.byteOffset, a.byteLength);
      for (let i = 0; i < a.length; i++) a[i] = a instanceof Float32Array ? dv.getFloat32(4 * i, true) : dv.getInt32(4 * i, true);
    }
  };
  readInto(x, 8 + n);
  if (y) readInto(y, 8 + n + xBytes);
  return makeDataset({ name: h.name, itemShape: h.item_shape, x, labels: y, classNames: h.class_names, ids: h.ids, featureNames: h.feature_names, metadata: h.metadata });
}

/** The dataset packed by `packDataset`; `label` names the bytes in errors. */
export function unpackDataset(bytes: Buffer, label: string): Dataset {
  return unpack(bytes.length, (into, at) => void bytes.copy(into, 0, at, at + into.length), label);
}

/**
 * The dataset packed in a file (as `unpackDataset` reads bytes), read straight into its arrays: the
 * file's bytes are never all in memory beside them.
 */
export function unpackDatasetFile(file: string, label: string): Dataset {
  const fd = fs.openSync(file, 'r');
  try {
    return unpack(
      fs.fstatSync(fd).size,
      (into, at) => {
        for (let o = 0; o < into.length; ) {
          const got = fs.readSync(fd, into, o, Math.min(1 << 24, into.length - o), at + o);
          if (got <= 0) throw new DataError(`${label}: not a packed dataset (truncated)`);
          o += got;
        }
      },
      label,
    );
  } finally {
    fs.closeSync(fd);
  }
}
