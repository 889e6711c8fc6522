/**
 * A run's files through Redis, for workers that do not share the coordinator's filesystem
 * (`gauntlet run --queue URL --send-files`). The coordinator puts each model file (the base model,
 * every variant and training-time model) and the loaded dataset (packed, `data/packed.ts`) in
 * Redis under the run's key, in chunks of at most CHUNK_BYTES, the chunks first and the entry's
 * description last, so a worker never sees half a file. A worker (`RedisFiles`) fetches each once,
 * verifies it — a model file's sha256 must be the run's, a dataset's `datasetHash` the run's — and
 * keeps it in its cache directory (`gauntlet worker --cache DIR`) by hash, where later runs find
 * it without Redis. A hash that does not match fails the cell at once with one line. The
 * coordinator removes its run's files with its jobs when the run is done (`gauntlet queue clean`
 * too).
 */
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import type { RemoteFiles, RemoteModelFile } from '../campaign/remote.js';
import { datasetHash, type Dataset } from '../data/dataset.js';
import { packedPieces, unpackDatasetFile } from '../data/packed.js';
import { ConfigError, DataError, ModelError, QueueUnavailableError } from '../errors.js';
import { redisOptions, showUrl, within } from './connection.js';

/** The largest piece of a file one Redis value holds (Redis allows 512 MB; smaller keeps each command short). */
export const CHUNK_BYTES = 1 << 20;

/** What a file's entry says about it. */
interface FileMeta {
  kind: 'model' | 'data';
  name: string;
  bytes: number;
  chunks: number;
  chunk_bytes: number;
  /** sha256 of the bytes sent (for a model, its sha256; for data, of the packed bytes). */
  bytes_sha256: string;
}

const keyOf = (run: string, id: string) => `gauntlet-files:${run}:${id}`;
/** Trained models a worker sends back (`putTrained`) live under this pseudo-run, by their variant key. */
const TRAINED = 'trained';

/** A file to send: the model files by path, the data as loaded (its id is its `datasetHash`). */
export type FileToSend = { kind: 'model'; name: string; sha256: string; path: string } | { kind: 'data'; name: string; sha256: string; dataset: Dataset };

/** sha256 of a file, read in pieces. */
export async function fileSha256(file: string): Promise<string> {
  const h = createHash('sha256');
  for await (const piece of fileChunks(file)) h.update(piece);
  return h.digest('hex');
}

/** A file's bytes in pieces of CHUNK_BYTES (one buffer, reused: each piece is valid until the next is asked for). */
async function* fileChunks(file: string): AsyncGenerator<Buffer> {
  const fh = await fs.promises.open(file, 'r');
  try {
    const buf = Buffer.allocUnsafe(CHUNK_BYTES);
    for (;;) {
      const { bytesRead } = await fh.read(buf, 0, CHUNK_BYTES, null);
      if (bytesRead === 0) return;
      yield buf.subarray(0, bytesRead);
    }
  } finally {
    await fh.close();
  }
}

export async function withClient<T>(url: string, f: (c: Redis) => Promise<T>): Promise<T> {
  const client = new Redis({ ...redisOptions(url), lazyConnect: true });
  let lastError = '';
  client.on('error', (e: Error) => (lastError = e.message));
  try {
    await within(client.connect(), 10_000, url, 'connecting');
    return await f(client);
  } catch (e) {
    if (e instanceof QueueUnavailableError || e instanceof ConfigError || e instanceof DataError || e instanceof ModelError) throw e;
    throw new QueueUnavailableError(`redis at ${showUrl(url)}: unreachable (${(e as Error).message}${lastError && lastError !== (e as Error).message ? `; ${lastError}` : ''})`);
  } finally {
    client.disconnect();
  }
}

/**
 * Puts `pieces` under `key` as chunks of exactly CHUNK_BYTES (the last one shorter), one SET each,
 * hashing as it goes, and the entry's description last: the process holds one chunk at a time,
 * whatever the file's size.
 */
