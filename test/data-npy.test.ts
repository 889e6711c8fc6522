import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { readNpy, saveNpy, writeNpy, type NpyArrayLike } from '../src/data/npy.js';
import { DataError, UsageError } from '../src/errors.js';
import { scratchDirs } from './helpers.js';

/** A fresh empty folder under this file's one temporary directory. */
const fresh = scratchDirs('gauntlet-data-');

/** Builds .npy bytes from a header dict text and raw data (format 1.0 unless `major` says). */
function npyBytes(header: string, data: Uint8Array, major = 1): Uint8Array {
  const prefix = major === 1 ? 10 : 12;
  const padded = header + ' '.repeat(64 - ((prefix + header.length + 1) % 64)) + '\n';
  const hb = major === 3 ? Buffer.from(padded, 'utf-8') : Buffer.from(padded, 'latin1');
  const out = Buffer.alloc(prefix + hb.length + data.length);
  Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, major, 0]).copy(out, 0);
  if (major === 1) out.writeUInt16LE(hb.length, 8);
  else out.writeUInt32LE(hb.length, 8);
  hb.copy(out, prefix);
  Buffer.from(data).copy(out, prefix + hb.length);
  return out;
}

const numericCases: { dtype: string; data: ArrayLike<number | bigint> }[] = [
  { dtype: '<f4', data: new Float32Array([1.5, -2, 3.25e-8, 3.4028234663852886e38, -0]) },
  { dtype: '<f8', data: new Float64Array([Math.PI, -1e300, 5e-324, 0, 42]) },
  { dtype: '<i8', data: new BigInt64Array([-(2n ** 63n), -1n, 0n, 7n, 2n ** 63n - 1n]) },
  { dtype: '<u8', data: new BigUint64Array([0n, 1n, 2n ** 64n - 1n, 12345678901234567n, 3n]) },
  { dtype: '<i4', data: new Int32Array([-(2 ** 31), -1, 0, 1, 2 ** 31 - 1]) },
  { dtype: '<u4', data: new Uint32Array([0, 1, 2 ** 32 - 1, 65536, 9]) },
  { dtype: '<i2', data: new Int16Array([-32768, -1, 0, 1, 32767]) },
  { dtype: '<u2', data: new Uint16Array([0, 1, 65535, 256, 9]) },
  { dtype: '|i1', data: new Int8Array([-128, -1, 0, 1, 127]) },
  { dtype: '|u1', data: new Uint8Array([0, 1, 128, 254, 255]) },
  { dtype: '|b1', data: new Uint8Array([1, 0, 0, 1, 1]) },
];

test('writeNpy → readNpy round-trips every numeric dtype, little- and big-endian', () => {
  for (const { dtype, data } of numericCases) {
    for (const order of ['<', '>']) {
      const d = dtype.startsWith('|') ? dtype : order + dtype.slice(1);
      const bytes = writeNpy({ dtype: d, shape: [5], data });
      const back = readNpy(bytes, 'a.npy');
      assert.equal(back.dtype, dtype, d);
      assert.deepEqual(back.shape, [5]);
      assert.deepEqual(Array.from(back.data as ArrayLike<number | bigint>), Array.from(data), d);
      assert.equal(back.data.constructor, data.constructor, d);
    }
  }
});

test('writeNpy output has a 64-byte aligned header that numpy can read (format 1.0)', () => {
  const bytes = writeNpy({ dtype: '<f4', shape: [2, 3], data: new Float32Array(6) });
  assert.deepEqual([...bytes.subarray(0, 8)], [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]);
  const headerLen = bytes[8]! | (bytes[9]! << 8);
  assert.equal((10 + headerLen) % 64, 0);
  const header = Buffer.from(bytes.subarray(10, 10 + headerLen)).toString('latin1');
  assert.match(header, /^\{'descr': '<f4', 'fortran_order': False, 'shape': \(2, 3\), \} *\n$/);
  assert.equal(bytes.length, 10 + headerLen + 24);
});

