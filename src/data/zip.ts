/**
 * A small zip reader and writer, enough for `.npz` archives (numpy's `np.savez` stores entries,
 * `np.savez_compressed` deflates them; both may use zip64 records).
 *
 * Reading trusts the central directory (as zip tools do): it finds the end-of-central-directory
 * record (and the zip64 one when the 32-bit fields overflow), lists the entries, and reads each
 * entry's data after its local header, checking sizes and CRC-32. Methods 0 (stored) and 8
 * (deflate) are supported; encryption and multi-disk archives are not.
 *
 * Writing produces deterministic bytes (a fixed 1980-01-01 timestamp), zip64 records only where
 * the sizes demand them or `forceZip64` asks.
 */
import zlib from 'node:zlib';
import { FormatProblem } from './util.js';

/** An entry listed in a zip archive's central directory. */
export interface ZipEntry {
  readonly name: string;
  /** 0 = stored, 8 = deflate. */
  readonly method: number;
  readonly crc32: number;
  readonly compressedSize: number;
  readonly size: number;
  /** Offset of the entry's local header. */
  readonly localHeaderOffset: number;
}

/** A file to put in a zip archive. */
export interface ZipInput {
  readonly name: string;
  readonly data: Uint8Array;
}

const SIG_LOCAL = 0x04034b50;
const SIG_CENTRAL = 0x02014b50;
const SIG_EOCD = 0x06054b50;
const SIG_ZIP64_EOCD = 0x06064b50;
const SIG_ZIP64_LOCATOR = 0x07064b50;
const U16_MAX = 0xffff;
const U32_MAX = 0xffffffff;

function u64(dv: DataView, off: number, what: string): number {
  const v = dv.getBigUint64(off, true);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new FormatProblem(`${what} ${v} is too large`);
  return Number(v);
}

/** Lists the entries of a zip archive. Throws FormatProblem if it is not a readable zip. */
export function readZipEntries(bytes: Uint8Array, base = 0): ZipEntry[] {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const eocd = findEocd(bytes, dv);
  let count = dv.getUint16(eocd + 10, true);
  let cdSize = dv.getUint32(eocd + 12, true);
  let cdOffset = dv.getUint32(eocd + 16, true);
  if (dv.getUint16(eocd + 4, true) !== 0 || dv.getUint16(eocd + 6, true) !== 0) {
    throw new FormatProblem('multi-disk archives are not supported', true);
  }
  if (count === U16_MAX || cdSize === U32_MAX || cdOffset === U32_MAX) {
    const loc = eocd - 20;
    if (loc < 0 || dv.getUint32(loc, true) !== SIG_ZIP64_LOCATOR) throw new FormatProblem('zip64 end-of-central-directory locator is missing');
    const z = u64(dv, loc + 8, 'zip64 end-of-central-directory offset') - base;
    if (z < 0 || z + 56 > bytes.length || dv.getUint32(z, true) !== SIG_ZIP64_EOCD) throw new FormatProblem('zip64 end-of-central-directory record is missing');
    count = u64(dv, z + 32, 'entry count');
    cdSize = u64(dv, z + 40, 'central directory size');
    cdOffset = u64(dv, z + 48, 'central directory offset');
  }
  if (cdOffset + cdSize > base + bytes.length) throw new FormatProblem('truncated: the central directory lies past the end of the file');
  if (cdOffset < base) throw new NeedBytesFrom(cdOffset);

  const entries: ZipEntry[] = [];
  let p = cdOffset - base;
  for (let k = 0; k < count; k++) {
    if (p + 46 > cdOffset - base + cdSize || dv.getUint32(p, true) !== SIG_CENTRAL) throw new FormatProblem(`central directory entry ${k} is malformed`);
    const flags = dv.getUint16(p + 8, true);
    const method = dv.getUint16(p + 10, true);
    const crc32 = dv.getUint32(p + 16, true);
    let compressedSize = dv.getUint32(p + 20, true);
    let size = dv.getUint32(p + 24, true);
    const nameLen = dv.getUint16(p + 28, true);
    const extraLen = dv.getUint16(p + 30, true);
    const commentLen = dv.getUint16(p + 32, true);
    let localHeaderOffset = dv.getUint32(p + 42, true);
    const nameBytes = bytes.subarray(p + 46, p + 46 + nameLen);
    const name = new TextDecoder(flags & 0x800 ? 'utf-8' : 'latin1').decode(nameBytes);
    if (flags & 0x1) throw new FormatProblem(`entry '${name}' is encrypted`, true);
    // zip64 extended information: the 64-bit values of whichever 32-bit fields are saturated.
    let e = p + 46 + nameLen;
    const extraEnd = e + extraLen;
    while (e + 4 <= extraEnd) {
      const id = dv.getUint16(e, true);
      const len = dv.getUint16(e + 2, true);
      if (id === 0x0001) {
        let q = e + 4;
        const take = (): number => {
          if (q + 8 > e + 4 + len) throw new FormatProblem(`entry '${name}' has a short zip64 extra field`);
          const v = u64(dv, q, 'zip64 field');
          q += 8;
          return v;
        };
        if (size === U32_MAX) size = take();
        if (compressedSize === U32_MAX) compressedSize = take();
        if (localHeaderOffset === U32_MAX) localHeaderOffset = take();
      }
      e += 4 + len;
    }
    entries.push({ name, method, crc32, compressedSize, size, localHeaderOffset });
    p = extraEnd + commentLen;
  }
  return entries;
}

