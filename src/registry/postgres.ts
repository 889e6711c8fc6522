/**
 * The team backend: PostgreSQL through `pg` (node-postgres, pure JavaScript). A small pool; every
 * write is one transaction; migrations take an advisory lock (src/registry/sql.ts). Connecting gives
 * up after `PG_CONNECT_TIMEOUT_MS`, so an unreachable server costs a run seconds, not minutes.
 */
import pg from 'pg';
import { RegistryError } from '../errors.js';
import type { Query, Row, SqlDb } from './sql.js';

export const PG_CONNECT_TIMEOUT_MS = 5000;

/** `?` placeholders → `$1, $2 …` (the registry's statements hold no literal '?'). */
export function numberPlaceholders(sql: string): string {
  let i = 0;
  return sql.replace(/\?/g, () => `$${++i}`);
}

/** The URL without its password, for messages. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return url.replace(/:[^:@/]*@/, ':***@');
  }
}

class PgDb implements SqlDb {
  readonly dialect = 'postgres' as const;
  constructor(private readonly pool: pg.Pool, readonly location: string) {}

  query: Query = async (sql, args = []) => (await this.pool.query(numberPlaceholders(sql), args as unknown[])).rows as Row[];

  async transaction<T>(fn: (q: Query) => Promise<T>): Promise<T> {
    const c = await this.pool.connect();
    try {
      await c.query('BEGIN');
      const out = await fn(async (sql, args = []) => (await c.query(numberPlaceholders(sql), args as unknown[])).rows as Row[]);
      await c.query('COMMIT');
      return out;
    } catch (e) {
      await c.query('ROLLBACK').catch(() => {});
      throw e;
    } finally {
      c.release();
    }
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}

/** Connects to the PostgreSQL registry at `url` (postgres://user:pass@host:port/db, or ?host=/socket/dir). */
export async function openPostgres(url: string): Promise<SqlDb> {
  const location = redactUrl(url);
  const pool = new pg.Pool({ connectionString: url, max: 2, connectionTimeoutMillis: PG_CONNECT_TIMEOUT_MS, idleTimeoutMillis: 1000 });
  pool.on('error', () => {}); // an idle client's error surfaces on the next query instead of crashing the process
  try {
    await pool.query('SELECT 1');
  } catch (e) {
    await pool.end().catch(() => {});
    throw new RegistryError(`${location}: cannot connect to the PostgreSQL registry (${(e as Error).message.split('\n')[0]})`);
  }
  return new PgDb(pool, location);
}
