/**
 * The queue's Redis: URLs, connection options with bounded retries and timeouts, and a watchdog
 * that says when Redis has been unreachable for too long. Every connection Gauntlet opens gives up
 * after a bounded number of reconnection tries; nothing waits on Redis forever.
 */
import type { ConnectionOptions } from 'bullmq';
import { Redis, type RedisOptions } from 'ioredis';
import { QueueUnavailableError, UsageError } from '../errors.js';

/** The one BullMQ queue every run's cells go through (jobs are named by run key and cell hash). */
export const QUEUE_NAME = 'gauntlet-cells';

/** How long Redis may be unreachable before a coordinator or worker stops. */
export const UNREACHABLE_MS = 15_000;

/**
 * Connection options from a queue URL: `redis://[user:password@]HOST[:PORT][/DB]` (port 6379, db 0
 * by default) or `unix:///PATH/redis.sock[?db=N]`.
 */
export function redisOptions(url: string): RedisOptions {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new UsageError(`'--queue' must be redis://HOST:PORT[/DB] or unix:///PATH.sock, got '${url}'`);
  }
  const base: RedisOptions = {
    connectTimeout: 5000,
    maxRetriesPerRequest: null,
    // Bounded: about 10 s of reconnection tries, then the connection ends and its commands fail.
    retryStrategy: (times) => (times > 10 ? null : Math.min(200 * times, 1500)),
    lazyConnect: false,
  };
  if (u.protocol === 'unix:') {
    const db = u.searchParams.get('db');
    if (!u.pathname) throw new UsageError(`'--queue' unix:// needs a socket path, got '${url}'`);
    return { ...base, path: decodeURIComponent(u.pathname), db: db === null ? 0 : dbNumber(db, url) };
  }
  if (u.protocol !== 'redis:') throw new UsageError(`'--queue' must be redis://HOST:PORT[/DB] or unix:///PATH.sock, got '${url}'`);
  const db = u.pathname.replace(/^\//, '');
  return {
    ...base,
    host: u.hostname.replace(/^\[|\]$/g, '') || '127.0.0.1',
    port: u.port ? Number(u.port) : 6379,
    db: db ? dbNumber(db, url) : 0,
    ...(u.username ? { username: decodeURIComponent(u.username) } : {}),
    ...(u.password ? { password: decodeURIComponent(u.password) } : {}),
  };
}

function dbNumber(s: string, url: string): number {
  if (!/^\d+$/.test(s) || Number(s) > 15) throw new UsageError(`'--queue' database must be an integer in [0, 15], got '${s}' in '${url}'`);
  return Number(s);
}

/** The URL with its password hidden, for messages. */
export function showUrl(url: string): string {
  return url.replace(/\/\/([^:@/]*):[^@/]*@/, '//$1:***@');
}

/** Rejects with a QueueUnavailableError when `p` takes longer than `ms`. */
export async function within<T>(p: Promise<T>, ms: number, url: string, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new QueueUnavailableError(`redis at ${showUrl(url)}: unreachable: no answer in ${ms / 1000} s while ${what}`)), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Pings Redis every `everyMs`; `onLost` is called once when no ping has succeeded for `limitMs`
 * (each ping itself times out after `everyMs`). `stop()` ends it and closes its connection.
 */
export function watchdog(url: string, onLost: (e: QueueUnavailableError) => void, { everyMs = 1000, limitMs = UNREACHABLE_MS } = {}): { stop: () => void } {
  const client = new Redis({ ...redisOptions(url), retryStrategy: (times) => Math.min(200 * times, 1000), lazyConnect: false });
  let lastError = '';
  client.on('error', (e: Error) => (lastError = e.message));
  let lastOk = Date.now();
  let fired = false;
  const timer = setInterval(() => {
    void within(client.ping(), everyMs, url, 'pinging')
      .then(() => (lastOk = Date.now()))
      .catch((e: Error) => {
        lastError = lastError || e.message;
        if (!fired && Date.now() - lastOk > limitMs) {
          fired = true;
          onLost(new QueueUnavailableError(`redis at ${showUrl(url)}: unreachable for ${Math.round(limitMs / 1000)} s (${lastError || e.message})`));
        }
      });
  }, everyMs);
  timer.unref();
  return {
    stop() {
      clearInterval(timer);
      client.disconnect();
    },
  };
}

/** The same options, typed as BullMQ takes them (it passes them on to ioredis). */
export function bullConnection(url: string): ConnectionOptions {
  return redisOptions(url) as unknown as ConnectionOptions;
}
