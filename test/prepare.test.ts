import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, it } from 'node:test';
import { repoRoot, tmpDir } from './helpers.js';

interface Prepare {
  staleReason(root: string): string | null;
  newestInput(root: string): number;
  STAMP: string;
}
const script: string = path.join(repoRoot, 'scripts', 'prepare.mjs');
const load = (): Promise<Prepare> => import(pathToFileURL(script).href) as Promise<Prepare>;

/** A tiny project tree: src/a.ts, tsconfig.json, package.json, and optionally a built dist/. */
function project(built: boolean): string {
  const root = tmpDir('gauntlet-prepare-');
  fs.mkdirSync(path.join(root, 'src'));
  fs.writeFileSync(path.join(root, 'src', 'a.ts'), 'export const a = 1;\n');
  fs.writeFileSync(path.join(root, 'tsconfig.json'), '{}');
  fs.writeFileSync(path.join(root, 'package.json'), '{}');
  const old = new Date(Date.now() - 60_000);
  for (const f of ['src/a.ts', 'src', 'tsconfig.json', 'package.json']) fs.utimesSync(path.join(root, f), old, old);
  if (built) {
    fs.mkdirSync(path.join(root, 'dist', 'src', 'cli'), { recursive: true });
    fs.writeFileSync(path.join(root, 'dist', 'src', 'cli', 'bin.js'), '');
  }
  return root;
}

describe('prepare compiles only when dist/ is stale (so the first npx gauntlet does not recompile)', () => {
  it('missing dist, missing stamp, fresh stamp, then an edited source', async () => {
    const { staleReason, newestInput, STAMP } = await load();
    assert.equal(staleReason(project(false)), 'dist/ is missing');
    const root = project(true);
    assert.equal(staleReason(root), 'no record of a successful build');
    fs.writeFileSync(path.join(root, STAMP), String(newestInput(root)));
    assert.equal(staleReason(root), null);
    fs.writeFileSync(path.join(root, 'src', 'b.ts'), 'export const b = 2;\n');
    assert.equal(staleReason(root), 'sources changed since the last build');
    fs.writeFileSync(path.join(root, STAMP), String(newestInput(root)));
    assert.equal(staleReason(root), null);
    const later = new Date(Date.now() + 5_000);
    fs.utimesSync(path.join(root, 'tsconfig.json'), later, later);
    assert.equal(staleReason(root), 'sources changed since the last build');
  });

  it('package.json runs it as the prepare script', () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as { scripts: Record<string, string>; bin: Record<string, string> };
    assert.equal(pkg.scripts.prepare, 'node scripts/prepare.mjs');
    assert.equal(pkg.bin.gauntlet, 'dist/src/cli/bin.js');
  });
});