async function putChunks(c: Redis, url: string, key: string, pieces: AsyncIterable<Uint8Array> | Iterable<Uint8Array>, what: { kind: FileMeta['kind']; name: string }, ttlSeconds = 0): Promise<FileMeta> {
  const h = createHash('sha256');
  const chunk = Buffer.allocUnsafe(CHUNK_BYTES);
  let fill = 0;
  let chunks = 0;
  let bytes = 0;
  const flush = async () => {
    const k = `${key}:${chunks++}`;
    await within(ttlSeconds ? c.set(k, chunk.subarray(0, fill), 'EX', ttlSeconds) : c.set(k, chunk.subarray(0, fill)), 30_000, url, `sending ${what.name}`);
    fill = 0;
  };
  for await (const piece of pieces) {
    h.update(piece);
    bytes += piece.length;
    for (let o = 0; o < piece.length; ) {
      const n = Math.min(CHUNK_BYTES - fill, piece.length - o);
      chunk.set(piece.subarray(o, o + n), fill);
      fill += n;
      o += n;
      if (fill === CHUNK_BYTES) await flush();
    }
  }
  if (fill > 0 || chunks === 0) await flush();
  const meta: FileMeta = { ...what, bytes, chunks, chunk_bytes: CHUNK_BYTES, bytes_sha256: h.digest('hex') };
  await within(ttlSeconds ? c.set(`${key}:meta`, JSON.stringify(meta), 'EX', ttlSeconds) : c.set(`${key}:meta`, JSON.stringify(meta)), 10_000, url, `sending ${what.name}`);
  return meta;
}

/**
 * Writes the file under `key` to `dest` chunk by chunk (each chunk one GET with a timeout; as many
 * as its entry says), hashing as it goes; returns its entry and the sha256 of the bytes written.
 */
async function getChunks(c: Redis, url: string, key: string, what: string, dest: string): Promise<{ meta: FileMeta; sha256: string }> {
  const raw = await within(c.get(`${key}:meta`), 10_000, url, `fetching ${what}`);
  if (raw === null) throw new ConfigError(`${what} is not in redis at ${showUrl(url)}: the run's coordinator has finished or removed it`);
  const meta = JSON.parse(raw) as FileMeta;
  if (!(Number.isInteger(meta.bytes) && meta.bytes >= 0 && meta.chunks === Math.max(1, Math.ceil(meta.bytes / meta.chunk_bytes)))) throw new ConfigError(`${what}: its entry in redis is damaged (${raw.slice(0, 200)})`);
  const h = createHash('sha256');
  let bytes = 0;
  const cannot = (e: unknown) => new ConfigError(`${dest}: cannot write ${what} there (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  const fh = await fs.promises.open(dest, 'w').catch((e: unknown) => {
    throw cannot(e);
  });
  try {
    for (let i = 0; i < meta.chunks; i++) {
      const b = await within(c.getBuffer(`${key}:${i}`), 60_000, url, `fetching ${what}`);
      if (b === null) throw new ConfigError(`${what}: chunk ${i + 1} of ${meta.chunks} is missing in redis at ${showUrl(url)} (the run's files were removed while this worker fetched them)`);
      h.update(b);
      bytes += b.length;
      await fh.write(b).catch((e: unknown) => {
        throw cannot(e);
      });
    }
  } finally {
    await fh.close();
  }
  if (bytes !== meta.bytes) throw new ConfigError(`${what}: ${bytes} bytes fetched from redis, its entry says ${meta.bytes}`);
  return { meta, sha256: h.digest('hex') };
}

/** A temporary name beside `dest` (renamed into place once verified). */
const partName = (dest: string) => `${dest}.${process.pid}.${randomBytes(4).toString('hex')}.part`;

/**
 * Puts the run's files in Redis (each once: a file already there is skipped), streamed: a model
 * file read from disk and the dataset packed from its arrays, one chunk at a time; returns how
 * many files and bytes were sent.
 */
export function sendFiles(url: string, run: string, files: readonly FileToSend[]): Promise<{ files: number; bytes: number }> {
  return withClient(url, async (c) => {
    let sent = 0;
    let total = 0;
    for (const f of new Map(files.map((x) => [x.sha256, x])).values()) {
      const key = keyOf(run, f.sha256);
      if ((await within(c.exists(`${key}:meta`), 10_000, url, 'sending files')) === 1) continue;
      let meta: FileMeta;
      try {
        meta = await putChunks(c, url, key, f.kind === 'model' ? fileChunks(f.path) : packedPieces(f.dataset, CHUNK_BYTES), { kind: f.kind, name: f.name });
      } catch (e) {
        if (e instanceof QueueUnavailableError || !(e as NodeJS.ErrnoException).code || f.kind !== 'model') throw e;
        throw new ModelError(`${f.path}: cannot read it to send it to workers (${(e as NodeJS.ErrnoException).code})`);
      }
      if (f.kind === 'model' && meta.bytes_sha256 !== f.sha256) throw new ModelError(`${f.path}: changed since the run opened it (sha256 ${meta.bytes_sha256.slice(0, 12)}…, was ${f.sha256.slice(0, 12)}…)`);
      sent++;
      total += meta.bytes;
    }
    return { files: sent, bytes: total };
  });
}

