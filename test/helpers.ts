import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import os from 'node:os';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

/** Repository root (tests compile to dist/test/, two levels down). */
export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Path of a committed fixture under test/fixtures/. */
export function fixture(...parts: string[]): string {
  return path.join(repoRoot, 'test', 'fixtures', ...parts);
}

/** A fresh temporary directory, removed when the process exits. */
export function tmpDir(prefix = 'gauntlet-test-'): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** `fresh()` makes a new empty folder under one temporary directory (made once per call of this). */
export function scratchDirs(prefix = 'gauntlet-test-'): () => string {
  const root = tmpDir(prefix);
  let count = 0;
  return () => {
    const dir = path.join(root, String(count++));
    fs.mkdirSync(dir);
    return dir;
  };
}

/** The built CLI (tests run after `tsc`). */
export const cliBin = path.join(repoRoot, 'dist', 'src', 'cli', 'bin.js');

/** One CLI run: exit code, output, and the last stdout line parsed as JSON (null when it is not JSON). */
export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
  json: Record<string, any> | null;
}

export interface CliOptions {
  cwd?: string;
  /** Kill the run after this many ms (default: no limit). */
  timeout?: number;
}

function cliRun(code: number | null, stdout: string, stderr: string): CliRun {
  let json: Record<string, any> | null = null;
  try {
    json = JSON.parse(stdout.trim().split('\n').at(-1)!) as Record<string, any>;
  } catch {
    json = null;
  }
  return { code, stdout, stderr, json };
}

/** Runs `gauntlet ARGS…` synchronously. */
export function runCli(args: string[], opts: CliOptions = {}): CliRun {
  const r = spawnSync(process.execPath, [cliBin, ...args], { encoding: 'utf8', cwd: opts.cwd, timeout: opts.timeout });
  return cliRun(r.status, r.stdout, r.stderr);
}

/** Runs `gauntlet ARGS…` without blocking the test process (for long runs). */
export function runCliAsync(args: string[], opts: CliOptions = {}): Promise<CliRun> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [cliBin, ...args], { cwd: opts.cwd, timeout: opts.timeout });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    p.on('close', (code) => resolve(cliRun(code, stdout, stderr)));
  });
}

/** The last stdout line, which must be JSON. */
export function lastJson(stdout: string): Record<string, any> {
  return JSON.parse(stdout.trim().split('\n').at(-1)!) as Record<string, any>;
}

/**
 * Bad input: exit 2 and exactly one line on stderr, no stack trace; the line is
 * `gauntlet: MESSAGE` (a string) or matches a pattern.
 */
export function assertBadInput(r: CliRun, expected: string | RegExp): void {
  assert.equal(r.code, 2, `exit code ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  const lines = r.stderr.trimEnd().split('\n');
  assert.equal(lines.length, 1, `one stderr line, got: ${r.stderr}`);
  if (typeof expected === 'string') assert.equal(lines[0], `gauntlet: ${expected}`);
  else assert.match(lines[0]!, expected);
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
}

/** An HTTP receiver on a free loopback port that keeps the JSON body of every POST (alert webhooks), at `url` (path `urlPath`). */
export async function webhook(urlPath = '/hook'): Promise<{ url: string; received: any[]; close: () => Promise<void> }> {
  const received: any[] = [];
  const hook = http.createServer((req, res) => {
    let b = '';
    req.on('data', (d) => (b += d));
    req.on('end', () => {
      received.push(JSON.parse(b));
      res.end('ok');
    });
  });
  await new Promise<void>((r) => hook.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(hook.address() as AddressInfo).port}${urlPath}`, received, close: () => new Promise((r) => hook.close(() => r())) };
}