/** Thrown by readZipEntries when the directory starts before the bytes given (a tail of the file). */
class NeedBytesFrom extends Error {
  constructor(readonly offset: number) {
    super(`need the bytes from ${offset}`);
  }
}

/**
 * Lists the entries of a zip file reading only its tail (the central directory and end records),
 * not the whole file: for readers that stream one entry. Throws FormatProblem.
 */
export async function readZipEntriesOfFile(fh: ReadableFile, fileSize: number): Promise<ZipEntry[]> {
  let start = Math.max(0, fileSize - 22 - U16_MAX - 20 - 56);
  for (let attempt = 0; attempt < 2; attempt++) {
    const bytes = await readAt(fh, start, fileSize - start);
    try {
      return readZipEntries(bytes, start);
    } catch (err) {
      if (!(err instanceof NeedBytesFrom) || attempt > 0) throw err;
      start = err.offset;
    }
  }
  throw new FormatProblem('the central directory cannot be located');
}

/** Where one stored entry's data lies in the file (after its local header). */
export async function entryDataOffset(fh: ReadableFile, entry: ZipEntry): Promise<number> {
  const h = await readAt(fh, entry.localHeaderOffset, 30);
  const dv = new DataView(h.buffer, h.byteOffset, h.byteLength);
  if (h.length < 30 || dv.getUint32(0, true) !== SIG_LOCAL) throw new FormatProblem(`entry '${entry.name}' has no local header`);
  return entry.localHeaderOffset + 30 + dv.getUint16(26, true) + dv.getUint16(28, true);
}

/** The uncompressed, checked bytes of one entry of a zip file (read alone). */
export async function readZipEntryOfFile(fh: ReadableFile, entry: ZipEntry): Promise<Uint8Array> {
  const start = await entryDataOffset(fh, entry);
  const local = await readAt(fh, entry.localHeaderOffset, start - entry.localHeaderOffset + entry.compressedSize);
  return readZipEntry(local, { ...entry, localHeaderOffset: 0 });
}

/** Exactly `length` bytes at `position` (fewer only at the end of the file). */
export async function readAt(fh: ReadableFile, position: number, length: number): Promise<Uint8Array> {
  const out = new Uint8Array(length);
  let done = 0;
  while (done < length) {
    const { bytesRead } = await fh.read(out, done, length - done, position + done);
    if (bytesRead === 0) break;
    done += bytesRead;
  }
  return done === length ? out : out.subarray(0, done);
}

/** The part of fs.promises.FileHandle the readers need (positional reads). */
export interface ReadableFile {
  read(buffer: Uint8Array, offset: number, length: number, position: number): Promise<{ bytesRead: number }>;
}