test('shapes: scalar, empty and 1-tuple', () => {
  const scalar = readNpy(writeNpy({ dtype: '<f8', shape: [], data: [2.5] }), 's.npy');
  assert.deepEqual(scalar.shape, []);
  assert.deepEqual([...(scalar.data as Float64Array)], [2.5]);
  const empty = readNpy(writeNpy({ dtype: '<i4', shape: [0, 3], data: [] }), 'e.npy');
  assert.deepEqual(empty.shape, [0, 3]);
  assert.equal(empty.data.length, 0);
});

test('unicode and byte-string arrays round-trip, with automatic width', () => {
  const strings = ['', 'a', 'Ankle boot', 'ému', '😀x'];
  const u = readNpy(writeNpy({ dtype: '<U', shape: [5], data: strings }), 'u.npy');
  assert.equal(u.dtype, '<U10');
  assert.deepEqual(u.data, strings);
  const ube = readNpy(writeNpy({ dtype: '>U12', shape: [5], data: strings }), 'u.npy');
  assert.equal(ube.dtype, '<U12');
  assert.deepEqual(ube.data, strings);
  const s = readNpy(writeNpy({ dtype: '|S', shape: [2], data: ['ab', 'xyz'] }), 's.npy');
  assert.equal(s.dtype, '|S3');
  assert.deepEqual(s.data, ['ab', 'xyz']);
});

