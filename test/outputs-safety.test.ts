/**
 * Nothing of the user's is lost (issue 16, deliverable 4): no verb writes over one of its inputs,
 * `run --out` never overwrites or deletes a file Gauntlet did not write, a run that fails before its
 * first checkpoint removes what it created, --restart replaces a failed run, and Ctrl-C says what is
 * checkpointed and how to resume.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { runCampaign } from '../src/campaign/runner.js';
import { resolveConfig } from '../src/campaign/config.js';
import { loadDataset } from '../src/data/load.js';
import { datasetToArrays, saveNpz } from '../src/data/npz.js';
import { defaultAssets } from '../src/defaults.js';
import { ConfigError, RunInterruptedError } from '../src/errors.js';
import { assertBadInput, cliBin, repoRoot, runCli, runCliAsync, scratchDirs, type CliRun } from './helpers.js';

const fresh = scratchDirs('gauntlet-safety-');

const sha = (f: string) => createHash('sha256').update(fs.readFileSync(f)).digest('hex');

/** A small labelled .npz (the first `n` default images). */
async function smallData(dir: string, n = 24, relabel?: (y: Int32Array) => void): Promise<string> {
  const ds = await loadDataset({ path: defaultAssets.data, limit: n });
  const arrays = datasetToArrays(ds);
  if (relabel) {
    const y = Int32Array.from(ds.labels!);
    relabel(y);
    arrays.y = { dtype: '<i4', shape: [y.length], data: y };
  }
  const file = path.join(dir, 'data.npz');
  await saveNpz(file, arrays);
  return file;
}

/** A campaign of 3 quick cells (baseline, two drifts) on `limit` default items. */
function smallYaml(dir: string, extra: string[] = [], limit = 24): string {
  const file = path.join(dir, 'campaign.yaml');
  fs.writeFileSync(
    file,
    [
      `model: ${defaultAssets.model}`,
      `data: { path: ${defaultAssets.data}, limit: ${limit} }`,
      'seed: 5',
      'bootstrap: 20',
      'stages: [baseline, isolated]',
      'stresses:',
      '  drift: [ { corruption: contrast, severity: 2 }, { corruption: gaussian_noise, severity: 3 } ]',
      ...extra,
    ].join('\n') + '\n',
  );
  return file;
}

/** A run that fails once running: exit 2, the error as the last stderr line (after progress lines), no stack trace. */
function assertRunBadInput(r: CliRun, pattern: RegExp): void {
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr.trimEnd().split('\n').at(-1)!, new RegExp(`^gauntlet: .*${pattern.source}`));
  assert.doesNotMatch(r.stderr, /\n\s+at /);
}

const cellMetrics = (dir: string) =>
  (JSON.parse(fs.readFileSync(path.join(dir, 'results.json'), 'utf8')) as { cells: { id: string; metrics: unknown; correct: string }[] }).cells.map((c) => ({ id: c.id, metrics: c.metrics, correct: c.correct }));

// ---- outputs equal to inputs -------------------------------------------------------------------

test('corrupt --out equal to --data is refused and the input is left as it was', async () => {
  const dir = fresh();
  const data = await smallData(dir);
  const before = sha(data);
  assertBadInput(runCli(['corrupt', '--data', data, '--corruption', 'contrast', '--severity', '2', '--out', data]), /^gauntlet: corrupt: '--out' .* is the same file as '--data' .*never overwrites an input/);
  // The same file spelled differently, through a symlink, and through a hard link.
  const relative = path.relative(process.cwd(), data);
  assertBadInput(runCli(['corrupt', '--data', relative, '--corruption', 'contrast', '--severity', '2', '--out', path.join(dir, '.', 'data.npz')]), /is the same file as '--data'/);
  fs.symlinkSync(data, path.join(dir, 'link.npz'));
  assertBadInput(runCli(['corrupt', '--data', data, '--corruption', 'contrast', '--severity', '2', '--out', path.join(dir, 'link.npz')]), /is the same file as '--data' .*through a link/);
  fs.linkSync(data, path.join(dir, 'hard.npz'));
  assertBadInput(runCli(['corrupt', '--data', path.join(dir, 'hard.npz'), '--corruption', 'contrast', '--severity', '2', '--out', data]), /is the same file as '--data' .*hard\.npz/);
  // A folder reached through a symlink.
  fs.symlinkSync(dir, path.join(dir, '..', `${path.basename(dir)}-alias`));
  assertBadInput(runCli(['corrupt', '--data', data, '--corruption', 'contrast', '--severity', '2', '--out', path.join(dir, '..', `${path.basename(dir)}-alias`, 'data.npz')]), /through a link/);
  // Two outputs on one file.
  assertBadInput(runCli(['corrupt', '--data', data, '--corruption', 'contrast', '--severity', '2', '--out', path.join(dir, 'o.npz'), '--gallery', path.join(dir, 'o.npz')]), /'--out' and '--gallery' name the same file/);
  assert.equal(sha(data), before);
  assert.ok(!fs.existsSync(path.join(dir, 'o.npz')));
});