function findEocd(bytes: Uint8Array, dv: DataView): number {
  if (bytes.length < 22) throw new FormatProblem(`${bytes.length} bytes is too short for a zip archive`);
  const stop = Math.max(0, bytes.length - 22 - U16_MAX);
  for (let p = bytes.length - 22; p >= stop; p--) {
    if (dv.getUint32(p, true) === SIG_EOCD && p + 22 + dv.getUint16(p + 20, true) <= bytes.length) return p;
  }
  if (dv.getUint32(0, true) === SIG_LOCAL) throw new FormatProblem('truncated: no end-of-central-directory record');
  throw new FormatProblem('not a zip archive (no end-of-central-directory record)');
}

/** The uncompressed bytes of one entry, checked against its size and CRC-32. Throws FormatProblem. */
export function readZipEntry(bytes: Uint8Array, entry: ZipEntry): Uint8Array {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const h = entry.localHeaderOffset;
  if (h + 30 > bytes.length || dv.getUint32(h, true) !== SIG_LOCAL) throw new FormatProblem(`entry '${entry.name}' has no local header`);
  const start = h + 30 + dv.getUint16(h + 26, true) + dv.getUint16(h + 28, true);
  const end = start + entry.compressedSize;
  if (end > bytes.length) throw new FormatProblem(`truncated: entry '${entry.name}' runs past the end of the file`);
  const stored = bytes.subarray(start, end);
  let data: Uint8Array;
  if (entry.method === 0) {
    data = stored;
  } else if (entry.method === 8) {
    try {
      data = zlib.inflateRawSync(stored, { maxOutputLength: Math.max(1, entry.size) });
    } catch (err) {
      throw new FormatProblem(`entry '${entry.name}' does not inflate (${(err as Error).message})`);
    }
  } else {
    throw new FormatProblem(`entry '${entry.name}' uses compression method ${entry.method} (only stored and deflate are supported)`, true);
  }
  if (data.length !== entry.size) throw new FormatProblem(`entry '${entry.name}' holds ${data.length} bytes, the directory says ${entry.size}`);
  if (zlib.crc32(data) !== entry.crc32) throw new FormatProblem(`entry '${entry.name}' fails its CRC-32 check`);
  return data;
}

/** Options for `writeZip`. */
export interface ZipWriteOptions {
  /** Deflate every entry (like `np.savez_compressed`); default false (stored, like `np.savez`). */
  readonly compress?: boolean;
  /** Write zip64 records even when the sizes do not need them (for testing readers). */
  readonly forceZip64?: boolean;
}

/** What the headers of one entry record. */
interface EntryRecord {
  readonly name: string;
  readonly method: number;
  readonly crc: number;
  /** Uncompressed size. */
  readonly size: number;
  readonly compressedSize: number;
  /** Offset of the local header. */
  readonly offset: number;
}

const DOS_DATE = (0 << 9) | (1 << 5) | 1; // 1980-01-01

/** Whether an entry's headers use zip64 fields (sizes or offset past 32 bits, or forced). */
function entryZip64(e: Pick<EntryRecord, 'size' | 'compressedSize' | 'offset'>, force: boolean): boolean {
  return force || e.size >= U32_MAX || e.compressedSize >= U32_MAX || e.offset >= U32_MAX;
}

/** The local header of an entry (CRC at byte 14). */
function localHeader(e: EntryRecord, force: boolean): Buffer {
  const name = Buffer.from(e.name, 'utf-8');
  const flags = /^[\x20-\x7e]*$/.test(e.name) ? 0 : 0x800;
  const zip64 = entryZip64(e, force);
  const version = zip64 ? 45 : 20;
  const local = Buffer.alloc(30 + name.length + (zip64 ? 20 : 0));
  local.writeUInt32LE(SIG_LOCAL, 0);
  local.writeUInt16LE(version, 4);
  local.writeUInt16LE(flags, 6);
  local.writeUInt16LE(e.method, 8);
  local.writeUInt16LE(0, 10);
  local.writeUInt16LE(DOS_DATE, 12);
  local.writeUInt32LE(e.crc, 14);
  local.writeUInt32LE(zip64 ? U32_MAX : e.compressedSize, 18);
  local.writeUInt32LE(zip64 ? U32_MAX : e.size, 22);
  local.writeUInt16LE(name.length, 26);
  local.writeUInt16LE(zip64 ? 20 : 0, 28);
  name.copy(local, 30);
  if (zip64) {
    const x = 30 + name.length;
    local.writeUInt16LE(0x0001, x);
    local.writeUInt16LE(16, x + 2);
    local.writeBigUInt64LE(BigInt(e.size), x + 4);
    local.writeBigUInt64LE(BigInt(e.compressedSize), x + 12);
  }
  return local;
}