/**
 * A worker sends a model it trained back to the coordinator: the file under its variant key (kept
 * a day at most, in case no coordinator collects it), streamed from disk; returns its size and sha256.
 */
export function putTrained(url: string, key: string, file: string, name: string): Promise<{ bytes: number; sha256: string }> {
  return withClient(url, async (c) => {
    const meta = await putChunks(c, url, keyOf(TRAINED, key), fileChunks(file), { kind: 'model', name }, 24 * 3600);
    return { bytes: meta.bytes, sha256: meta.bytes_sha256 };
  });
}

/**
 * The coordinator collects a trained model (`putTrained`) into the file `tmp`, chunk by chunk; it
 * stays there only when its sha256 is `sha` (the caller renames it into place). Returns its size.
 */
export function fetchTrained(url: string, key: string, sha: string, tmp: string, name: string): Promise<number> {
  return withClient(url, async (c) => {
    try {
      const got = await getChunks(c, url, keyOf(TRAINED, key), `the model trained for '${name}'`, tmp);
      if (got.sha256 !== sha) throw new ModelError(`the model trained for '${name}' fetched from redis at ${showUrl(url)} has sha256 ${got.sha256.slice(0, 12)}…, its worker sent ${sha.slice(0, 12)}…; not used`);
      return got.meta.bytes;
    } catch (e) {
      fs.rmSync(tmp, { force: true });
      throw e;
    }
  });
}

/** Removes a trained model's chunks (once the coordinator has it in its variant cache). */
export function removeTrained(url: string, key: string): Promise<number> {
  return withClient(url, async (c) => {
    const raw = await within(c.get(`${keyOf(TRAINED, key)}:meta`), 10_000, url, 'removing a trained model');
    if (raw === null) return 0;
    const { chunks } = JSON.parse(raw) as FileMeta;
    const keys = [`${keyOf(TRAINED, key)}:meta`, ...Array.from({ length: chunks }, (_, i) => `${keyOf(TRAINED, key)}:${i}`)];
    let removed = 0;
    for (let i = 0; i < keys.length; i += 1000) removed += await within(c.del(...keys.slice(i, i + 1000)), 10_000, url, 'removing a trained model');
    return removed;
  });
}

/** Removes a run's files from Redis; returns how many keys were removed. Bounded: at most `maxScans` SCAN calls. */
export function removeFiles(url: string, run: string, maxScans = 10_000): Promise<number> {
  return withClient(url, async (c) => {
    let cursor = '0';
    let removed = 0;
    for (let n = 0; n < maxScans; n++) {
      const [next, keys] = await within(c.scan(cursor, 'MATCH', `${keyOf(run, '')}*`, 'COUNT', 1000), 10_000, url, 'removing files');
      if (keys.length) removed += await within(c.del(...keys), 10_000, url, 'removing files');
      cursor = next;
      if (cursor === '0') break;
    }
    return removed;
  });
}

/** The default worker cache: $XDG_CACHE_HOME/gauntlet/files, ~/.cache/gauntlet/files, or the temporary directory's gauntlet-files. */
export function defaultCacheDir(): string {
  if (process.env.XDG_CACHE_HOME) return path.join(process.env.XDG_CACHE_HOME, 'gauntlet', 'files');
  const home = os.homedir();
  return home ? path.join(home, '.cache', 'gauntlet', 'files') : path.join(os.tmpdir(), 'gauntlet-files');
}

/**
 * A worker's `RemoteFiles` over Redis, with a local cache by hash: `<cache>/<sha256>.onnx` for
 * models, `<cache>/<datasetHash>.gds` for data. A cached file is verified before it is used; one
 * that does not verify is fetched again. Each file is fetched once per process however many jobs
 * ask for it at once; a fetch writes a temporary file and renames it, so processes sharing a cache
 * never see half a file.
 */
