/**
 * `gauntlet monitor` with a challenger and with abstention: two real `gauntlet serve` instances on
 * loopback (the default model as champion; the same model or one with a shifted class bias as
 * challenger), the proxy in front, a real webhook receiver. Shadow: the user's answers are the
 * champion's, the challenger's disagreement and worse accuracy give a rollback verdict on /status,
 * /metrics and the webhook; a killed shadow never fails a user request. Canary: the seeded routing
 * is the one canaryRoute() gives, and an equal challenger is promoted. Abstention: a confidence floor
 * and a conformal set-size rule from `gauntlet conformal --json`. Every loop is bounded.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { Model } from '../src/engine/model.js';
import { loadDataset } from '../src/data/load.js';
import { defaultAssets } from '../src/defaults.js';
import { startServer } from '../src/serve/server.js';
import { startMonitorProxy } from '../src/monitor/proxy.js';
import { canaryRoute, ChallengerBook, zOf } from '../src/monitor/challenger.js';
import { abstainRule, readConformalCalibration } from '../src/monitor/abstain.js';
import { resolveMonitor } from '../src/stream/scenario.js';
import { argmaxRows, toProbabilities } from '../src/metrics/classification.js';
import { predictionSets } from '../src/uncertainty/conformal.js';
import { readModelFile } from '../src/onnx/load.js';
import { encodeModel } from '../src/onnx/proto.js';
import { assertBadInput, runCliAsync, scratchDirs, webhook } from './helpers.js';

const scratch = scratchDirs('gauntlet-challenger-');

/** The default model with class 6's bias raised by `shift`: it predicts class 6 far more often. */
function shiftedModel(dir: string, shift: number): string {
  const m = readModelFile(defaultAssets.model).proto;
  const t = m.graph.initializer.find((i) => i.name === 'fc2.bias')!;
  const f = new Float32Array(Uint8Array.from(t.raw_data!).buffer);
  f[6] = f[6]! + shift;
  t.raw_data = new Uint8Array(f.buffer);
  const file = path.join(dir, `shifted-${shift}.onnx`);
  fs.writeFileSync(file, encodeModel(m));
  return file;
}

function parseProm(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{[^}]*\})?) (-?(?:[0-9.e+-]+|NaN|Nan|\+Inf|-Inf))$/.exec(line);
    assert.ok(m, `not Prometheus text: ${line}`);
    out.set(m[1]!, Number(m[2]));
  }
  return out;
}

/** One inference request of n images through `base` (binary tensors). */
async function infer(base: string, x: Float32Array, n: number, id: string, headers: Record<string, string> = {}) {
  const head = { id, inputs: [{ name: 'input', shape: [n, 1, 28, 28], datatype: 'FP32', parameters: { binary_data_size: x.byteLength } }] };
  const h = Buffer.from(JSON.stringify(head));
  const r = await fetch(`${base}/v2/models/fm/infer`, { method: 'POST', headers: { 'inference-header-content-length': String(h.length), ...headers }, body: Buffer.concat([h, Buffer.from(x.slice().buffer)]) as unknown as BodyInit, signal: AbortSignal.timeout(20000) });
  return { status: r.status, servedBy: r.headers.get('gauntlet-served-by'), ids: r.headers.get('gauntlet-item-ids'), deferred: r.headers.get('gauntlet-deferred'), json: (await r.json()) as any };
}

/** Waits (bounded) until `cond` holds. */
async function until(cond: () => boolean, ms = 10000): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

test('zOf and the rule on hand-made books: paired shadow CI, undecided below min_labelled, error-rate rollback', () => {
  assert.ok(Math.abs(zOf(0.95) - 1.959964) < 1e-5);
  assert.ok(Math.abs(zOf(0.99) - 2.575829) < 1e-5);
  const rule = { minLabelled: 4, maxAccuracyDrop: 0.01, maxLatencyRatio: 2, maxErrorRate: 0.1, confidence: 0.95 };
  const same = new ChallengerBook('shadow', rule);
  for (let i = 0; i < 4; i++) {
    same.champion(i, i % 3);
    same.challenger(i, i % 3);
  }
  assert.equal(same.verdict().decision, 'undecided');
  for (let i = 0; i < 4; i++) same.label(i, i % 2);
  const v = same.verdict();
  assert.deepEqual([v.decision, v.difference, v.ci], ['promote', 0, [0, 0]]);
  assert.equal(same.agreement().agree, 4);
  const worse = new ChallengerBook('shadow', rule);
  for (let i = 0; i < 40; i++) {
    worse.champion(i, 1);
    worse.challenger(i, i % 2 ? 1 : 0);
    worse.label(i, 1);
  }
  const w = worse.verdict();
  assert.equal(w.decision, 'rollback');
  assert.equal(w.difference, -0.5);
  assert.ok(w.ci![1] < -0.01, JSON.stringify(w));
  const failing = new ChallengerBook('canary', rule);
  for (let i = 0; i < 10; i++) failing.request('challenger', i < 3 ? null : 5);
  assert.match(failing.verdict().reason, /error rate 0\.3000 \(3 of 10 requests\) exceeds 0\.1/);
  // Canary routing: deterministic, about the fraction, and different seeds route differently.
  const a = Array.from({ length: 2000 }, (_, k) => canaryRoute(7, k, 0.25));
  assert.deepEqual(a, Array.from({ length: 2000 }, (_, k) => canaryRoute(7, k, 0.25)));
  const share = a.filter(Boolean).length / a.length;
  assert.ok(share > 0.21 && share < 0.29, String(share));
  assert.notDeepEqual(a, Array.from({ length: 2000 }, (_, k) => canaryRoute(8, k, 0.25)));
});