test('a hand-built numpy header with a 1-tuple and Python 2 long shape parses', () => {
  const data = new Uint8Array(new Float32Array([1, 2, 3]).buffer);
  const a = readNpy(npyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': (3L,), }", data), 'a.npy');
  assert.deepEqual(a.shape, [3]);
  assert.deepEqual([...(a.data as Float32Array)], [1, 2, 3]);
});

test('format versions 2.0 and 3.0 (4-byte header length, UTF-8 header) are read', () => {
  const data = new Uint8Array(new Int32Array([5, 6]).buffer);
  for (const major of [2, 3]) {
    const a = readNpy(npyBytes("{'descr': '<i4', 'fortran_order': False, 'shape': (2,), }", data, major), 'v.npy');
    assert.deepEqual([...(a.data as Int32Array)], [5, 6]);
  }
});

test('fortran_order=True data is reordered into C order', () => {
  // numpy: np.asfortranarray(np.arange(24, dtype='<i2').reshape(2, 3, 4)) stores x[i,j,k] at i + 2j + 6k.
  const shape = [2, 3, 4];
  const fortran = new Int16Array(24);
  for (let i = 0; i < 2; i++) for (let j = 0; j < 3; j++) for (let k = 0; k < 4; k++) fortran[i + 2 * j + 6 * k] = i * 12 + j * 4 + k;
  const a = readNpy(npyBytes("{'descr': '>i2', 'fortran_order': True, 'shape': (2, 3, 4), }", swap16(fortran)), 'f.npy');
  assert.deepEqual(a.shape, shape);
  assert.deepEqual([...(a.data as Int16Array)], Array.from({ length: 24 }, (_, i) => i));
  const s = readNpy(npyBytes("{'descr': '<U1', 'fortran_order': True, 'shape': (2, 2), }", ucs4('acbd')), 's.npy');
  assert.deepEqual(s.data, ['a', 'b', 'c', 'd']);
});

function swap16(a: Int16Array): Uint8Array {
  const out = new Uint8Array(a.length * 2);
  const dv = new DataView(out.buffer);
  a.forEach((v, i) => dv.setInt16(2 * i, v, false));
  return out;
}

function ucs4(s: string): Uint8Array {
  return new Uint8Array(Uint32Array.from([...s], (c) => c.codePointAt(0)!).buffer);
}

test('bad .npy bytes are DataErrors that name the file and the problem', () => {
  const good = writeNpy({ dtype: '<f4', shape: [4], data: new Float32Array(4) });
  const cases: [string, Uint8Array, RegExp][] = [
    ['too short', good.subarray(0, 5), /^t\.npy: not a valid \.npy \(5 bytes is too short/],
    ['bad magic', Buffer.from('PK\x03\x04 hello world, not numpy'), /bad magic/],
    ['truncated data', good.subarray(0, good.length - 3), /truncated data: shape \(4,\) of <f4 needs 16 bytes, 13 present/],
    ['trailing bytes', Buffer.concat([good, Buffer.from([1, 2])]), /2 unexpected bytes after the data/],
    ['truncated header', good.subarray(0, 30), /truncated header/],
    ['object dtype', npyBytes("{'descr': '|O', 'fortran_order': False, 'shape': (1,), }", new Uint8Array(8)), /^t\.npy: object arrays \(pickled\) are not supported/],
    ['complex dtype', npyBytes("{'descr': '<c8', 'fortran_order': False, 'shape': (1,), }", new Uint8Array(8)), /^t\.npy: unsupported dtype '<c8'/],
    ['structured dtype', npyBytes("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1,), }", new Uint8Array(4)), /structured/],
    ['no shape', npyBytes("{'descr': '<f4', 'fortran_order': False, }", new Uint8Array(4)), /no 'shape'/],
    ['negative shape', npyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': (-1,), }", new Uint8Array(4)), /no 'shape' tuple of non-negative integers/],
    ['not a literal', npyBytes("{'descr': '<f4', import os}", new Uint8Array(4)), /not a Python literal/],
    ['version 9', Buffer.concat([Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 9, 0]), Buffer.alloc(8)]), /format version 9\.0 is not supported/],
  ];
  for (const [what, bytes, message] of cases) {
    assert.throws(() => readNpy(bytes, 't.npy'), (err: unknown) => err instanceof DataError && message.test(err.message) && !err.message.includes('\n'), what);
  }
});

test('writeNpy rejects values that do not fit, and shape/data mismatches, as UsageErrors', () => {
  const bad: [NpyArrayLike, RegExp][] = [
    [{ dtype: '|u1', shape: [2], data: [1, 256] }, /value 256 at index 1 does not fit \|u1/],
    [{ dtype: '<i4', shape: [1], data: [1.5] }, /value 1.5 at index 0 does not fit <i4/],
    [{ dtype: '<i8', shape: [1], data: [2n ** 63n] }, /does not fit <i8/],
    [{ dtype: '<f4', shape: [3], data: [1, 2] }, /shape \(3,\) holds 3 values but data has 2/],
    [{ dtype: '<c16', shape: [1], data: [1] }, /unsupported dtype/],
    [{ dtype: '<U2', shape: [1], data: ['abc'] }, /longer than 2 characters/],
  ];
  for (const [array, message] of bad) assert.throws(() => writeNpy(array), (e: unknown) => e instanceof UsageError && message.test(e.message));
});

test('saveNpy writes atomically and leaves no temporary files, even when it fails', async () => {
  const dir = fresh();
  const file = path.join(dir, 'a.npy');
  await saveNpy(file, { dtype: '<f4', shape: [2], data: new Float32Array([1, 2]) });
  await saveNpy(file, { dtype: '<f4', shape: [3], data: new Float32Array([1, 2, 3]) });
  assert.deepEqual([...(readNpy(fs.readFileSync(file), file).data as Float32Array)], [1, 2, 3]);
  assert.deepEqual(fs.readdirSync(dir), ['a.npy']);
  // Encoding fails: the existing file is untouched.
  await assert.rejects(saveNpy(file, { dtype: '|u1', shape: [1], data: [999] }), UsageError);
  assert.deepEqual([...(readNpy(fs.readFileSync(file), file).data as Float32Array)], [1, 2, 3]);
  // Writing fails (the folder does not exist): a DataError naming the file, nothing left behind.
  const missing = path.join(dir, 'no-such-dir', 'b.npy');
  await assert.rejects(saveNpy(missing, { dtype: '<f4', shape: [1], data: [1] }), (e: unknown) => e instanceof DataError && e.message.startsWith(`${missing}: cannot write`));
  // Renaming fails (the target is a non-empty folder): the temporary file is removed.
  fs.mkdirSync(path.join(dir, 'c.npy'));
  fs.writeFileSync(path.join(dir, 'c.npy', 'keep'), 'x');
  await assert.rejects(saveNpy(path.join(dir, 'c.npy'), { dtype: '<f4', shape: [1], data: [1] }), DataError);
  assert.deepEqual(fs.readdirSync(dir).sort(), ['a.npy', 'c.npy']);
});