/** The central-directory record of an entry. */
function centralHeader(e: EntryRecord, force: boolean): Buffer {
  const name = Buffer.from(e.name, 'utf-8');
  const flags = /^[\x20-\x7e]*$/.test(e.name) ? 0 : 0x800;
  const zip64 = entryZip64(e, force);
  const version = zip64 ? 45 : 20;
  const cd = Buffer.alloc(46 + name.length + (zip64 ? 28 : 0));
  cd.writeUInt32LE(SIG_CENTRAL, 0);
  cd.writeUInt16LE(version, 4);
  cd.writeUInt16LE(version, 6);
  cd.writeUInt16LE(flags, 8);
  cd.writeUInt16LE(e.method, 10);
  cd.writeUInt16LE(0, 12);
  cd.writeUInt16LE(DOS_DATE, 14);
  cd.writeUInt32LE(e.crc, 16);
  cd.writeUInt32LE(zip64 ? U32_MAX : e.compressedSize, 20);
  cd.writeUInt32LE(zip64 ? U32_MAX : e.size, 24);
  cd.writeUInt16LE(name.length, 28);
  cd.writeUInt16LE(zip64 ? 28 : 0, 30);
  cd.writeUInt32LE(zip64 ? U32_MAX : e.offset, 42);
  name.copy(cd, 46);
  if (zip64) {
    const x = 46 + name.length;
    cd.writeUInt16LE(0x0001, x);
    cd.writeUInt16LE(24, x + 2);
    cd.writeBigUInt64LE(BigInt(e.size), x + 4);
    cd.writeBigUInt64LE(BigInt(e.compressedSize), x + 12);
    cd.writeBigUInt64LE(BigInt(e.offset), x + 20);
  }
  return cd;
}

/** The central directory and end records of an archive whose entries end at `cdOffset`. */
function directoryAndEnd(entries: readonly EntryRecord[], cdOffset: number, force: boolean): Buffer {
  const central = entries.map((e) => centralHeader(e, force));
  const cdSize = central.reduce((a, c) => a + c.length, 0);
  const zip64End = force || entries.length >= U16_MAX || cdOffset >= U32_MAX || cdSize >= U32_MAX;
  const tail: Buffer[] = [];
  if (zip64End) {
    const rec = Buffer.alloc(56);
    rec.writeUInt32LE(SIG_ZIP64_EOCD, 0);
    rec.writeBigUInt64LE(44n, 4);
    rec.writeUInt16LE(45, 12);
    rec.writeUInt16LE(45, 14);
    rec.writeBigUInt64LE(BigInt(entries.length), 24);
    rec.writeBigUInt64LE(BigInt(entries.length), 32);
    rec.writeBigUInt64LE(BigInt(cdSize), 40);
    rec.writeBigUInt64LE(BigInt(cdOffset), 48);
    const loc = Buffer.alloc(20);
    loc.writeUInt32LE(SIG_ZIP64_LOCATOR, 0);
    loc.writeBigUInt64LE(BigInt(cdOffset + cdSize), 8);
    loc.writeUInt32LE(1, 16);
    tail.push(rec, loc);
  }
  const eocd = Buffer.alloc(22);
  eocd.writeUInt32LE(SIG_EOCD, 0);
  eocd.writeUInt16LE(zip64End ? U16_MAX : entries.length, 8);
  eocd.writeUInt16LE(zip64End ? U16_MAX : entries.length, 10);
  eocd.writeUInt32LE(zip64End ? U32_MAX : cdSize, 12);
  eocd.writeUInt32LE(zip64End ? U32_MAX : cdOffset, 16);
  tail.push(eocd);
  return Buffer.concat([...central, ...tail]);
}

