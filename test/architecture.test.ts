/**
 * The module structure the architecture asks for, checked on the sources: the campaign writes the
 * result types (src/campaign/types.ts, types only) and the report reads them, so src/report may
 * import src/campaign but never the reverse, and no import cycle runs through their files.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import test from 'node:test';
import { repoRoot } from './helpers.js';

const src = path.join(repoRoot, 'src');

/** Every .ts file under `dir` (recursive), as paths relative to src/. */
function tsFiles(dir: string): string[] {
  const out: string[] = [];
  for (const e of fs.readdirSync(path.join(src, dir), { withFileTypes: true })) {
    const rel = path.posix.join(dir, e.name);
    if (e.isDirectory()) out.push(...tsFiles(rel));
    else if (e.name.endsWith('.ts')) out.push(rel);
  }
  return out.sort();
}

/** The relative imports and re-exports of a source file (type-only ones too), as paths relative to src/. */
function importsOf(file: string): { target: string; typeOnly: boolean }[] {
  const text = fs.readFileSync(path.join(src, file), 'utf8');
  const out: { target: string; typeOnly: boolean }[] = [];
  for (const m of text.matchAll(/^\s*(import|export)\s+(type\s+)?[^;'"]*?from\s+'(\.{1,2}\/[^']+)'/gm)) {
    const target = path.posix.normalize(path.posix.join(path.posix.dirname(file), m[3]!.replace(/\.js$/, '.ts')));
    out.push({ target, typeOnly: Boolean(m[2]) });
  }
  for (const m of text.matchAll(/^\s*import\s+'(\.{1,2}\/[^']+)'/gm)) {
    out.push({ target: path.posix.normalize(path.posix.join(path.posix.dirname(file), m[1]!.replace(/\.js$/, '.ts'))), typeOnly: false });
  }
  return out;
}

/** The import graph among `files`: each file's imports that are among `files`. */
function graphOf(files: readonly string[]): Map<string, string[]> {
  return new Map(files.map((f) => [f, importsOf(f).map((i) => i.target).filter((t) => files.includes(t))]));
}

/** The cycles of a graph (Tarjan's strongly connected components of more than one node, or a self-loop). */
function cycles(graph: ReadonlyMap<string, readonly string[]>): string[][] {
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const out: string[][] = [];
  const visit = (v: string) => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    for (const w of graph.get(v)!) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (stack.includes(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const scc: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        scc.push(w);
      } while (w !== v);
      if (scc.length > 1 || graph.get(v)!.includes(v)) out.push(scc.sort());
    }
  };
  for (const f of graph.keys()) if (!index.has(f)) visit(f);
  return out;
}

const campaign = tsFiles('campaign');
const report = tsFiles('report');

test('the import checker sees imports, type-only imports and re-exports', () => {
  assert.ok(campaign.includes('campaign/runner.ts') && report.includes('report/html.ts'));
  const html = importsOf('report/html.ts');
  assert.ok(html.some((i) => i.target === 'campaign/types.ts' && i.typeOnly));
  assert.ok(html.some((i) => i.target === 'report/format.ts' && !i.typeOnly));
  assert.ok(importsOf('report/index.ts').some((i) => i.target === 'report/compare.ts'), 'export … from counts');
  assert.deepEqual(cycles(new Map([['a', ['b']], ['b', ['c']], ['c', ['a']], ['d', ['a']]])), [['a', 'b', 'c']]);
  assert.deepEqual(cycles(new Map([['a', ['a']], ['b', []]])), [['a']]);
  assert.deepEqual(cycles(new Map([['a', ['b']], ['b', []]])), []);
});

test('no import cycle runs through the campaign and report modules', () => {
  assert.deepEqual(cycles(graphOf([...campaign, ...report])), []);
});

test('src/campaign never imports src/report (the report reads the campaign, not the reverse)', () => {
  const back = campaign.flatMap((f) => importsOf(f).filter((i) => i.target.startsWith('report/')).map((i) => `${f} → ${i.target}`));
  assert.deepEqual(back, []);
});

test('the report takes result types from campaign/types.ts, never from the runner', () => {
  const runner = report.flatMap((f) => importsOf(f).filter((i) => i.target === 'campaign/runner.ts').map((i) => `${f} → ${i.target}`));
  assert.deepEqual(runner, []);
  assert.ok(report.some((f) => importsOf(f).some((i) => i.target === 'campaign/types.ts')));
});

test('campaign/types.ts holds types only: type imports, interfaces and type aliases, no code', () => {
  const text = fs.readFileSync(path.join(src, 'campaign', 'types.ts'), 'utf8');
  const imports = importsOf('campaign/types.ts');
  assert.ok(imports.length > 0);
  assert.deepEqual(imports.filter((i) => !i.typeOnly), [], 'every import is `import type`');
  const statements = text
    .replace(/\/\*[\s\S]*?\*\//g, '')
    .split('\n')
    .filter((l) => /^(export\s+)?[a-z]/.test(l));
  for (const l of statements) assert.match(l, /^(import type |export (interface|type) )/, `not a type declaration: ${l}`);
});

test('one LOWER_IS_BETTER table: no other module lists which metrics are lower-is-better', () => {
  const lists = tsFiles('.')
    .filter((f) => f !== 'metrics/suite.ts')
    .filter((f) => /(LOWER|HIGHER)_IS_BETTER\s*=|new Set\(\[\s*'(accuracy|ece|nll|brier|aurc)'/.test(fs.readFileSync(path.join(src, f), 'utf8')));
  assert.deepEqual(lists, []);
});

test('the public API holds the names a user needs (the README example, campaigns, runCell), not internal helpers', async () => {
  const api = (await import('../src/index.js')) as Record<string, unknown>;
  for (const name of ['Model', 'loadDataset', 'evaluate', 'GradientEngine', 'defaultAssets', 'Rng', 'loadConfig', 'makePlan', 'runCampaign', 'runCell', 'newCellCaches', 'writeReports', 'LOWER_IS_BETTER', 'adversarial', 'drift', 'annotation', 'explain', 'uncertainty', 'stream', 'ConfigError']) {
    assert.ok(name in api, `missing ${name}`);
  }
  for (const name of ['makeModel', 'node', 'encodeModel', 'decodeModel', 'gradientRules', 'argmaxRows', 'defaultMeta']) assert.ok(!(name in api), `internal ${name} is exported`);
});
