/**
 * The run registry on both backends — SQLite (a temporary file) and a real PostgreSQL started here
 * (test/pg-server.ts) — with the same checks: round trips, filters, history, replace, remove,
 * migrations, a newer schema refused, two processes writing at once; and the CLI: runs record
 * themselves, a broken registry never costs a run its results, nothing is recorded under the test
 * runner unless asked, `gauntlet runs list|show|compare|rm|import`.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { resolveConfig } from '../src/campaign/config.js';
import { runCampaign } from '../src/campaign/runner.js';
import type { CampaignResults } from '../src/campaign/types.js';
import { defaultAssets } from '../src/defaults.js';
import { RegistryError } from '../src/errors.js';
import { campaignRecord, compactResults, importRunDir, openRegistry, registryTarget, SCHEMA_VERSION, verbRecord, type Registry, type RunRecord } from '../src/registry/index.js';
import { normaliseResults, writeReports } from '../src/report/index.js';
import { assertBadInput, repoRoot, runCli, runCliAsync, tmpDir } from './helpers.js';
import { noPostgres, startPostgres, type PgServer } from './pg-server.js';

const dir = tmpDir('gauntlet-registry-');
let results: CampaignResults;
let runDir: string;
let cfgFile: string;

before(async () => {
  const raw = {
    model: defaultAssets.model,
    data: { path: defaultAssets.data, limit: 120 },
    seed: 5,
    bootstrap: 100,
    stages: ['baseline', 'isolated'],
    stresses: { drift: [{ corruption: 'contrast', severity: 2 }] },
    budgets: [{ metric: 'accuracy', stage: 'baseline', min: 0.5 }, { metric: 'accuracy', stage: 'baseline', min: 0.999 }],
  };
  runDir = path.join(dir, 'campaign');
  results = await runCampaign(resolveConfig(raw, 'registry-test', repoRoot), { outDir: runDir });
  writeReports(results, runDir);
  cfgFile = path.join(dir, 'tiny.json');
  fs.writeFileSync(cfgFile, JSON.stringify(raw));
});

const json = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T;

function recordsOf(r: CampaignResults): [RunRecord, RunRecord] {
  const a = campaignRecord(r, { id: 'run-a', started: '2026-01-05T10:00:00.000Z', finished: '2026-01-05T10:01:00.000Z', outDir: runDir, resultsSha256: 'a'.repeat(64), gitCommit: 'c'.repeat(40), versions: { gauntlet: '0.1.0' } });
  // Run B: a new version of the same model (another sha256), a month later.
  const rb: CampaignResults = { ...r, model: { ...r.model, sha256: 'b'.repeat(64) } };
  const b = campaignRecord(rb, { id: 'run-b', started: '2026-02-05T10:00:00.000Z', finished: '2026-02-05T10:01:00.000Z', outDir: runDir, resultsSha256: 'b'.repeat(64) });
  return [a, b];
}

/** The same checks on every backend. */
function registrySuite(open: () => Promise<Registry>): void {
  test('records and reads back a run exactly (record, results, list, history, budgets, lineage)', async () => {
    const reg = await open();
    try {
      assert.equal(await reg.schemaVersion(), SCHEMA_VERSION);
      const [a, b] = recordsOf(results);
      await reg.record(a, compactResults(results));
      await reg.record(b, compactResults(results));
      assert.deepEqual(await reg.get('run-a'), json(a));
      assert.deepEqual(await reg.get('run-b'), json(b));
      assert.equal(await reg.get('run-zzz'), null);
      await assert.rejects(reg.get('run-'), (e: unknown) => e instanceof RegistryError && /matches 2 runs/.test((e as Error).message));
      assert.deepEqual(await reg.results('run-a'), json(normaliseResults(compactResults(results))));
      assert.equal(await reg.findByResults('a'.repeat(64)), 'run-a');
      assert.deepEqual((await reg.list()).map((r) => r.id), ['run-b', 'run-a']);
      assert.deepEqual((await reg.list({ since: '2026-02-01T00:00:00.000Z' })).map((r) => r.id), ['run-b']);
      assert.deepEqual((await reg.list({ model: 'model', limit: 1 })).map((r) => r.id), ['run-b']);
      assert.deepEqual(await reg.list({ model: 'no-such-model' }), []);
      assert.deepEqual(await reg.list({ kind: 'train' }), []);
      const s = (await reg.list({ status: 'failed' }))[0]!;
      assert.deepEqual([s.id, s.budgets_passed, s.budgets_failed, s.git_commit, s.model_sha256], ['run-b', 1, 1, null, 'b'.repeat(64)]);
      const h = await reg.history('model');
      assert.equal(h.length, a.metrics.length + b.metrics.length);
      const acc = h.filter((p) => p.metric === 'accuracy' && p.stage === 'baseline');
      assert.deepEqual(acc.map((p) => [p.run_id, p.model_sha256.slice(0, 1), p.value, p.ci_lo, p.ci_hi]), ['run-a', 'run-b'].map((id, i) => [id, i ? 'b' : results.model.sha256.slice(0, 1), results.cells[0]!.metrics.accuracy.value, ...results.cells[0]!.metrics.accuracy.ci]));
      assert.deepEqual((await reg.budgets()).map((p) => [p.run_id, p.passed]), [['run-a', true], ['run-a', false], ['run-b', true], ['run-b', false]]);
      // A trained model with lineage.
      const t = verbRecord({ id: 'train-t', kind: 'train', started: '2026-03-01T00:00:00.000Z', finished: '2026-03-01T00:10:00.000Z', model: { name: 'hardened', path: '/m/hardened.onnx', sha256: 'd'.repeat(64), parent_sha256: results.model.sha256, parent_name: 'model' }, data: null, config: { epochs: 1 }, seed: 0, metrics: [{ metric: 'train_accuracy', value: 0.5, ci: [0.4, 0.6] }, { metric: 'final_loss', value: Number.NaN }], artifacts: [], summary: {}, versions: { gauntlet: '0.1.0' } });
      await reg.record(t);
      assert.deepEqual((await reg.get('train-t'))!.model.parent_sha256, results.model.sha256);
      assert.deepEqual((await reg.history('hardened')).map((p) => [p.metric, p.value, p.ci_lo]), [['final_loss', null, null], ['train_accuracy', 0.5, 0.4]]);
      assert.deepEqual((await reg.models()).map((m) => [m.name, m.runs, m.versions]), [['hardened', 1, 1], ['model', 2, 2]]);
      // Recording the same id again replaces the run (no duplicate rows).
      await reg.record(a, compactResults(results));
      assert.equal((await reg.list()).length, 3);
      assert.equal((await reg.history('model')).length, a.metrics.length + b.metrics.length);
      // Remove.
      assert.equal(await reg.remove(['run-a', 'train-t']), 2);
      assert.equal(await reg.remove(['run-a']), 0);
      assert.equal(await reg.get('run-a'), null);
      assert.deepEqual((await reg.list()).map((r) => r.id), ['run-b']);
      assert.equal((await reg.history('model')).length, b.metrics.length);
      // Import of a run directory: once; a second import finds it.
      const first = await importRunDir(reg, runDir);
      const second = await importRunDir(reg, runDir);
      assert.equal(first.status, 'recorded');
      assert.deepEqual([second.status, second.id], ['already', first.id]);
      const imported = (await reg.get(first.id))!;
      assert.equal(imported.imported, true);
      assert.equal(imported.metrics.length, a.metrics.length);
    } finally {
      await reg.close();
    }
  });

  test('opening an existing registry again applies no migration twice', async () => {
    const reg = await open();
    await reg.close();
    const again = await open();
    assert.equal(await again.schemaVersion(), SCHEMA_VERSION);
    await again.close();
  });
}