/** Builds a zip archive. Entry names are written as UTF-8 (flagged when not ASCII). */
export function writeZip(files: readonly ZipInput[], options: ZipWriteOptions = {}): Uint8Array {
  const force = !!options.forceZip64;
  const parts: Uint8Array[] = [];
  const entries: EntryRecord[] = [];
  let offset = 0;
  for (const file of files) {
    const method = options.compress ? 8 : 0;
    const body = method === 8 ? zlib.deflateRawSync(file.data) : file.data;
    const e: EntryRecord = { name: file.name, method, crc: zlib.crc32(file.data), size: file.data.length, compressedSize: body.length, offset };
    const local = localHeader(e, force);
    parts.push(local, body);
    entries.push(e);
    offset += local.length + body.length;
  }
  return Buffer.concat([...parts, directoryAndEnd(entries, offset, force)]);
}

/**
 * A stored (uncompressed) zip archive written to a file entry by entry, each entry's data in
 * pieces, holding in memory only the piece at hand: the bytes equal `writeZip` of the same entries
 * (uncompressed). The size of each entry must be known when it starts (it is written in the local
 * header, and decides zip64); its CRC-32 is patched into the local header when it ends.
 */
export class ZipFileWriter {
  private offset = 0;
  private readonly entries: EntryRecord[] = [];
  private open: { name: string; size: number; offset: number; written: number; crc: number; headerBytes: number } | null = null;

  constructor(
    private readonly fd: FileLike,
    private readonly options: { forceZip64?: boolean } = {},
  ) {}

  /** Starts an entry of `size` bytes. */
  async begin(name: string, size: number): Promise<void> {
    if (this.open) throw new Error(`ZipFileWriter: entry '${this.open.name}' is still open`);
    const local = localHeader({ name, method: 0, crc: 0, size, compressedSize: size, offset: this.offset }, !!this.options.forceZip64);
    await this.fd.write(local, 0, local.length, this.offset);
    this.open = { name, size, offset: this.offset, written: 0, crc: 0, headerBytes: local.length };
    this.offset += local.length;
  }

  /** Appends bytes to the open entry. */
  async write(bytes: Uint8Array): Promise<void> {
    const e = this.open;
    if (!e) throw new Error('ZipFileWriter: no open entry');
    if (e.written + bytes.length > e.size) throw new Error(`ZipFileWriter: entry '${e.name}' is longer than the ${e.size} bytes announced`);
    e.crc = zlib.crc32(bytes, e.crc);
    e.written += bytes.length;
    let done = 0;
    while (done < bytes.length) {
      const { bytesWritten } = await this.fd.write(bytes, done, bytes.length - done, this.offset);
      done += bytesWritten;
      this.offset += bytesWritten;
    }
  }

  /** Ends the open entry (its length must be the size announced) and patches its CRC. */
  async end(): Promise<void> {
    const e = this.open;
    if (!e) throw new Error('ZipFileWriter: no open entry');
    if (e.written !== e.size) throw new Error(`ZipFileWriter: entry '${e.name}' has ${e.written} of the ${e.size} bytes announced`);
    const crc = Buffer.alloc(4);
    crc.writeUInt32LE(e.crc, 0);
    await this.fd.write(crc, 0, 4, e.offset + 14);
    this.entries.push({ name: e.name, method: 0, crc: e.crc, size: e.size, compressedSize: e.size, offset: e.offset });
    this.open = null;
  }

  /** A whole entry at once. */
  async add(name: string, data: Uint8Array): Promise<void> {
    await this.begin(name, data.length);
    await this.write(data);
    await this.end();
  }

  /** Writes the central directory and the end records. */
  async finish(): Promise<void> {
    if (this.open) throw new Error(`ZipFileWriter: entry '${this.open.name}' is still open`);
    const tail = directoryAndEnd(this.entries, this.offset, !!this.options.forceZip64);
    await this.fd.write(tail, 0, tail.length, this.offset);
    this.offset += tail.length;
  }
}

/** The part of fs.promises.FileHandle the writer needs (positional writes). */
export interface FileLike {
  write(buffer: Uint8Array, offset: number, length: number, position: number): Promise<{ bytesWritten: number }>;
}
