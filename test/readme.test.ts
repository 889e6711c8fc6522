import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { repoRoot } from './helpers.js';

test('the README library example runs as written', () => {
  const readme = fs.readFileSync(path.join(repoRoot, 'README.md'), 'utf8');
  const m = /```js\n(\/\/ README example[^\n]*\n[\s\S]*?)```/.exec(readme);
  assert.ok(m, 'README has the library example');
  // Written inside the package so that `import … from 'gauntlet'` resolves to this package.
  const dir = fs.mkdtempSync(path.join(repoRoot, 'dist', 'readme-'));
  try {
    const file = path.join(dir, 'example.mjs');
    fs.writeFileSync(file, m[1]!);
    const out = execFileSync(process.execPath, [file], { cwd: repoRoot, encoding: 'utf8' });
    assert.match(out, /accuracy 0\.9250, ECE 0\.01\d\d/);
    assert.match(out, /loss\[0\] \d+\.\d{4}, gradient values 6272/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