/** Two processes recording `n` runs each at the same time into a fresh registry (both migrate it). */
async function concurrentWriters(target: string, n: number): Promise<void> {
  const mod = pathToFileURL(path.join(repoRoot, 'dist', 'src', 'registry', 'index.js')).href;
  const code = `
    const { openRegistry, verbRecord } = await import(${JSON.stringify(mod)});
    const [target, prefix, n] = process.argv.slice(1);
    const reg = await openRegistry(target);
    for (let i = 0; i < Number(n); i++) {
      const metrics = Array.from({ length: 50 }, (_, k) => ({ metric: 'm' + k, value: i + k / 100, ci: [i, i + 1] }));
      await reg.record(verbRecord({ id: prefix + '-' + i, kind: 'attack', started: new Date(Date.UTC(2026, 0, 1, 0, 0, i)).toISOString(), finished: new Date().toISOString(),
        model: { name: 'conc', path: '/m.onnx', sha256: prefix, parent_sha256: null, parent_name: null }, data: null, config: {}, seed: i, metrics, artifacts: [], summary: {}, versions: {} }));
    }
    await reg.close();`;
  const one = (prefix: string) =>
    new Promise<void>((resolve, reject) => {
      const p = spawn(process.execPath, ['--input-type=module', '-e', code, target, prefix, String(n)], { timeout: 120000 });
      let err = '';
      p.stderr.on('data', (d) => (err += d));
      p.on('close', (c) => (c === 0 ? resolve() : reject(new Error(`writer ${prefix} exited ${c}: ${err}`))));
    });
  await Promise.all([one('w1'), one('w2')]);
}