test('noise --out onto the input (or through a hard link) is refused and the input is kept', async () => {
  const dir = fresh();
  const data = await smallData(dir);
  const before = sha(data);
  assertBadInput(runCli(['noise', '--data', data, '--model', 'symmetric', '--rate', '0.2', '--out', data]), /^gauntlet: noise: '--out' .* is the same file as '--data'/);
  fs.linkSync(data, path.join(dir, 'again.npz'));
  assertBadInput(runCli(['noise', '--data', data, '--model', 'symmetric', '--rate', '0.2', '--out', path.join(dir, 'again.npz')]), /is the same file as '--data'/);
  // The provenance sidecar may not land on an input either.
  fs.copyFileSync(data, path.join(dir, 'o.npz.provenance.json'));
  assertBadInput(runCli(['noise', '--data', path.join(dir, 'o.npz.provenance.json'), '--model', 'symmetric', '--rate', '0.2', '--out', path.join(dir, 'o.npz')]), /provenance sidecar .* is the same file as '--data'/);
  assert.equal(sha(data), before);
});

test('attack --save onto --data (by name or through a hard link) is refused', async () => {
  const dir = fresh();
  const data = await smallData(dir);
  const before = sha(data);
  assertBadInput(runCli(['attack', '--data', data, '--attack', 'fgsm', '--eps', '0.01', '--save', data]), /^gauntlet: attack: '--save' .* is the same file as '--data'/);
  fs.linkSync(data, path.join(dir, 'same.npz'));
  assertBadInput(runCli(['attack', '--data', data, '--attack', 'fgsm', '--eps', '0.01', '--save', path.join(dir, 'same.npz')]), /'--save' .* is the same file as '--data' .*through a link/);
  assert.equal(sha(data), before);
});

test('every other verb that writes refuses an output equal to one of its inputs', async () => {
  const dir = fresh();
  const data = await smallData(dir);
  const model = path.join(dir, 'm.onnx');
  fs.copyFileSync(defaultAssets.model, model);
  const sums = [sha(data), sha(model)];
  assertBadInput(runCli(['shift', '--data', data, '--kind', 'mean', '--amount', '0.1', '--out', data]), /^gauntlet: shift: '--out' .* is the same file as '--data'/);
  assertBadInput(runCli(['grad', '--model', model, '--data', data, '--out', model]), /^gauntlet: grad: '--out' .* is the same file as '--model'/);
  assertBadInput(runCli(['explain', '--model', model, '--data', data, '--method', 'saliency', '--png', data]), /^gauntlet: explain: '--png' .* is the same file as '--data'/);
  assertBadInput(runCli(['calibrate', '--model', model, '--data', data, '--out', data]), /^gauntlet: calibrate: '--out' .* is the same file as '--data'/);
  fs.symlinkSync(model, path.join(dir, 'm-link.onnx'));
  assertBadInput(runCli(['calibrate', '--model', model, '--data', data, '--out', path.join(dir, 'm-link.onnx')]), /calibrate: '--out' .* is the same file as '--model' .*through a link/);
  assertBadInput(runCli(['aggregate', '--data', data, '--out', data]), /^gauntlet: aggregate: '--out' .* is the same file as '--data'/);
  assert.deepEqual([sha(data), sha(model)], sums);
});

