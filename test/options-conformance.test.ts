import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { OptionMap } from '../src/options/schema.js';
import { attackNames } from '../src/stress/adversarial/registry.js';
import { attackOptions } from '../src/stress/adversarial/spec.js';
import { CORRUPTION_OPTIONS, corruptions, parseDriftSpec, shifts } from '../src/stress/drift/index.js';
import { ANNOTATORS_OPTIONS, noiseModels, parseAnnotationSpec } from '../src/stress/annotation/index.js';
import { monitorTypes } from '../src/stream/monitors/index.js';
import { methods } from '../src/explain/registry.js';

/** Every key has a doc, and every default passes its own option's check. */
function declares(what: string, map: OptionMap): void {
  for (const [key, o] of Object.entries(map)) {
    assert.ok(o.doc && o.doc.trim().length > 0, `${what}.${key} has no doc`);
    assert.match(key, /^[a-z][a-z0-9_]*$/, `${what}.${key} is not snake_case`);
    if (o.default !== undefined) assert.deepEqual(o.check(o.default, `${what}.${key}`, { where: what }), o.default, `${what}.${key}: default fails its own check`);
  }
}

test('every registry declares its options: docs, defaults that pass their checks, specs that round-trip through JSON', () => {
  for (const name of attackNames) declares(`attack ${name}`, attackOptions(name));
  for (const c of corruptions) {
    declares(`corruption ${c.name}`, CORRUPTION_OPTIONS);
    const spec = parseDriftSpec({ corruption: c.name, severity: 3 }, 'd');
    assert.deepEqual(parseDriftSpec(JSON.parse(JSON.stringify(spec)), 'd'), spec);
  }
  for (const s of shifts) {
    declares(`shift ${s.name}`, s.options);
    const spec = parseDriftSpec(s.example, 'd');
    assert.deepEqual(parseDriftSpec(JSON.parse(JSON.stringify(spec)), 'd', { camelCase: true }), spec, s.name);
  }
  for (const m of noiseModels) {
    declares(`noise ${m.name}`, m.options);
    const spec = parseAnnotationSpec(m.example, 'a', { camelCase: true });
    assert.deepEqual(parseAnnotationSpec(JSON.parse(JSON.stringify(spec)), 'a', { camelCase: true }), spec, m.name);
  }
  declares('annotators', ANNOTATORS_OPTIONS);
  for (const m of monitorTypes) {
    declares(`monitor ${m.type}`, m.options);
    assert.deepEqual(Object.keys(m.defaults).length, Object.keys(m.options).length, m.type);
  }
  for (const m of methods) declares(`explainer ${m.name}`, m.options);
});

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const bin = path.join(root, 'dist', 'src', 'cli', 'bin.js');

test('gauntlet list shows every attack\'s options and defaults', () => {
  const r = spawnSync(process.execPath, [bin, 'list', 'attacks'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^ {4}options: norm=linf \(linf\|l2\); eps required .*steps=20 \(int \[1, 100000\]\)/m);
  const j = JSON.parse(spawnSync(process.execPath, [bin, 'list', 'attacks', '--json'], { encoding: 'utf8' }).stdout) as { name: string; options: { key: string; default: string | null; expected: string }[] }[];
  for (const name of attackNames) assert.ok(j.find((a) => a.name === name)!.options.length >= 2, name);
  const pgd = j.find((a) => a.name === 'pgd')!.options.find((o) => o.key === 'steps')!;
  assert.deepEqual([pgd.default, pgd.expected], ['20', 'an integer in [1, 100000]']);
  const detail = spawnSync(process.execPath, [bin, 'list', 'attacks', 'pgd'], { encoding: 'utf8' });
  assert.match(detail.stdout, /^steps +--steps +an integer in \[1, 100000\] +20 +gradient iterations$/m);
  const decl = spawnSync(process.execPath, [bin, 'list', 'declarations'], { encoding: 'utf8' });
  assert.match(decl.stdout, /^model +path +--model /m);
  assert.match(decl.stdout, /^data +label_column +--label-column /m);
});
