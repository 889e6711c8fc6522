import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { CampaignEvent } from '../src/campaign/runner.js';
import { loadDataset } from '../src/data/load.js';
import { defaultAssets } from '../src/defaults.js';
import { Model } from '../src/engine/model.js';
import { getMethod } from '../src/explain/registry.js';
import { campaignProgress, formatDuration, phasedReporter, progressEnabled, progressReporter, ProgressLine, breakProgressLine } from '../src/cli/progress.js';
import { Rng } from '../src/rng.js';
import { runAttack, type AttackSpec } from '../src/stress/adversarial/index.js';
import { getCorruption, mmdTest } from '../src/stress/drift/index.js';
import { cliBin, runCli, scratchDirs } from './helpers.js';

/** A fake terminal: every write kept; `screen()` replays \r and ESC[K to what a terminal would show. */
function fakeTty(columns?: number) {
  const writes: string[] = [];
  return {
    isTTY: true,
    columns,
    writes,
    write(s: string) {
      writes.push(s);
      return true;
    },
    all: () => writes.join(''),
    screen: () => screen(writes.join('')),
  };
}

function screen(raw: string): string[] {
  const lines: string[] = [''];
  for (const part of raw.split(/(\r|\n|\x1b\[K)/)) {
    if (part === '\r' || part === '\x1b[K') lines[lines.length - 1] = part === '\r' ? '' : lines[lines.length - 1]!;
    else if (part === '\n') lines.push('');
    else lines[lines.length - 1] += part;
  }
  return lines;
}

function fakeClock(start = 0) {
  const c = { t: start, now: () => c.t };
  return c;
}

test('formatDuration: seconds, minutes:seconds, hours', () => {
  assert.equal(formatDuration(0), '0s');
  assert.equal(formatDuration(41_600), '42s');
  assert.equal(formatDuration(187_000), '3:07');
  assert.equal(formatDuration(3_729_000), '1:02:09');
  assert.equal(formatDuration(NaN), '?');
});

test('progress line: label, done/total, percent, elapsed, and an ETA from the rate so far', () => {
  const s = fakeTty();
  const c = fakeClock();
  const line = new ProgressLine('attack', { stream: s, now: c.now, delayMs: 0, intervalMs: 0 });
  c.t = 2000;
  line.update(500, 2000);
  // 500 items in 2 s → 1500 left at 250/s = 6 s
  assert.deepEqual(s.screen(), ['attack  500/2000  25%  2s elapsed  ETA 6s']);
  c.t = 60_000;
  line.update(1000, 2000);
  assert.deepEqual(s.screen(), ['attack  1000/2000  50%  1:00 elapsed  ETA 1:00']);
  assert.ok(s.all().startsWith('\r\x1b[K'), 'each draw returns to the line start and clears it');
});

test('progress line: no ETA until a few items are done and a second has passed', () => {
  const s = fakeTty();
  const c = fakeClock();
  const line = new ProgressLine('eval', { stream: s, now: c.now, delayMs: 0, intervalMs: 0 });
  c.t = 5000;
  line.update(2, 100); // only 2 items: a rate from 2 items says nothing yet
  assert.deepEqual(s.screen(), ['eval  2/100  2%  5s elapsed']);
  c.t = 500;
  const quick = new ProgressLine('eval', { stream: s, now: c.now, delayMs: 0, intervalMs: 0 });
  c.t = 900;
  quick.update(50, 100); // 50 items but under a second
  assert.doesNotMatch(s.screen().at(-1)!, /ETA/);
  c.t = 1500;
  quick.update(60, 100);
  assert.match(s.screen().at(-1)!, /ETA 1s$/);
});

test('progress line: redraws at most once per interval, the final line always, with a newline', () => {
  const s = fakeTty();
  const c = fakeClock();
  const line = new ProgressLine('corrupt', { stream: s, now: c.now, delayMs: 0, intervalMs: 200 });
  for (let i = 1; i < 100; i++) {
    c.t = i * 10; // every 10 ms: one redraw per 200 ms
    line.update(i, 100);
  }
  assert.equal(s.writes.length, 5, `draws at 10, 210, 410, 610, 810 ms, got ${s.writes.length}`);
  c.t = 995;
  line.update(100, 100);
  assert.equal(s.writes.length, 6);
  assert.ok(s.writes.at(-1)!.endsWith('\n'), 'the final line ends with a newline');
  assert.deepEqual(s.screen(), ['corrupt  100/100  100%  done in 1s', '']);
  line.update(100, 100);
  assert.equal(s.writes.length, 6, 'nothing after the final line');
});

test('progress line: a task shorter than the delay prints nothing, not even a final line', () => {
  const s = fakeTty();
  const c = fakeClock();
  const line = new ProgressLine('eval', { stream: s, now: c.now, delayMs: 500, intervalMs: 0 });
  for (let i = 1; i <= 10; i++) {
    c.t = i * 40;
    line.update(i, 10);
  }
  assert.equal(s.all(), '');
});

test('progress is off when stderr is not a terminal; GAUNTLET_PROGRESS=1 or 0 overrides', () => {
  assert.equal(progressEnabled({ write: () => true, isTTY: false }, {}), false);
  assert.equal(progressEnabled({ write: () => true, isTTY: true }, {}), true);
  assert.equal(progressEnabled({ write: () => true, isTTY: false }, { GAUNTLET_PROGRESS: '1' }), true);
  assert.equal(progressEnabled({ write: () => true, isTTY: true }, { GAUNTLET_PROGRESS: '0' }), false);
  const writes: string[] = [];
  const pipe = { write: (x: string) => writes.push(x), isTTY: false };
  const cb = progressReporter('eval', false, { stream: pipe });
  cb(1, 2);
  cb(2, 2);
  const line = new ProgressLine('x', { stream: pipe, enabled: false, delayMs: 0 });
  line.update(1, 2);
  line.log('hello');
  assert.deepEqual(writes, []);
});

test('progress line: fits the terminal width (a wrapped line could not be overwritten)', () => {
  const s = fakeTty(30);
  const c = fakeClock();
  const line = new ProgressLine('a-rather-long-label-for-a-narrow-terminal', { stream: s, now: c.now, delayMs: 0 });
  line.update(1, 10);
  const shown = s.screen()[0]!;
  assert.ok(shown.length <= 29, shown);
  assert.ok(shown.endsWith('…'));
});

test('progress line: skipped (checkpointed) items count as done but not towards the rate; log lines go above', () => {
  const s = fakeTty();
  const c = fakeClock();
  const line = new ProgressLine('cells', { stream: s, now: c.now, delayMs: 0, intervalMs: 0, minItems: 1 });
  line.skip(6, 12); // 6 cells from a checkpoint, instantly
  c.t = 10_000;
  line.log('[7/12] cell-7 accuracy 0.8');
  line.update(7, 12); // one computed cell in 10 s → 5 left = 50 s
  assert.deepEqual(s.screen(), ['[7/12] cell-7 accuracy 0.8', 'cells  7/12  58%  10s elapsed  ETA 50s']);
  breakProgressLine(); // an error message must start on its own line
  assert.deepEqual(s.screen(), ['[7/12] cell-7 accuracy 0.8', 'cells  7/12  58%  10s elapsed  ETA 50s', '']);
});

test('phased progress: one line per phase, each closed by its own final line', () => {
  const s = fakeTty();
  const c = fakeClock();
  const cb = phasedReporter('mmd', { stream: s, now: c.now, delayMs: 0, intervalMs: 0 });
  cb(0, 100, 'distances');
  c.t = 1000;
  cb(100, 100, 'distances');
  cb(0, 20, 'permutations');
  c.t = 3000;
  cb(20, 20, 'permutations');
  assert.deepEqual(s.screen(), ['mmd distances  100/100  100%  done in 1s', 'mmd permutations  20/20  100%  done in 2s', '']);
});

function cellDone(index: number, total: number, cached: boolean, accuracy: number): CampaignEvent {
  return { type: 'cell_done', cell: { id: `c${index}` }, index, total, cached, result: { metrics: { accuracy: { value: accuracy } }, performance: { seconds: 2 } } } as unknown as CampaignEvent;
}

test('run progress: cells done/total with an ETA on a terminal, plain log lines elsewhere', () => {
  const plan = { type: 'plan', plan: { cells: [{}, {}, {}, {}] }, resumed: 1 } as unknown as CampaignEvent;
  const events: CampaignEvent[] = [
    plan,
    { type: 'phase', message: 'clean predictions' },
    cellDone(0, 4, true, 0.9),
    { type: 'cell_start', cell: { id: 'c1' }, index: 1, total: 4 } as unknown as CampaignEvent,
    cellDone(1, 4, false, 0.8),
    cellDone(2, 4, false, 0.7),
    cellDone(3, 4, false, 0.6),
  ];
  const s = fakeTty();
  const c = fakeClock();
  const onEvent = campaignProgress(() => assert.fail('no plain log lines on a terminal'), { stream: s, now: c.now, delayMs: 0, intervalMs: 0 });
  for (const [i, e] of events.entries()) {
    c.t = i * 1000;
    onEvent(e);
    if (i === 4) assert.match(s.screen().at(-1)!, /^cells {2}2\/4 {2}50% {2}4s elapsed {2}ETA 8s$/, s.screen().join('|'));
  }
  const shown = s.screen();
  assert.equal(shown[0], 'resuming: 1 of 4 cells already done');
  assert.match(shown[1]!, /^\[1\/4\] c0 +accuracy 0\.9000 \(checkpoint\)$/);
  assert.match(shown[4]!, /^\[4\/4\] c3 +accuracy 0\.6000 2\.0 s$/);
  assert.match(shown[5]!, /^cells {2}4\/4 {2}100% {2}done in 6s$/);
  assert.equal(shown[6], '');

  const logged: string[] = [];
  const plain = campaignProgress((l) => logged.push(l), { stream: { write: () => assert.fail('no drawing off a terminal'), isTTY: false }, now: c.now });
  for (const [i, e] of events.entries()) {
    c.t = i * 1000;
    plain(e);
  }
  assert.equal(logged[0], 'resuming: 1 of 4 cells already done');
  assert.equal(logged[1], '… clean predictions');
  assert.match(logged[3]!, /^\[2\/4\] c1 +accuracy 0\.8000 2\.0 s {2}ETA \d+s$/);
  assert.doesNotMatch(logged.at(-1)!, /ETA/);
});

test('long library calls report progress: corruptions per image, MMD per phase, explanations per point', async () => {
  const x = Float32Array.from({ length: 8 * 3 * 16 * 16 }, (_, i) => (i % 97) / 97);
  const seen: [number, number][] = [];
  getCorruption('glass_blur').apply(x, [8, 3, 16, 16], 2, new Rng(0), (d, t) => seen.push([d, t]));
  assert.deepEqual(seen.at(-1), [8, 8]);
  assert.ok(seen.length >= 8, 'one call per image');
  assert.ok(seen.every(([d], i) => i === 0 || d >= seen[i - 1]![0]), 'monotone');

  const phases = new Map<string, [number, number][]>();
  const m = mmdTest(x.subarray(0, 4 * 768), x.subarray(4 * 768), 768, new Rng(0), { permutations: 10, onProgress: (d, t, p) => void (phases.get(p) ?? phases.set(p, []).get(p)!).push([d, t]) });
  assert.ok(Number.isFinite(m.mmd2));
  assert.deepEqual(phases.get('distances')!.at(-1), [28, 28]); // 8 items: 28 pairs
  assert.deepEqual(phases.get('permutations')!.at(-1), [10, 10]);
  const plain = mmdTest(x.subarray(0, 4 * 768), x.subarray(4 * 768), 768, new Rng(0), { permutations: 10 });
  assert.deepEqual(plain, m, 'progress does not change the result');

  const model = await Model.open(defaultAssets.model);
  try {
    const ds = await loadDataset({ path: defaultAssets.data, limit: 3 });
    const targets = Int32Array.from(ds.labels!);
    for (const name of ['ig', 'occlusion', 'saliency']) {
      const calls: [number, number][] = [];
      await getMethod(name).explain(model, ds.x, 3, targets, { steps: 4, batchSize: 4, onProgress: (d, t) => calls.push([d, t]) }, new Rng(0));
      assert.ok(calls.length > 0, `${name} reports progress`);
      const [d, t] = calls.at(-1)!;
      assert.equal(d, t, `${name} ends at its total`);
    }
    // an attack reports within a batch (per iteration), not only when a whole stage ends
    for (const spec of [{ attack: 'pgd', norm: 'linf', eps: [0.05], steps: 10 }, { attack: 'square', norm: 'linf', eps: [0.02], queries: 40 }]) {
      const got: number[] = [];
      const ds8 = await loadDataset({ path: defaultAssets.data, limit: 8 });
      await runAttack(model, ds8.x, 8, ds8.labels!, spec as unknown as AttackSpec, new Rng(0), { onProgress: (d) => got.push(d) });
      assert.ok(got.some((d) => d > 0 && d < 8), `${spec.attack}: progress inside the one batch, got [${got.join(', ')}]`);
      assert.equal(got.at(-1), 8);
    }
  } finally {
    await model.close();
  }
});

test('CLI: progress reaches a terminal and stays out of pipes', () => {
  const dir = scratchDirs('gauntlet-progress-')();
  const out = path.join(dir, 'c.npz');
  const args = ['corrupt', '--data', defaultAssets.data, '--corruption', 'glass_blur', '--severity', '2', '--limit', '300', '--out', out, '--permutations', '20'];
  const piped = runCli(args);
  assert.equal(piped.code, 0, piped.stderr);
  assert.equal(piped.stderr, '', 'no progress on a pipe');

  // GAUNTLET_PROGRESS=1 draws on any stream from the first update
  const forced = spawnSync(process.execPath, [cliBin, ...args], { encoding: 'utf8', env: { ...process.env, GAUNTLET_PROGRESS: '1' } });
  assert.equal(forced.status, 0, forced.stderr);
  const lines = screen(forced.stderr);
  assert.match(lines[0]!, /^corrupt {2}300\/300 {2}100% {2}done in \d+s$/, forced.stderr);
  assert.match(lines[1]!, /^mmd distances {2}\d+\/\d+ {2}100% {2}done in/);
  assert.match(lines[2]!, /^mmd permutations {2}20\/20 {2}100% {2}done in/);
  assert.ok(!forced.stdout.includes('\r'), 'stdout untouched');

  // a real pseudo-terminal, when util-linux `script` is there
  const script = ['/usr/bin/script', '/bin/script'].find((p) => fs.existsSync(p));
  if (!script) return;
  const cmd = [process.execPath, cliBin, ...args].map((a) => `'${a}'`).join(' ');
  const tty = spawnSync(script, ['-qec', `${cmd} >/dev/null`, '/dev/null'], { encoding: 'utf8', env: { ...process.env, GAUNTLET_PROGRESS: '1' } });
  assert.equal(tty.status, 0, tty.stdout + tty.stderr);
  assert.match(tty.stdout, /\r\x1b\[Kcorrupt {2}\d+\/300/, 'drawn as a self-overwriting line on the terminal');
  assert.match(tty.stdout, /corrupt {2}300\/300 {2}100% {2}done in \d+s\r?\n/);
});
