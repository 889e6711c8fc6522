#!/usr/bin/env node
/**
 * `npm install`'s prepare step: compiles with tsc unless dist/ is already up to date.
 *
 * Why: `npx gauntlet` in a clone finds the command in this package's own "bin" and (npm 7+)
 * installs the package into the npx cache as a link, which runs `prepare` again — so the first
 * `npx gauntlet` after `npm install` recompiled everything (6.6–30 s). Now prepare compiles only
 * when an input changed since the last successful build: a stamp (dist/.prepare-stamp) is written
 * after tsc succeeds and holds the newest input mtime; any input newer than that, a missing stamp
 * or a missing dist/src/cli/bin.js means compile. Inputs: everything under tsconfig's include
 * folders (src/, test/), tsconfig.json, package.json and package-lock.json. `npm run build` and
 * `npm test` always compile.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const INPUT_DIRS = ['src', 'test'];
const INPUT_FILES = ['tsconfig.json', 'package.json', 'package-lock.json'];
export const STAMP = path.join('dist', '.prepare-stamp');

/** Newest modification time (ms) of the build inputs under `root`. */
export function newestInput(root) {
  let newest = 0;
  const visit = (p) => {
    let st;
    try {
      st = fs.statSync(p);
    } catch {
      return;
    }
    newest = Math.max(newest, st.mtimeMs);
    if (st.isDirectory()) for (const e of fs.readdirSync(p)) visit(path.join(p, e));
  };
  for (const d of INPUT_DIRS) visit(path.join(root, d));
  for (const f of INPUT_FILES) visit(path.join(root, f));
  return newest;
}

/** Why `root` needs a compile, or null when dist/ is up to date. */
export function staleReason(root) {
  if (!fs.existsSync(path.join(root, 'dist', 'src', 'cli', 'bin.js'))) return 'dist/ is missing';
  let stamp;
  try {
    stamp = Number(fs.readFileSync(path.join(root, STAMP), 'utf8'));
  } catch {
    return 'no record of a successful build';
  }
  if (!Number.isFinite(stamp)) return 'no record of a successful build';
  return newestInput(root) > stamp ? 'sources changed since the last build' : null;
}

function main() {
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
  const reason = staleReason(root);
  if (reason === null && !process.argv.includes('--force')) return 0;
  const inputs = newestInput(root);
  const tsc = spawnSync(process.execPath, [path.join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', path.join(root, 'tsconfig.json')], { stdio: 'inherit' });
  if (tsc.status !== 0) return tsc.status ?? 1;
  fs.writeFileSync(path.join(root, STAMP), String(inputs));
  return 0;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) process.exitCode = main();