test('shadow: answers are the champion\'s; a worse challenger is rolled back on labels (status, metrics, webhook); a killed shadow fails no request', { timeout: 120_000 }, async () => {
  const dir = scratch();
  const champion = await Model.open(defaultAssets.model, { threads: 1 });
  const challenger = await Model.open(shiftedModel(dir, 4), { threads: 1 });
  const ds = await loadDataset({ path: defaultAssets.data, limit: 300 });
  const s1 = await startServer(champion, { name: 'fm', port: 0 });
  const s2 = await startServer(challenger, { name: 'shifted', port: 0 });
  const hook = await webhook();
  const monitors = [resolveMonitor({ type: 'ks', on: 'confidence' }, 'm0')];
  // The challenger is named differently: its model URL makes the proxy rewrite the model name.
  const proxy = await startMonitorProxy({ upstream: s1.url, challenger: `${s2.url}/v2/models/shifted`, mode: 'shadow', rule: { minLabelled: 100 }, port: 0, monitors, alertWebhook: hook.url });
  try {
    for (let b = 0; b < 30; b++) {
      const x = ds.x.subarray(b * 10 * 784, (b + 1) * 10 * 784);
      const r = await infer(proxy.url, x, 10, `r${b}`);
      assert.equal(r.status, 200);
      assert.equal(r.servedBy, 'champion');
      assert.equal(r.json.model_name, 'fm');
      assert.deepEqual(Float32Array.from(r.json.outputs[0].data), (await champion.predictBatch(x, 10)).scores);
    }
    await until(() => (proxy.status().challenger as any).compared === 300);
    const st = proxy.status().challenger as any;
    assert.equal(st.challenger.requests, 30);
    assert.equal(st.challenger.errors, 0);
    const cPred = Array.from(argmaxRows((await challenger.predictBatch(ds.x, 300)).scores, 10));
    const pPred = Array.from(argmaxRows((await champion.predictBatch(ds.x, 300)).scores, 10));
    const agree = cPred.filter((c, i) => c === pPred[i]).length / 300;
    assert.ok(agree < 0.95, `agreement ${agree}`);
    assert.equal(st.agreement, agree);
    assert.equal(st.verdict.decision, 'undecided');
    const lab = await fetch(`${proxy.url}/labels`, { method: 'POST', body: JSON.stringify({ items: Array.from({ length: 300 }, (_, i) => ({ id: i, label: ds.labels![i]! })) }) });
    assert.deepEqual(await lab.json(), { matched: 300, unknown: 0 });
    const status = (await (await fetch(`${proxy.url}/status`)).json()) as any;
    const accP = pPred.filter((p, i) => p === ds.labels![i]).length / 300;
    const accC = cPred.filter((p, i) => p === ds.labels![i]).length / 300;
    assert.ok(accC < accP - 0.05, `${accC} vs ${accP}`);
    assert.equal(status.challenger.verdict.decision, 'rollback');
    assert.match(status.challenger.verdict.reason, /worse than champion's by more than 0\.01/);
    assert.ok(Math.abs(status.challenger.verdict.difference - (accC - accP)) < 1e-12);
    assert.deepEqual(status.challenger.verdict.labelled, { champion: 300, challenger: 300 });
    const prom = parseProm(await (await fetch(`${proxy.url}/metrics`)).text());
    assert.equal(prom.get('gauntlet_challenger_verdict{decision="rollback"}'), 1);
    assert.equal(prom.get('gauntlet_challenger_verdict{decision="promote"}'), 0);
    assert.equal(prom.get('gauntlet_challenger_requests_total{model="challenger",outcome="ok"}'), 30);
    assert.ok(Math.abs(prom.get('gauntlet_challenger_agreement')! - agree) < 1e-9);
    assert.equal(prom.get('gauntlet_challenger_model_duration_seconds_count{model="champion"}'), 30);
    await until(() => hook.received.some((e) => e.event === 'challenger_verdict'));
    const ev = hook.received.find((e) => e.event === 'challenger_verdict');
    assert.equal(ev.decision, 'rollback');
    assert.equal(ev.mode, 'shadow');
    // The shadow dies: users still get the champion's answers, at once; the errors are counted.
    await s2.close();
    const t0 = performance.now();
    for (let b = 0; b < 5; b++) {
      const r = await infer(proxy.url, ds.x.subarray(0, 784), 1, `k${b}`);
      assert.equal(r.status, 200);
    }
    assert.ok(performance.now() - t0 < 10000);
    await until(() => (proxy.status().challenger as any).challenger.errors === 5);
    const prom2 = parseProm(await (await fetch(`${proxy.url}/metrics`)).text());
    // Refused connections (a kept-alive socket closed under a request may read as a reset).
    const errs = [...prom2].filter(([k]) => k.startsWith('gauntlet_challenger_errors_total{'));
    assert.equal(errs.reduce((a, [, v]) => a + v, 0), 5, JSON.stringify(errs));
    assert.ok(prom2.get('gauntlet_challenger_errors_total{reason="ECONNREFUSED"}')! >= 3, JSON.stringify(errs));
  } finally {
    await proxy.close();
    await s1.close();
    await s2.close().catch(() => {});
    await hook.close();
    await champion.close();
    await challenger.close();
  }
});

test('canary: seeded routing, Gauntlet-Served-By, an equal challenger promoted after min_labelled', { timeout: 120_000 }, async () => {
  const champion = await Model.open(defaultAssets.model, { threads: 1 });
  const twin = await Model.open(defaultAssets.model, { threads: 1 });
  const ds = await loadDataset({ path: defaultAssets.data, limit: 400 });
  const s1 = await startServer(champion, { name: 'fm', port: 0 });
  const s2 = await startServer(twin, { name: 'fm', port: 0 });
  const hook = await webhook();
  const proxy = await startMonitorProxy({ upstream: s1.url, challenger: s2.url, mode: 'canary', canaryFraction: 0.5, seed: 3, rule: { minLabelled: 100, maxAccuracyDrop: 0.2, maxLatencyRatio: 1000 }, port: 0, monitors: [resolveMonitor({ type: 'ks', on: 'confidence' }, 'm0')], alertWebhook: hook.url });
  try {
    const served: string[] = [];
    for (let b = 0; b < 40; b++) {
      const r = await infer(proxy.url, ds.x.subarray(b * 10 * 784, (b + 1) * 10 * 784), 10, `c${b}`);
      assert.equal(r.status, 200);
      served.push(r.servedBy!);
    }
    assert.deepEqual(served, Array.from({ length: 40 }, (_, k) => (canaryRoute(3, k, 0.5) ? 'challenger' : 'champion')));
    const nC = served.filter((s) => s === 'challenger').length;
    assert.ok(nC >= 10 && nC <= 30, String(nC));
    await until(() => proxy.counts().items === 400 && ((proxy.status().challenger as any).champion.requests + (proxy.status().challenger as any).challenger.requests) === 40);
    await fetch(`${proxy.url}/labels`, { method: 'POST', body: JSON.stringify({ items: Array.from({ length: 400 }, (_, i) => ({ id: i, label: ds.labels![i]! })) }) });
    const v = proxy.status().challenger!.verdict;
    assert.deepEqual(v.labelled, { champion: 400 - 10 * nC, challenger: 10 * nC });
    assert.equal(v.decision, 'promote', v.reason);
    assert.ok(v.ci![0] < v.difference! && v.difference! < v.ci![1]);
    await until(() => hook.received.some((e) => e.event === 'challenger_verdict'));
    assert.equal(hook.received.find((e) => e.event === 'challenger_verdict').decision, 'promote');
  } finally {
    await proxy.close();
    await s1.close();
    await s2.close();
    await hook.close();
    await champion.close();
    await twin.close();
  }
});

test('abstention: a confidence floor and a conformal set-size rule, asked per request; deferral rate on /metrics', { timeout: 120_000 }, async () => {
  const dir = scratch();
  const model = await Model.open(defaultAssets.model, { threads: 1 });
  const ds = await loadDataset({ path: defaultAssets.data, limit: 100 });
  const s1 = await startServer(model, { name: 'fm', port: 0 });
  const calib = path.join(dir, 'conformal.json');
  const c = await runCliAsync(['conformal', '--limit', '600', '--alpha', '0.1', '--json', '--threads', '1']);
  assert.equal(c.code, 0, c.stderr);
  fs.writeFileSync(calib, c.stdout);
  const cal = readConformalCalibration(calib);
  const proxy = await startMonitorProxy({ upstream: s1.url, port: 0, monitors: [resolveMonitor({ type: 'ks', on: 'confidence' }, 'm0')], abstain: abstainRule({ confidence: 0.9 }) });
  const proxy2 = await startMonitorProxy({ upstream: s1.url, port: 0, monitors: [resolveMonitor({ type: 'ks', on: 'confidence' }, 'm0')], abstain: abstainRule({ conformal: cal, maxSetSize: 1 }) });
  try {
    const x = ds.x.subarray(0, 50 * 784);
    const out = await model.predictBatch(x, 50);
    const probs = toProbabilities(out.scores, 10, model.outputKind as 'logits');
    const predicted = argmaxRows(out.scores, 10);
    const conf = Array.from({ length: 50 }, (_, i) => Math.max(...probs.subarray(i * 10, i * 10 + 10)));
    const want = conf.map((p, i) => (p < 0.9 ? -1 : predicted[i]!));
    const r = await infer(proxy.url, x, 50, 'a', { 'gauntlet-abstain': '1' });
    assert.equal(r.status, 200);
    assert.deepEqual(r.json.outputs.map((o: any) => o.name), ['prediction', 'confidence']);
    assert.deepEqual(r.json.outputs[0].data, want);
    const nDeferred = want.filter((v) => v === -1).length;
    assert.ok(nDeferred > 0 && nDeferred < 50, String(nDeferred));
    assert.equal(r.deferred, String(nDeferred));
    assert.equal(r.json.parameters.gauntlet_deferred, nDeferred);
    // Not asked: the scores, unchanged.
    const plain = await infer(proxy.url, x, 50, 'b');
    assert.equal(plain.json.outputs[0].name, 'logits');
    const prom = parseProm(await (await fetch(`${proxy.url}/metrics`)).text());
    assert.equal(prom.get('gauntlet_abstain_items_total{deferred="true"}'), nDeferred);
    assert.ok(Math.abs(prom.get('gauntlet_abstain_deferral_rate')! - nDeferred / 50) < 1e-12);
    assert.deepEqual(proxy.status().abstain, { rule: 'confidence < 0.9', items: 50, deferred: nDeferred, deferral_rate: nDeferred / 50 });
    // Conformal: deferred exactly where the prediction set has more than one class.
    const sizes = predictionSets(cal, probs, 10).sizes;
    const r2 = await infer(proxy2.url, x, 50, 'c', { 'gauntlet-abstain': 'true' });
    assert.deepEqual(r2.json.outputs[2].data, Array.from(sizes));
    assert.deepEqual(r2.json.outputs[0].data, Array.from(sizes, (s, i) => (s > 1 ? -1 : predicted[i]!)));
    // A proxy without a rule says so.
    const proxy3 = await startMonitorProxy({ upstream: s1.url, port: 0, monitors: [resolveMonitor({ type: 'ks', on: 'confidence' }, 'm0')] });
    try {
      const r3 = await infer(proxy3.url, x, 50, 'd', { 'gauntlet-abstain': '1' });
      assert.equal(r3.status, 400);
      assert.match(r3.json.error, /abstention is not configured/);
    } finally {
      await proxy3.close();
    }
  } finally {
    await proxy.close();
    await proxy2.close();
    await s1.close();
    await model.close();
  }
  // CLI: the options go through the schema; bad combinations are one line.
  assertBadInput(await runCliAsync(['monitor', '--upstream', 'http://127.0.0.1:1', '--mode', 'canary']), /'--mode' applies to a challenger; give '--challenger URL' too/);
  assertBadInput(await runCliAsync(['monitor', '--upstream', 'http://127.0.0.1:1', '--challenger', 'x:1']), /'--challenger' must be an http\(s\) URL/);
  assertBadInput(await runCliAsync(['monitor', '--upstream', 'http://127.0.0.1:1', '--challenger', 'http://127.0.0.1:2', '--canary-fraction', '0.2']), /'--canary-fraction' applies to '--mode canary'/);
  assertBadInput(await runCliAsync(['monitor', '--upstream', 'http://127.0.0.1:1', '--challenger', 'http://127.0.0.1:2', '--mode', 'canary', '--canary-fraction', '1.5']), /'--canary-fraction' must be a number in \(0, 1\), got 1\.5/);
  assertBadInput(await runCliAsync(['monitor', '--upstream', 'http://127.0.0.1:1', '--abstain-conformal', calib + '.missing']), /cannot read the conformal calibration/);
  assertBadInput(await runCliAsync(['monitor', '--upstream', 'http://127.0.0.1:1', '--abstain-confidence', '2']), /'--abstain-confidence' must be a number in \[0, 1\], got 2/);
});
