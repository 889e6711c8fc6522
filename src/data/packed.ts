/**
 * A loaded dataset as one byte string and back, for sending it to machines that cannot read its
 * source (queue workers without shared storage): `GDS1`, a little-endian uint32 header length, a
 * JSON header (name, item shape, size, class names, ids, feature names, per-item metadata), then
 * the float32 inputs and the int32 labels. Arrays the source carried but Gauntlet does not
 * interpret (`extras`) are not included. `unpackDataset` checks the layout; the caller checks the
 * content against `datasetHash`.
 */
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
  return Buffer.concat([Buffer.from(MAGIC, 'latin1'), len, json, bytesOf(ds.x), ...(ds.labels ? [bytesOf(ds.labels)] : [])]);
}

/** The dataset packed by `packDataset`; `label` names the bytes in errors. */
export function unpackDataset(bytes: Buffer, label: string): Dataset {
  const bad = (why: string) => new DataError(`${label}: not a packed dataset (${why})`);
  if (bytes.length < 8 || bytes.toString('latin1', 0, 4) !== MAGIC) throw bad('no GDS1 header');
  const n = bytes.readUInt32LE(4);
  if (8 + n > bytes.length) throw bad('truncated header');
  let h: Header;
  try {
    h = JSON.parse(bytes.toString('utf8', 8, 8 + n)) as Header;
  } catch (e) {
    throw bad(`header: ${(e as Error).message}`);
  }
  const itemSize = h.item_shape.reduce((a, b) => a * b, 1);
  const xBytes = 4 * h.size * itemSize;
  const yBytes = h.labels ? 4 * h.size : 0;
  if (bytes.length !== 8 + n + xBytes + yBytes) throw bad(`${bytes.length} bytes, the header says ${8 + n + xBytes + yBytes}`);
  const o = 8 + n;
  const x = new Float32Array(h.size * itemSize);
  const y = h.labels ? new Int32Array(h.size) : null;
  if (isLE) {
    // Copied into the arrays' own (aligned) memory.
    new Uint8Array(x.buffer).set(bytes.subarray(o, o + xBytes));
    if (y) new Uint8Array(y.buffer).set(bytes.subarray(o + xBytes, o + xBytes + yBytes));
  } else {
    for (let i = 0; i < x.length; i++) x[i] = bytes.readFloatLE(o + 4 * i);
    if (y) for (let i = 0; i < y.length; i++) y[i] = bytes.readInt32LE(o + xBytes + 4 * i);
  }
  return makeDataset({ name: h.name, itemShape: h.item_shape, x, labels: y, classNames: h.class_names, ids: h.ids, featureNames: h.feature_names, metadata: h.metadata });
}