export class RedisFiles implements RemoteFiles {
  private readonly inFlight = new Map<string, Promise<unknown>>();
  /** Files fetched from Redis (not found in the cache), and their bytes. */
  readonly fetched = { files: 0, bytes: 0 };

  constructor(
    readonly url: string,
    readonly cacheDir: string = defaultCacheDir(),
  ) {}

  model(run: string, file: RemoteModelFile): Promise<string> {
    return this.once(`m:${file.sha256}`, async () => {
      const dest = path.join(this.dir(), `${file.sha256}.onnx`);
      if (fs.existsSync(dest) && (await fileSha256(dest)) === file.sha256) return dest;
      const tmp = partName(dest);
      try {
        const got = await this.fetch(run, file.sha256, `the run's model '${file.name}'`, tmp);
        if (got.sha256 !== file.sha256) throw new ModelError(`the run's model '${file.name}' fetched from redis at ${showUrl(this.url)} has sha256 ${got.sha256.slice(0, 12)}…, the run's is ${file.sha256.slice(0, 12)}…; not used`);
        this.rename(tmp, dest);
      } finally {
        fs.rmSync(tmp, { force: true });
      }
      return dest;
    });
  }

  data(run: string, sha: string): Promise<Dataset> {
    return this.once(`d:${sha}`, async () => {
      const dest = path.join(this.dir(), `${sha}.gds`);
      if (fs.existsSync(dest)) {
        try {
          const ds = unpackDatasetFile(dest, dest);
          if (datasetHash(ds) === sha) return ds;
        } catch {
          // A damaged cache entry: fetched again below.
        }
      }
      const tmp = partName(dest);
      try {
        const got = await this.fetch(run, sha, "the run's data", tmp);
        const label = `the run's data (${got.meta.name}) fetched from redis at ${showUrl(this.url)}`;
        if (got.sha256 !== got.meta.bytes_sha256) throw new DataError(`${label}: its bytes have sha256 ${got.sha256.slice(0, 12)}…, the coordinator sent ${got.meta.bytes_sha256.slice(0, 12)}…; not used`);
        const ds = unpackDatasetFile(tmp, label);
        const hash = datasetHash(ds);
        if (hash !== sha) throw new DataError(`${label}: has sha256 ${hash.slice(0, 12)}…, the run's data is ${sha.slice(0, 12)}…; not used`);
        this.rename(tmp, dest);
        return ds;
      } finally {
        fs.rmSync(tmp, { force: true });
      }
    });
  }

  /**
   * Keeps a model file this worker made (a model it trained) in the cache by its sha256, so that
   * this worker's cells of that model do not fetch it back through Redis.
   */
  adopt(file: string, sha: string): void {
    const dest = path.join(this.dir(), `${sha}.onnx`);
    if (fs.existsSync(dest)) return;
    const tmp = partName(dest);
    try {
      fs.copyFileSync(file, tmp);
      this.rename(tmp, dest);
    } finally {
      fs.rmSync(tmp, { force: true });
    }
  }

  private once<T>(key: string, f: () => Promise<T>): Promise<T> {
    let p = this.inFlight.get(key) as Promise<T> | undefined;
    if (!p) {
      p = f().finally(() => this.inFlight.delete(key));
      this.inFlight.set(key, p);
    }
    return p;
  }

  private dir(): string {
    try {
      fs.mkdirSync(this.cacheDir, { recursive: true });
      fs.accessSync(this.cacheDir, fs.constants.W_OK);
    } catch (e) {
      throw new ConfigError(`--cache ${this.cacheDir}: cannot write there (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
    }
    return this.cacheDir;
  }

  /** Puts a verified temporary file into place (atomic rename in the same directory). */
  private rename(tmp: string, dest: string): void {
    try {
      fs.renameSync(tmp, dest);
    } catch (e) {
      throw new ConfigError(`--cache ${this.cacheDir}: cannot write ${path.basename(dest)} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
    }
  }

  /** A file from Redis into `tmp`, chunk by chunk, hashed as it is written (at most one chunk in memory). */
  private async fetch(run: string, id: string, what: string, tmp: string): Promise<{ meta: FileMeta; sha256: string }> {
    const got = await withClient(this.url, (c) => getChunks(c, this.url, keyOf(run, id), `${what} (sha256 ${id.slice(0, 12)}…)`, tmp));
    this.fetched.files++;
    this.fetched.bytes += got.meta.bytes;
    return got;
  }
}