describe('SQLite registry', () => {
  let count = 0;
  const file = () => path.join(dir, `sqlite-${count}`, 'registry.db');
  registrySuite(async () => {
    if (count === 0) count = 1;
    return openRegistry(file());
  });

  test('a registry whose schema is newer than this Gauntlet is refused, not altered', async () => {
    const f = path.join(dir, 'newer', 'registry.db');
    const reg = await openRegistry(f);
    await reg.close();
    const { createClient } = await import('@libsql/client');
    const c = createClient({ url: pathToFileURL(f).href });
    await c.execute("INSERT INTO schema_migrations (version, name, applied_at) VALUES (99, 'future', 'x')");
    c.close();
    await assert.rejects(openRegistry(f), /registry schema version 99 is newer than this Gauntlet's \(1\)/);
  });

  test('two processes write at once: every run of both is there, whole', async () => {
    const f = path.join(dir, 'concurrent', 'registry.db');
    await concurrentWriters(f, 15);
    const reg = await openRegistry(f);
    try {
      const runs = await reg.list();
      assert.equal(runs.length, 30);
      assert.equal((await reg.history('conc')).length, 30 * 50);
    } finally {
      await reg.close();
    }
  });

  test('bad locations are one clear RegistryError', async () => {
    await assert.rejects(openRegistry(dir), /is a directory; give the registry a file path/);
    await assert.rejects(openRegistry('https://example.com/reg'), /not a registry location/);
    await assert.rejects(openRegistry(path.join(dir, 'missing.db'), { mustExist: true }), /no registry there/);
  });
});

describe('PostgreSQL registry', { skip: noPostgres() }, () => {
  let pg: PgServer;
  before(() => {
    pg = startPostgres();
  });
  after(() => pg?.stop());
  let db = 0;
  registrySuite(async () => {
    // A fresh database for the suite's first open, the same one after.
    if (db === 0) {
      db = 1;
      const reg0 = await openRegistry(pg.url);
      await reg0.close();
      const { default: pgmod } = await import('pg');
      const c = new pgmod.Client({ connectionString: pg.url });
      await c.connect();
      await c.query('CREATE DATABASE suite');
      await c.end();
    }
    return openRegistry(pg.url.replace('/postgres?', '/suite?'));
  });

  test('two processes write at once into a new database: every run of both is there', async () => {
    const { default: pgmod } = await import('pg');
    const c = new pgmod.Client({ connectionString: pg.url });
    await c.connect();
    await c.query('CREATE DATABASE concurrent');
    await c.end();
    const url = pg.url.replace('/postgres?', '/concurrent?');
    await concurrentWriters(url, 15);
    const reg = await openRegistry(url);
    try {
      assert.equal((await reg.list()).length, 30);
      assert.equal((await reg.history('conc')).length, 30 * 50);
      assert.equal(await reg.schemaVersion(), SCHEMA_VERSION);
    } finally {
      await reg.close();
    }
  });

  test('an unreachable server is one RegistryError naming it, without the password', async () => {
    const url = `postgres://someone:secret@/nodb?host=${encodeURIComponent(path.join(dir, 'no-socket-here'))}`;
    await assert.rejects(openRegistry(url), (e: unknown) => e instanceof RegistryError && /cannot connect to the PostgreSQL registry/.test((e as Error).message) && !(e as Error).message.includes('secret'));
  });
});

describe('where runs record themselves', () => {
  test('--registry, --no-registry, GAUNTLET_REGISTRY, the test runner, and the default beside the output', () => {
    const anchor = path.join(dir, 'anchor');
    assert.equal(registryTarget({ flag: 'x.db', anchorDir: anchor, env: {} }), 'x.db');
    assert.equal(registryTarget({ flag: 'x.db', off: true, anchorDir: anchor, env: {} }), null);
    assert.equal(registryTarget({ anchorDir: anchor, env: { GAUNTLET_REGISTRY: 'postgres://h/db' } }), 'postgres://h/db');
    assert.equal(registryTarget({ anchorDir: anchor, env: { GAUNTLET_REGISTRY: 'off' } }), null);
    assert.equal(registryTarget({ anchorDir: anchor, env: { NODE_TEST_CONTEXT: 'child-v8' } }), null);
    assert.equal(registryTarget({ anchorDir: anchor, env: { NODE_TEST_CONTEXT: 'child-v8', GAUNTLET_REGISTRY: 'r.db' } }), 'r.db');
    assert.equal(registryTarget({ anchorDir: anchor, env: {} }), path.join(anchor, '.gauntlet', 'registry.db'));
  });
});

describe('CLI', () => {
  test('gauntlet run records itself; runs list/show/compare/rm/import read and change the registry', async () => {
    const db = path.join(dir, 'cli', 'registry.db');
    const r1 = await runCliAsync(['run', cfgFile, '--out', path.join(dir, 'cli', 'r1'), '--registry', db, '--json']);
    assert.equal(r1.code, 1, r1.stderr); // the 0.999 budget fails
    const id1 = /recorded run (\S+) in /.exec(r1.stderr)?.[1];
    assert.ok(id1, r1.stderr);
    const r2 = await runCliAsync(['run', cfgFile, '--out', path.join(dir, 'cli', 'r2'), '--registry', db, '--seed', '6']);
    const id2 = /recorded run (\S+) in /.exec(r2.stderr)![1]!;
    const list = runCli(['runs', 'list', '--registry', db, '--json']);
    assert.equal(list.code, 0, list.stderr);
    const rows = JSON.parse(list.stdout) as { id: string; status: string; budgets_failed: number; git_commit: string | null }[];
    assert.deepEqual(rows.map((r) => [r.id, r.status, r.budgets_failed]), [[id2, 'failed', 1], [id1, 'failed', 1]]);
    const text = runCli(['runs', 'list', '--registry', db, '--model', 'model', '--since', '1d']);
    assert.match(text.stdout, new RegExp(`^${id1}\\s+run\\s+failed`, 'm'));
    const show = runCli(['runs', 'show', id1!.slice(0, -3), '--registry', db]);
    assert.equal(show.code, 0, show.stderr);
    assert.match(show.stdout, /^budgets:\n {2}PASS {2}accuracy ≥ 0.5 at stage baseline/m);
    assert.match(show.stdout, /^ {2}results\.json +\S+r1\/results\.json$/m);
    assert.match(show.stdout, new RegExp(`seed {6}5\\n`));
    const cmp = runCli(['runs', 'compare', id1!, id2, '--registry', db, '--json']);
    assert.equal(cmp.code, 0, cmp.stderr);
    const c = JSON.parse(cmp.stdout) as { seed_changed: boolean; cells_matched: number; run_a: string };
    assert.deepEqual([c.seed_changed, c.cells_matched, c.run_a], [true, 2, id1]);
    // Import: r1 is already recorded (same results.json); a directory recorded with --no-registry is new.
    const r3 = await runCliAsync(['run', cfgFile, '--out', path.join(dir, 'cli', 'r3'), '--no-registry', '--seed', '7']);
    assert.doesNotMatch(r3.stderr, /recorded run/);
    const imp = runCli(['runs', 'import', path.join(dir, 'cli', 'r1'), path.join(dir, 'cli', 'r3'), '--registry', db]);
    assert.equal(imp.code, 0, imp.stderr);
    assert.match(imp.stdout, new RegExp(`r1: already recorded as run ${id1}\\nrecorded \\S+r3 as run run-`));
    assert.equal(JSON.parse(runCli(['runs', 'list', '--registry', db, '--json']).stdout).length, 3);
    const rm = runCli(['runs', 'rm', id2, '--registry', db]);
    assert.match(rm.stdout, new RegExp(`removed 1 run from \\S+: ${id2}`));
    assert.ok(fs.existsSync(path.join(dir, 'cli', 'r2', 'results.json')), 'rm leaves the run directory alone');
    assertBadInput(runCli(['runs', 'show', id2, '--registry', db]), new RegExp(`^gauntlet: no run '${id2}' in `));
    assertBadInput(runCli(['runs', 'import', path.join(dir, 'cli'), '--registry', db]), /results\.json: no such file/);
    assertBadInput(runCli(['runs', 'frobnicate', '--registry', db]), /unknown subcommand 'frobnicate': list, show, compare, rm, import/);
    assertBadInput(runCli(['runs', 'list', '--registry', path.join(dir, 'nothing.db')]), /no registry there/);
    assertBadInput(runCli(['runs', 'list', '--since', 'yesterday', '--registry', db]), /'--since' must be an ISO 8601 date\/time/);
  });

  test('a registry that cannot be written costs the run nothing: one warning line, results written, the usual exit code', async () => {
    const bad = path.join(dir, 'cli', 'r1', 'results.json', 'registry.db'); // a folder that is a file
    const out = path.join(dir, 'cli-bad');
    const r = await runCliAsync(['run', cfgFile, '--out', out, '--registry', bad]);
    assert.equal(r.code, 1, r.stderr);
    assert.ok(fs.existsSync(path.join(out, 'results.json')));
    const warnings = r.stderr.split('\n').filter((l) => /not recorded/.test(l));
    assert.equal(warnings.length, 1, r.stderr);
    assert.match(warnings[0]!, /^gauntlet: warning: run not recorded in the registry \S+registry\.db \(.*\); its results are written as usual$/);
    assertBadInput(runCli(['run', cfgFile, '--out', path.join(dir, 'x'), '--registry', 'a.db', '--no-registry', '--dry-run']), /give either '--registry' or '--no-registry', not both/);
  });

  test('under the test runner nothing is recorded unless asked; outside it, .gauntlet/registry.db beside the run directory', async () => {
    const base = path.join(dir, 'default');
    fs.mkdirSync(base);
    const env = { ...process.env };
    delete env.GAUNTLET_REGISTRY;
    const quiet = await runCliAsync(['run', cfgFile, '--out', path.join(base, 'runs', 'a')], { cwd: base });
    assert.ok(process.env.NODE_TEST_CONTEXT, 'this test runs under node --test');
    assert.doesNotMatch(quiet.stderr, /recorded run/);
    assert.ok(!fs.existsSync(path.join(base, 'runs', '.gauntlet')));
    delete env.NODE_TEST_CONTEXT;
    const p = spawn(process.execPath, [path.join(repoRoot, 'dist', 'src', 'cli', 'bin.js'), 'run', cfgFile, '--out', path.join(base, 'runs', 'b')], { cwd: base, env, timeout: 300000 });
    let stderr = '';
    p.stderr.on('data', (d) => (stderr += d));
    await new Promise((resolve) => p.on('close', resolve));
    assert.match(stderr, new RegExp(`recorded run run-\\S+ in ${path.join(base, 'runs', '.gauntlet', 'registry.db').replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
  });
});

describe('options', () => {
  test('the registry, runs and hub options are declared with the option schema: docs, snake_case keys, defaults that pass their checks', async () => {
    const { RECORD_OPTIONS, RUNS_OPTIONS, HUB_OPTIONS } = await import('../src/registry/options.js');
    for (const [what, map] of Object.entries({ RECORD_OPTIONS, RUNS_OPTIONS, HUB_OPTIONS })) {
      for (const [key, o] of Object.entries(map as Record<string, { doc: string; default?: unknown; check: (v: unknown, p: string, c: { where: string }) => unknown }>)) {
        assert.ok(o.doc.trim().length > 0, `${what}.${key}`);
        assert.match(key, /^[a-z][a-z0-9_]*$/);
        if (o.default !== undefined) assert.deepEqual(o.check(o.default, key, { where: '' }), o.default);
      }
    }
    for (const verb of ['run', 'train', 'attack', 'stream', 'calibrate']) assert.match(runCli([verb, '--help']).stdout, /--no-registry +do not record this run in the registry/, verb);
    assert.match(runCli(['hub', '--help']).stdout, /--port N +TCP port to listen on \(0: any free port\); an integer in \[0, 65535\] \(default 8080\)/);
  });

  test('hub: bad port, no registry, stray arguments are one clear line and exit 2', () => {
    assertBadInput(runCli(['hub', '--port', '70000']), /'--port' must be an integer in \[0, 65535\], got 70000/);
    assertBadInput(runCli(['hub', '--port', '0', '--registry', path.join(dir, 'none.db')]), /no registry there/);
    assertBadInput(runCli(['hub', 'extra']), /hub: Unexpected argument 'extra'/);
  });
});
