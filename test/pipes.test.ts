import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { PassThrough, Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { endQuietlyOnClosedPipes, EXIT_IO } from '../src/cli/pipes.js';
import { cliBin } from './helpers.js';

/**
 * Runs the real CLI with the read end of stdout and/or stderr closed before the child writes
 * anything, as `gauntlet … | head -0` does; returns the exit code and what the open stream got.
 */
function runClosed(args: string[], close: { stdout?: boolean; stderr?: boolean }): Promise<{ code: number | null; signal: string | null; open: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [cliBin, ...args], { stdio: ['ignore', 'pipe', 'pipe'], timeout: 60_000 });
    let open = '';
    if (close.stdout) p.stdout.destroy();
    else p.stdout.on('data', (d) => (open += d));
    if (close.stderr) p.stderr.destroy();
    else p.stderr.on('data', (d) => (open += d));
    p.on('error', reject);
    p.on('close', (code, signal) => resolve({ code, signal, open }));
  });
}

describe('a reader that closes early ends the CLI quietly', () => {
  it('run --dry-run | head: exit 0 and no stack trace on stderr', async () => {
    const r = await runClosed(['run', '--dry-run'], { stdout: true });
    assert.equal(r.code, 0, r.open);
    assert.doesNotMatch(r.open, /EPIPE|Error|at .*\.js:\d+/);
  });

  for (const args of [['list'], ['--help'], ['eval', '--help'], ['eval', '--limit', '20']]) {
    it(`gauntlet ${args.join(' ')} with stdout closed: exit 0, stderr quiet`, async () => {
      const r = await runClosed(args, { stdout: true });
      assert.equal(r.code, 0, r.open);
      assert.doesNotMatch(r.open, /EPIPE|internal error|at .*\.js:\d+/);
    });
  }

  it('stderr closed on a bad input: the verb still exits 2 (the diagnostic is lost, not the code)', async () => {
    const r = await runClosed(['run', '--dry-run', '--data', '/nonexistent/data.npz'], { stderr: true });
    assert.equal(r.code, 2);
    assert.equal(r.open, '');
  });

  it('both streams closed (2>&1 | head): bad input still exits 2, good input exits 0', async () => {
    assert.equal((await runClosed(['eval', '--data', '/nonexistent/data.npz'], { stdout: true, stderr: true })).code, 2);
    assert.equal((await runClosed(['eval', '--limit', '20'], { stdout: true, stderr: true })).code, 0);
  });
});

describe('endQuietlyOnClosedPipes', () => {
  const failing = (code: string): Writable =>
    new Writable({
      write(_c, _e, cb) {
        cb(Object.assign(new Error(`write ${code}`), { code }));
      },
    });

  it('stdout EPIPE exits 0; stderr EPIPE is swallowed; other stdout errors exit EX_IOERR with one line', async () => {
    const exits: number[] = [];
    const err = new PassThrough();
    let said = '';
    err.on('data', (d) => (said += d));
    const out = failing('EPIPE');
    endQuietlyOnClosedPipes(out, err, (c) => exits.push(c));
    out.write('x');
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(exits, [0]);

    const exits2: number[] = [];
    const err2 = failing('EPIPE');
    endQuietlyOnClosedPipes(new PassThrough(), err2, (c) => exits2.push(c));
    err2.write('x');
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(exits2, []);

    const exits3: number[] = [];
    const out3 = failing('EIO');
    endQuietlyOnClosedPipes(out3, err, (c) => exits3.push(c));
    out3.write('x');
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(exits3, [EXIT_IO]);
    assert.match(said, /^gauntlet: cannot write to stdout \(EIO\)\n$/);
  });
});
