/**
 * `gauntlet stream` end to end, through a child process: the default scenario (the example
 * on the embedded model; its acceptance criteria checked from stream.json), a small scenario file
 * in both output modes, and bad scenarios (exit 2, one stderr line naming the key).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { assertBadInput, lastJson, runCliAsync, tmpDir } from './helpers.js';

const dir = tmpDir('gauntlet-stream-cli-');
const gauntlet = (...args: string[]) => runCliAsync(args, { cwd: dir });

async function failsWith(args: string[], pattern: RegExp): Promise<void> {
  assertBadInput(await gauntlet(...args), pattern);
}

test('gauntlet stream alone runs the default scenario: 3 episodes found by their kind within 300 items, at most 2 false alarms', { timeout: 240_000 }, async () => {
  const out = path.join(dir, 'default-run');
  const r = await gauntlet('stream', '--json', '--out', out, '--threads', '2');
  assert.equal(r.code, 0, r.stderr);
  const j = lastJson(r.stdout);
  assert.equal(j.episodes, 3);
  assert.equal(j.detected, 3);
  assert.equal(j.missed, 0);
  assert.ok((j.alerts as number) > 0);
  assert.ok((j.false_alarms as number) <= 2, `false alarms ${j.false_alarms}`);
  assert.ok((j.delays as number[]).every((d) => d !== null && d <= 300), `delays ${JSON.stringify(j.delays)}`);
  assert.ok((j.latency_p50_ms as number) > 0 && (j.latency_p99_ms as number) >= (j.latency_p50_ms as number));
  const s = JSON.parse(fs.readFileSync(path.join(out, 'stream.json'), 'utf8'));
  const kindOf = new Map<string, string>(s.monitors.map((m: { name: string; kind: string }) => [m.name, m.kind]));
  for (const e of s.episodes) assert.ok(e.kinds.includes(kindOf.get(e.monitor)), `episode at ${e.from} detected by ${e.monitor}`);
  for (const f of j.files as string[]) assert.ok(fs.existsSync(path.join(out, f)), f);
  console.log(`default scenario, seed 0: delays ${JSON.stringify(j.delays)}, false alarms ${j.false_alarms}, latency p50/p95/p99 ${[j.latency_p50_ms, j.latency_p95_ms, j.latency_p99_ms].map((v) => (v as number).toFixed(2)).join('/')} ms, ${(j.throughput as number).toFixed(1)} items/s, ${(j.seconds as number).toFixed(1)} s`);
});

const smallYaml = `
length: 1500
label_delay: 50
monitors:
  - { type: ks, on: confidence, reference: 400 }
  - { type: ks, on: input-tv, reference: 400 }
  - page-hinkley
segments:
  - { from: 800, to: 1200, drift: { corruption: gaussian_noise, severity: 5 } }
serving: { max_batch: 8 }
`;

test('a scenario file, --seed and both output modes', { timeout: 120_000 }, async () => {
  const file = path.join(dir, 'small.yaml');
  fs.writeFileSync(file, smallYaml);
  const r = await gauntlet('stream', file, '--seed', '9', '--json', '--out', path.join(dir, 'small'), '--threads', '2');
  assert.equal(r.code, 0, r.stderr);
  const j = lastJson(r.stdout);
  assert.equal(j.seed, 9);
  assert.equal(j.items, 1500);
  assert.equal(j.episodes, 1);
  assert.equal(j.detected, 1);
  assert.deepEqual(j.files, ['stream.json', 'events.jsonl', 'timeline.html']);
  const h = await gauntlet('stream', file, '--out', path.join(dir, 'small-h'), '--threads', '2');
  assert.equal(h.code, 0, h.stderr);
  assert.match(h.stdout, /episode 0 \[800, 1200\) drift +detected after \d+ items by ks-/);
  assert.match(h.stdout, /latency +p50 [\d.]+ ms, p95 [\d.]+ ms, p99 [\d.]+ ms at 200 items\/s offered/);
  assert.match(h.stdout, /wrote .*stream\.json, .*events\.jsonl, .*timeline\.html/);
});

test('bad scenarios and options: exit 2 with one stderr line naming the key', { timeout: 60_000 }, async () => {
  const bad = path.join(dir, 'bad.yaml');
  fs.writeFileSync(bad, 'segments:\n  - { from: 2000, to: 3000, drift: { corruption: gaussian_noise, severity: 9 } }\n');
  await failsWith(['stream', bad], /^gauntlet: 'segments\[0\]\.drift\.severity' must be an integer in \[1, 5\], got 9$/);
  const badMon = path.join(dir, 'bad-monitor.yaml');
  fs.writeFileSync(badMon, 'monitors: [{ type: adwin, delta: 5 }]\n');
  await failsWith(['stream', badMon], /^gauntlet: 'monitors\[0\]\.delta' must be a number in \(0, 1\), got 5$/);
  await failsWith(['stream', path.join(dir, 'nope.yaml')], /^gauntlet: .*nope\.yaml: no such file$/);
  await failsWith(['stream', '--seed', '1.5'], /^gauntlet: '--seed' must be an integer in \[0, /);
  await failsWith(['stream', 'a.yaml', 'b.yaml'], /^gauntlet: stream: takes at most one SCENARIO file, got 2$/);
});

test('gauntlet stream --help lists the scenario keys and monitor types', async () => {
  const r = await gauntlet('stream', '--help');
  assert.equal(r.code, 0);
  for (const t of ['ks', 'psi', 'mmd', 'adwin', 'page-hinkley', 'ddm', 'squeeze', 'annotation-disagreement']) assert.match(r.stdout, new RegExp(`\\n  ${t} `));
  assert.match(r.stdout, /delta \(0, 1\), default 0\.002/);
  const top = await gauntlet('--help');
  assert.match(top.stdout, /\n  stream +replay a stream/);
});
