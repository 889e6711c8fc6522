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
import { packDataset, unpackDataset } from '../data/packed.js';
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
const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

/** A file to send: the model files by path, the data as loaded (its id is its `datasetHash`). */
export type FileToSend = { kind: 'model'; name: string; sha256: string; path: string } | { kind: 'data'; name: string; sha256: string; dataset: Dataset };

async function withClient<T>(url: string, f: (c: Redis) => Promise<T>): Promise<T> {
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

/** Puts the run's files in Redis (each once: a file already there is skipped); returns how many files and bytes were sent. */
export function sendFiles(url: string, run: string, files: readonly FileToSend[]): Promise<{ files: number; bytes: number }> {
  return withClient(url, async (c) => {
    let sent = 0;
    let total = 0;
    for (const f of new Map(files.map((x) => [x.sha256, x])).values()) {
      const key = keyOf(run, f.sha256);
      if ((await within(c.exists(`${key}:meta`), 10_000, url, 'sending files')) === 1) continue;
      let bytes: Buffer;
      try {
        bytes = f.kind === 'model' ? fs.readFileSync(f.path) : packDataset(f.dataset);
      } catch (e) {
        throw new ModelError(`${f.kind === 'model' ? f.path : f.name}: cannot read it to send it to workers (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
      }
      const chunks = Math.max(1, Math.ceil(bytes.length / CHUNK_BYTES));
      for (let i = 0; i < chunks; i++) await within(c.set(`${key}:${i}`, bytes.subarray(i * CHUNK_BYTES, (i + 1) * CHUNK_BYTES)), 30_000, url, `sending ${f.name}`);
      const meta: FileMeta = { kind: f.kind, name: f.name, bytes: bytes.length, chunks, chunk_bytes: CHUNK_BYTES, bytes_sha256: sha256(bytes) };
      await within(c.set(`${key}:meta`, JSON.stringify(meta)), 10_000, url, `sending ${f.name}`);
      sent++;
      total += bytes.length;
    }
    return { files: sent, bytes: total };
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
      if (fs.existsSync(dest) && sha256(fs.readFileSync(dest)) === file.sha256) return dest;
      const { bytes } = await this.fetch(run, file.sha256, `the run's model '${file.name}'`);
      if (sha256(bytes) !== file.sha256) throw new ModelError(`the run's model '${file.name}' fetched from redis at ${showUrl(this.url)} has sha256 ${sha256(bytes).slice(0, 12)}…, the run's is ${file.sha256.slice(0, 12)}…; not used`);
      this.put(dest, bytes);
      return dest;
    });
  }

  data(run: string, sha: string): Promise<Dataset> {
    return this.once(`d:${sha}`, async () => {
      const dest = path.join(this.dir(), `${sha}.gds`);
      if (fs.existsSync(dest)) {
        try {
          const ds = unpackDataset(fs.readFileSync(dest), dest);
          if (datasetHash(ds) === sha) return ds;
        } catch {
          // A damaged cache entry: fetched again below.
        }
      }
      const { bytes, meta } = await this.fetch(run, sha, "the run's data");
      const label = `the run's data (${meta.name}) fetched from redis at ${showUrl(this.url)}`;
      if (sha256(bytes) !== meta.bytes_sha256) throw new DataError(`${label}: its bytes have sha256 ${sha256(bytes).slice(0, 12)}…, the coordinator sent ${meta.bytes_sha256.slice(0, 12)}…; not used`);
      const ds = unpackDataset(bytes, label);
      const got = datasetHash(ds);
      if (got !== sha) throw new DataError(`${label}: has sha256 ${got.slice(0, 12)}…, the run's data is ${sha.slice(0, 12)}…; not used`);
      this.put(dest, bytes);
      return ds;
    });
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

  /** Writes `bytes` to `dest` through a temporary file in the same directory (atomic rename). */
  private put(dest: string, bytes: Uint8Array): void {
    const tmp = `${dest}.${process.pid}.${randomBytes(4).toString('hex')}.part`;
    try {
      fs.writeFileSync(tmp, bytes);
      fs.renameSync(tmp, dest);
    } catch (e) {
      fs.rmSync(tmp, { force: true });
      throw new ConfigError(`--cache ${this.cacheDir}: cannot write ${path.basename(dest)} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
    }
  }

  /** A file's bytes from Redis, chunk by chunk (each chunk one GET with a timeout; as many as its entry says). */
  private fetch(run: string, id: string, what: string): Promise<{ bytes: Buffer; meta: FileMeta }> {
    const url = this.url;
    return withClient(url, async (c) => {
      const key = keyOf(run, id);
      const raw = await within(c.get(`${key}:meta`), 10_000, url, `fetching ${what}`);
      if (raw === null) throw new ConfigError(`${what} (sha256 ${id.slice(0, 12)}…) is not in redis at ${showUrl(url)}: the run's coordinator has finished or removed it`);
      const meta = JSON.parse(raw) as FileMeta;
      if (!(Number.isInteger(meta.bytes) && meta.bytes >= 0 && meta.chunks === Math.max(1, Math.ceil(meta.bytes / meta.chunk_bytes)))) throw new ConfigError(`${what}: its entry in redis is damaged (${raw.slice(0, 200)})`);
      const parts: Buffer[] = [];
      for (let i = 0; i < meta.chunks; i++) {
        const b = await within(c.getBuffer(`${key}:${i}`), 60_000, url, `fetching ${what}`);
        if (b === null) throw new ConfigError(`${what}: chunk ${i + 1} of ${meta.chunks} is missing in redis at ${showUrl(url)} (the run's files were removed while this worker fetched them)`);
        parts.push(b);
      }
      const bytes = Buffer.concat(parts);
      if (bytes.length !== meta.bytes) throw new ConfigError(`${what}: ${bytes.length} bytes fetched from redis, its entry says ${meta.bytes}`);
      this.fetched.files++;
      this.fetched.bytes += bytes.length;
      return { bytes, meta };
    });
  }
}
