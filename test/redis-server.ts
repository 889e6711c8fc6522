/**
 * A real redis-server for the queue tests (Debian's `redis-server`; .ci/run installs it): a child
 * process on a unix socket in a temporary directory, no persistence, killed by `stop()` and, with
 * every other child started here, when the test file ends. Every wait is bounded.
 */
import { after } from 'node:test';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { cliBin } from './helpers.js';

/** Why the queue tests cannot run here (a skip reason), or false. CI installs redis-server: there a missing server is a failure, not a skip. */
export const noRedis: string | false =
  spawnSync('redis-server', ['--version']).status !== 0 && !process.env.CI ? 'redis-server is not installed (apt-get install redis-server; .ci/run installs it)' : false;

const children: ChildProcess[] = [];
after(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

export interface Proc {
  p: ChildProcess;
  out: () => string;
  exited: Promise<number | null>;
}

/** Starts a child process (killed when the test file ends), collecting its stdout and stderr. */
export function start(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): Proc {
  const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env });
  children.push(p);
  let out = '';
  p.stdout!.on('data', (d) => (out += d));
  p.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((resolve) => p.on('close', (code) => resolve(code)));
  return { p, out: () => out, exited };
}

/** The CLI as a child process. */
export const gauntlet = (...args: string[]): Proc => start(process.execPath, [cliBin, ...args]);

/** Polls `f` every 100 ms until it is true, for at most `ms`. */
export async function until(f: () => boolean, ms: number, what: string): Promise<void> {
  const t0 = Date.now();
  while (!f()) {
    if (Date.now() - t0 > ms) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** A redis-server on a unix socket in `dir`, answering before this returns. */
export async function redis(dir: string): Promise<{ url: (db: number) => string; stop: () => Promise<void> }> {
  const sock = path.join(dir, 'redis.sock');
  const r = start('redis-server', ['--port', '0', '--unixsocket', sock, '--unixsocketperm', '700', '--save', '', '--appendonly', 'no', '--dir', dir]);
  await until(() => fs.existsSync(sock) && /ready to accept connections/i.test(r.out()), 10_000, 'redis-server');
  return {
    url: (db) => `unix://${sock}?db=${db}`,
    stop: async () => {
      r.p.kill('SIGKILL');
      await r.exited;
    },
  };
}
