/**
 * A real PostgreSQL for the registry tests: Debian's server binaries (/usr/lib/postgresql/<v>/bin),
 * a fresh cluster in a temporary directory, listening only on a unix socket in that directory (no
 * TCP port), stopped and deleted afterwards. Run as the `postgres` user when the tests run as root
 * (PostgreSQL refuses to run as root). Every wait is bounded (pg_ctl -w -t).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** The newest installed server's bin directory, or null. */
export function postgresBin(): string | null {
  const root = '/usr/lib/postgresql';
  if (!fs.existsSync(root)) return null;
  const versions = fs.readdirSync(root).filter((v) => fs.existsSync(path.join(root, v, 'bin', 'initdb'))).sort((a, b) => Number(b) - Number(a));
  return versions.length ? path.join(root, versions[0]!, 'bin') : null;
}

/** Why the PostgreSQL tests cannot run here (a skip reason), or false. */
export function noPostgres(): string | false {
  if (!postgresBin()) return 'PostgreSQL server binaries not found under /usr/lib/postgresql: apt-get install postgresql (.ci/run does)';
  if (process.getuid?.() === 0 && spawnSync('id', ['-u', 'postgres']).status !== 0) return "running as root and there is no 'postgres' user to run the server as";
  return false;
}

export interface PgServer {
  /** postgres://postgres@/postgres?host=<socket dir> */
  url: string;
  dir: string;
  stop(): void;
}

/** Starts a throwaway cluster; `stop()` shuts it down (fast) and removes its directory. */
export function startPostgres(): PgServer {
  const bin = postgresBin()!;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gauntlet-pg-'));
  const asRoot = process.getuid?.() === 0;
  const run = (exe: string, args: string[]) => {
    const cmd = asRoot ? ['runuser', ['-u', 'postgres', '--', path.join(bin, exe), ...args]] as const : [path.join(bin, exe), args] as const;
    return execFileSync(cmd[0], [...cmd[1]], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 60000 });
  };
  if (asRoot) {
    const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
    fs.chownSync(dir, uid, gid);
  }
  const data = path.join(dir, 'data');
  let started = false;
  const stop = () => {
    try {
      if (started) run('pg_ctl', ['-D', data, '-m', 'fast', '-w', '-t', '30', 'stop']);
    } catch {
      // already stopped
    }
    started = false;
    fs.rmSync(dir, { recursive: true, force: true });
  };
  try {
    run('initdb', ['-D', data, '-U', 'postgres', '-A', 'trust', '--no-sync', '-E', 'UTF8']);
    run('pg_ctl', ['-D', data, '-l', path.join(dir, 'log'), '-w', '-t', '60', '-o', `-k ${dir} -c listen_addresses= -c fsync=off`, 'start']);
    started = true;
  } catch (e) {
    const log = fs.existsSync(path.join(dir, 'log')) ? fs.readFileSync(path.join(dir, 'log'), 'utf8').slice(-2000) : '';
    stop();
    throw new Error(`could not start PostgreSQL: ${(e as Error).message}\n${log}`);
  }
  process.on('exit', stop);
  return { url: `postgres://postgres@/postgres?host=${encodeURIComponent(dir)}`, dir, stop };
}