test('run refuses a CONFIG or data file that lies where the run writes its files', () => {
  const dir = fresh();
  const out = path.join(dir, 'out');
  fs.mkdirSync(out);
  const cfg = path.join(out, 'results.json');
  fs.writeFileSync(cfg, JSON.stringify({ model: defaultAssets.model, data: { path: defaultAssets.data, limit: 20 }, stages: ['baseline'] }));
  const before = sha(cfg);
  assertBadInput(runCli(['run', cfg, '--out', out, '--force']), /^gauntlet: run: --out's results\.json .* is the same file as CONFIG/);
  assertBadInput(runCli(['run', '--data', out, '--out', out, '--force']), /^gauntlet: run: '--out' .* is the same file as data/);
  assert.equal(sha(cfg), before);
});

test('stream --out never overwrites a file it did not write', () => {
  const dir = fresh();
  fs.writeFileSync(path.join(dir, 'events.jsonl'), 'mine\n');
  assertBadInput(runCli(['stream', '--out', dir]), /^gauntlet: stream: .* already has events\.jsonl, not written by 'gauntlet stream'/);
  assert.equal(fs.readFileSync(path.join(dir, 'events.jsonl'), 'utf8'), 'mine\n');
});

// ---- run directories ---------------------------------------------------------------------------

test('run --out a non-empty folder that is not a run is refused, naming --force; --force writes beside the files and never over them', () => {
  const dir = fresh();
  const cfg = smallYaml(dir);
  const out = path.join(dir, 'mine');
  fs.mkdirSync(out);
  fs.writeFileSync(path.join(out, 'notes.txt'), 'my notes\n');
  fs.writeFileSync(path.join(out, 'report.md'), '# my report\n');
  assertBadInput(runCli(['run', cfg, '--out', out]), /^gauntlet: .*mine: is not empty and is not a Gauntlet run; .*--force/);
  // --force still refuses to overwrite a file of the user's with a name Gauntlet writes.
  assertBadInput(runCli(['run', cfg, '--out', out, '--force']), /^gauntlet: .*mine: already has report\.md, not written by a Gauntlet run; --force never overwrites/);
  assert.equal(fs.readFileSync(path.join(out, 'report.md'), 'utf8'), '# my report\n');
  fs.renameSync(path.join(out, 'report.md'), path.join(dir, 'report.md'));
  const r = runCli(['run', cfg, '--out', out, '--force', '--json']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(fs.readFileSync(path.join(out, 'notes.txt'), 'utf8'), 'my notes\n');
  assert.ok(fs.existsSync(path.join(out, 'results.json')));
  // Now it is a run: a second run there needs --resume or --restart, and --restart keeps notes.txt.
  assertBadInput(runCli(['run', cfg, '--out', out, '--json']), /already holds a run; use --resume to continue it, --restart to discard it/);
  const again = runCli(['run', cfg, '--out', out, '--restart', '--json']);
  assert.equal(again.code, 0, again.stderr);
  assert.equal(fs.readFileSync(path.join(out, 'notes.txt'), 'utf8'), 'my notes\n');
  assertBadInput(runCli(['run', cfg, '--out', out, '--resume', '--restart']), /give either '--resume' .* or '--restart'/);
  // `report` regenerates a run's reports, but not over a report of the user's beside a copied results.json.
  const copy = fresh();
  fs.copyFileSync(path.join(out, 'results.json'), path.join(copy, 'results.json'));
  fs.writeFileSync(path.join(copy, 'report.md'), '# mine\n');
  assertBadInput(runCli(['report', copy]), /^gauntlet: report: .* already has report\.md, not written by 'gauntlet report'/);
  assert.equal(fs.readFileSync(path.join(copy, 'report.md'), 'utf8'), '# mine\n');
  assert.equal(runCli(['report', out]).code, 0);
});

test('a run that fails before its first cell removes the directory it created, so the retry is not blocked', async () => {
  const dir = fresh();
  const bad = await smallData(dir, 24, (y) => (y[3] = 12)); // a label outside the model's 10 classes: fails after the manifest is written
  const cfg = smallYaml(dir);
  const out = path.join(dir, 'a', 'b', 'run');
  assertRunBadInput(runCli(['run', cfg, '--data', bad, '--out', out, '--json']), /label 12 of item 3 is outside the model's 10 classes/);
  assert.ok(!fs.existsSync(path.join(dir, 'a')), 'the directories the run created are gone');
  // A folder that existed (empty) is kept; only the run's files go.
  const mine = fresh();
  assertRunBadInput(runCli(['run', cfg, '--data', bad, '--out', mine, '--json']), /outside the model's 10 classes/);
  assert.deepEqual(fs.readdirSync(mine), []);
  // The same command with the data fixed just runs (no "already holds a run", no "configs differ").
  const good = await smallData(fresh(), 24);
  const r = runCli(['run', cfg, '--data', good, '--out', out, '--json']);
  assert.equal(r.code, 0, r.stderr);
  // Library: the same rule for a failure from a callback before any checkpoint.
  const lib = path.join(dir, 'lib');
  const config = resolveConfig({ model: defaultAssets.model, data: { path: defaultAssets.data, limit: 20 }, stages: ['baseline'], bootstrap: 10 }, 'test', repoRoot);
  await assert.rejects(
    runCampaign(config, {
      outDir: lib,
      onEvent: (e) => {
        if (e.type === 'plan') throw new Error('boom');
      },
    }),
    /boom/,
  );
  assert.ok(!fs.existsSync(lib));
});

test('a run that fails after a checkpoint keeps it and can be replaced with --restart (Gauntlet files only)', async () => {
  const dir = fresh();
  const cfgFile = smallYaml(dir);
  const config = resolveConfig(
    {
      model: defaultAssets.model,
      data: { path: defaultAssets.data, limit: 40 },
      seed: 5,
      bootstrap: 20,
      stages: ['baseline', 'isolated'],
      stresses: { drift: [{ corruption: 'contrast', severity: 2 }, { corruption: 'gaussian_noise', severity: 3 }] },
    },
    'test',
    repoRoot,
  );
  const out = path.join(dir, 'run');
  let done = 0;
  await assert.rejects(
    runCampaign(config, {
      outDir: out,
      onEvent: (e) => {
        if (e.type === 'cell_done' && ++done === 2) throw new Error('killed');
      },
    }),
    /killed/,
  );
  assert.equal(fs.readdirSync(path.join(out, 'cells')).length, 2, 'the checkpoints stay');
  fs.writeFileSync(path.join(out, 'notes.txt'), 'mine\n');
  fs.writeFileSync(path.join(out, 'cells', 'c999-stale.json'), '{}\n');
  await assert.rejects(runCampaign(config, { outDir: out }), (e: unknown) => e instanceof ConfigError && /--restart/.test((e as Error).message));
  const r = runCli(['run', cfgFile, '--out', out, '--restart', '--json']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(fs.readFileSync(path.join(out, 'notes.txt'), 'utf8'), 'mine\n', "the user's file stays");
  assert.deepEqual(fs.readdirSync(path.join(out, 'cells')).sort(), ['c000-clean.json', 'c001-drift.json', 'c002-drift.json']);
  // --restart refuses a folder that is not a Gauntlet run.
  const other = fresh();
  fs.writeFileSync(path.join(other, 'x.txt'), 'x');
  assertBadInput(runCli(['run', cfgFile, '--out', other, '--restart']), /is not a Gauntlet run .*nothing to restart/);
  assert.equal(fs.readFileSync(path.join(other, 'x.txt'), 'utf8'), 'x');
});

test('an aborted campaign throws RunInterruptedError with the number of cells checkpointed', async () => {
  const config = resolveConfig(
    { model: defaultAssets.model, data: { path: defaultAssets.data, limit: 20 }, bootstrap: 10, stages: ['baseline', 'isolated'], stresses: { drift: [{ corruption: 'contrast', severity: [1, 2, 3] }] } },
    'test',
    repoRoot,
  );
  const out = path.join(fresh(), 'run');
  const ac = new AbortController();
  await assert.rejects(
    runCampaign(config, {
      outDir: out,
      signal: ac.signal,
      onEvent: (e) => {
        if (e.type === 'cell_done' && e.index === 1) ac.abort('SIGTERM');
      },
    }),
    (e: unknown) => e instanceof RunInterruptedError && e.checkpointed === 2 && e.total === 4 && e.exitCode === 143 && !e.removed,
  );
  assert.equal(fs.readdirSync(path.join(out, 'cells')).length, 2);
});

// ---- Ctrl-C ------------------------------------------------------------------------------------

/** Starts `gauntlet ARGS`, sends `sig` once `ready()` holds (polled, at most 60 s), and collects the run. */
function interruptWhen(args: string[], ready: () => boolean, sig: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [cliBin, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    p.stderr.on('data', (d) => (stderr += d));
    const t0 = Date.now();
    const poll = setInterval(() => {
      if (ready()) {
        clearInterval(poll);
        p.kill(sig);
      } else if (Date.now() - t0 > 60_000) {
        clearInterval(poll);
        p.kill('SIGKILL');
        reject(new Error(`not ready within 60 s; stderr: ${stderr}`));
      }
    }, 20);
    p.on('close', (code, signal) => {
      clearInterval(poll);
      resolve({ code, signal, stderr });
    });
  });
}

test('Ctrl-C during run says how many cells are checkpointed and how to resume, exits 130, and --resume completes to the same results', async () => {
  const dir = fresh();
  const cfg = smallYaml(dir, [], 100);
  // Eleven quick cells: the run is still going for a moment after the first checkpoint.
  fs.writeFileSync(cfg, fs.readFileSync(cfg, 'utf8').replace(/drift: .*/, 'drift: [ { corruption: contrast, severity: [1, 2, 3, 4, 5] }, { corruption: gaussian_noise, severity: [1, 2, 3, 4, 5] } ]'));
  const ref = path.join(dir, 'ref');
  const full = await runCliAsync(['run', cfg, '--out', ref, '--json']);
  assert.equal(full.code, 0, full.stderr);

  const out = path.join(dir, 'run');
  const cells = path.join(out, 'cells');
  const r = await interruptWhen(['run', cfg, '--out', out], () => fs.existsSync(cells) && fs.readdirSync(cells).length > 0, 'SIGINT');
  assert.equal(r.signal, null, 'the CLI exits by itself, not killed by the signal');
  assert.equal(r.code, 130, r.stderr);
  const last = r.stderr.trimEnd().split('\n').at(-1)!.replace(/^.*\r\x1b\[K/, '');
  const m = /^gauntlet: interrupted \(SIGINT\); (\d+) of (\d+) cells checkpointed in (.+); continue with: (gauntlet run .*)$/.exec(last);
  assert.ok(m, last);
  const saved = fs.readdirSync(cells).filter((f) => f.endsWith('.json'));
  assert.equal(Number(m[1]), saved.length);
  assert.ok(Number(m[1]) >= 1 && Number(m[1]) < Number(m[2]));
  assert.equal(m[3], out);
  assert.equal(m[4], `gauntlet run ${cfg} --out ${out} --resume`);
  assert.deepEqual(fs.readdirSync(out).filter((f) => f.includes('.tmp') || f.startsWith('.')), [], 'no half-written file');

  const resumed = await runCliAsync(['run', cfg, '--out', out, '--resume', '--json']);
  assert.equal(resumed.code, 0, resumed.stderr);
  assert.match(resumed.stderr, new RegExp(`resuming: ${saved.length} of ${m[2]} cells already done`));
  assert.deepEqual(cellMetrics(out), cellMetrics(ref));
});

test('SIGTERM before any checkpoint exits 143, removes the new run directory and gives the command to start again', async () => {
  const dir = fresh();
  // The first cell is a long attack: the signal lands before it is checkpointed.
  const cfg = smallYaml(dir, ['  adversarial: [ { attack: pgd, norm: linf, eps: 0.03, steps: 200 } ]'], 300);
  fs.writeFileSync(cfg, fs.readFileSync(cfg, 'utf8').replace('stages: [baseline, isolated]', 'stages: [isolated]'));
  const out = path.join(dir, 'run');
  const r = await interruptWhen(['run', cfg, '--out', out], () => fs.existsSync(path.join(out, 'manifest.json')), 'SIGTERM');
  assert.equal(r.signal, null);
  assert.equal(r.code, 143, r.stderr);
  const last = r.stderr.trimEnd().split('\n').at(-1)!.replace(/^.*\r\x1b\[K/, '');
  const cellsSaved = fs.existsSync(path.join(out, 'cells')) ? fs.readdirSync(path.join(out, 'cells')).length : 0;
  if (cellsSaved === 0) {
    assert.equal(last, `gauntlet: interrupted (SIGTERM) before any cell was checkpointed; removed what this run created in ${out}; start again with: gauntlet run ${cfg} --out ${out}`);
    assert.ok(!fs.existsSync(out));
  } else {
    // The baseline finished before the signal arrived: the line says what was saved.
    assert.match(last, new RegExp(`^gauntlet: interrupted \\(SIGTERM\\); ${cellsSaved} of 3 cells checkpointed`));
  }
});
