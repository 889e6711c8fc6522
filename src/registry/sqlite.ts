/**
 * The embedded backend: one SQLite file through @libsql/client (its native binary ships inside the
 * npm package: nothing builds or downloads at install). One connection per process, WAL journal
 * (readers never block the writer), and a busy timeout so that a second process writing at the
 * same moment waits for the lock instead of failing; every write is one BEGIN IMMEDIATE transaction.
 */
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { createClient, type Client, type InValue } from '@libsql/client';
import { RegistryError } from '../errors.js';
import type { Query, Row, SqlDb } from './sql.js';

/** How long a writer waits for another process's transaction to finish before failing. */
export const SQLITE_BUSY_TIMEOUT_MS = 15000;

class SqliteDb implements SqlDb {
  readonly dialect = 'sqlite' as const;
  private queue: Promise<unknown> = Promise.resolve();
  constructor(private readonly client: Client, readonly location: string) {}

  query: Query = async (sql, args = []) => {
    const rs = await this.client.execute({ sql, args: args as InValue[] });
    return rs.rows.map((r) => ({ ...r }) as Row);
  };

  transaction<T>(fn: (q: Query) => Promise<T>): Promise<T> {
    // One transaction at a time on this process's connection; other processes wait on the file lock.
    const run = async (): Promise<T> => {
      const tx = await this.client.transaction('write');
      try {
        const out = await fn(async (sql, args = []) => (await tx.execute({ sql, args: args as InValue[] })).rows.map((r) => ({ ...r }) as Row));
        await tx.commit();
        return out;
      } catch (e) {
        await tx.rollback().catch(() => {});
        throw e;
      } finally {
        tx.close();
      }
    };
    const p = this.queue.then(run, run);
    this.queue = p.catch(() => {});
    return p;
  }

  async close(): Promise<void> {
    this.client.close();
  }
}

/** Opens (creating it and its folder when missing) the SQLite registry at `file`. */
export async function openSqlite(file: string): Promise<SqlDb> {
  const abs = path.resolve(file);
  try {
    fs.mkdirSync(path.dirname(abs), { recursive: true });
  } catch (e) {
    throw new RegistryError(`${abs}: cannot create the registry's folder (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  if (fs.existsSync(abs) && fs.statSync(abs).isDirectory()) throw new RegistryError(`${abs}: is a directory; give the registry a file path (e.g. ${path.join(abs, 'registry.db')})`);
  let client: Client;
  try {
    client = createClient({ url: pathToFileURL(abs).href, concurrency: 1, timeout: SQLITE_BUSY_TIMEOUT_MS });
    await client.execute(`PRAGMA busy_timeout = ${SQLITE_BUSY_TIMEOUT_MS}`);
    await client.execute('PRAGMA journal_mode = WAL');
  } catch (e) {
    throw new RegistryError(`${abs}: cannot open as a SQLite registry (${(e as Error).message.split('\n')[0]})`);
  }
  return new SqliteDb(client, abs);
}
