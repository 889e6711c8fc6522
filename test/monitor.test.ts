/**
 * `gauntlet monitor`: the proxy in front of a real `gauntlet serve` (in-process, loopback), a real
 * webhook receiver, clean then noise traffic through it: answers unchanged, the KS monitor on
 * confidence alerts on the noise, delayed labels feed ADWIN, /metrics parses as Prometheus text,
 * a killed upstream gives counted 502s. Every loop is bounded.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Model } from '../src/engine/model.js';
import { loadDataset } from '../src/data/load.js';
import { defaultAssets } from '../src/defaults.js';
import { startServer } from '../src/serve/server.js';
import { startMonitorProxy } from '../src/monitor/proxy.js';
import { resolveMonitor } from '../src/stream/scenario.js';
import { Rng } from '../src/rng.js';
import { assertBadInput, cliBin, runCliAsync, scratchDirs, webhook } from './helpers.js';

const scratch = scratchDirs('gauntlet-monitor-');

/** Prometheus text exposition: every non-comment line is `name{labels} value`. */
function parseProm(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{[^}]*\})?) (-?(?:[0-9.e+-]+|NaN|\+Inf|-Inf))$/.exec(line);
    assert.ok(m, `not Prometheus text: ${line}`);
    out.set(m[1]!, Number(m[2]));
  }
  return out;
}

test('proxy: answers unchanged, KS alerts on noise traffic, labels feed ADWIN, webhook and /metrics', async () => {
  const model = await Model.open(defaultAssets.model, { threads: 1 });
  const ds = await loadDataset({ path: defaultAssets.data, limit: 400 });
  const upstream = await startServer(model, { name: 'fm', port: 0 });
  const hook = await webhook('/alerts');
  const received = hook.received;
  const monitors = [resolveMonitor({ type: 'ks', on: 'confidence', reference: 200, window: 50, alpha: 1e-4 }, 'm0'), resolveMonitor({ type: 'adwin', direction: 'up', grace: 20 }, 'm1')];
  const proxy = await startMonitorProxy({ upstream: upstream.url, port: 0, monitors, alertWebhook: hook.url });
  try {
    const infer = async (x: Float32Array, n: number, id: string, binary: boolean) => {
      const head: any = { id, inputs: [{ name: 'input', shape: [n, 1, 28, 28], datatype: 'FP32', ...(binary ? { parameters: { binary_data_size: x.byteLength } } : { data: Array.from(x) }) }] };
      const h = Buffer.from(JSON.stringify(head));
      const body = binary ? Buffer.concat([h, Buffer.from(x.slice().buffer)]) : h;
      const r = await fetch(`${proxy.url}/v2/models/fm/infer`, { method: 'POST', headers: binary ? { 'inference-header-content-length': String(h.length) } : {}, body: body as unknown as BodyInit, signal: AbortSignal.timeout(20000) });
      assert.equal(r.status, 200);
      return { ids: r.headers.get('gauntlet-item-ids'), json: (await r.json()) as any };
    };
    // Clean traffic: 300 items in 30 requests; the answers are the model's.
    for (let b = 0; b < 30; b++) {
      const x = ds.x.subarray(b * 10 * 784, (b + 1) * 10 * 784);
      const r = await infer(x, 10, `req-${b}`, b % 2 === 0);
      assert.equal(r.ids, `${b * 10}-${b * 10 + 9}`);
      assert.deepEqual(Float32Array.from(r.json.outputs[0].data), (await model.predictBatch(x, 10)).scores);
    }
    assert.equal(proxy.alerts.length, 0, JSON.stringify(proxy.alerts));
    // Labels: right for the first 200 items (by id), then wrong for 100 (by request id).
    const lab = async (body: unknown) => {
      const r = await fetch(`${proxy.url}/labels`, { method: 'POST', body: JSON.stringify(body) });
      return { status: r.status, json: (await r.json()) as any };
    };
    const right = await lab({ items: Array.from({ length: 200 }, (_, i) => ({ id: i, label: ds.labels![i]! })) });
    assert.deepEqual(right.json, { matched: 200, unknown: 0 });
    for (let b = 20; b < 30; b++) {
      const wrong = Array.from({ length: 10 }, (_, i) => (ds.labels![b * 10 + i]! + 1) % 10);
      assert.equal((await lab({ request_id: `req-${b}`, labels: wrong })).status, 200);
    }
    assert.ok(proxy.alerts.some((a) => a.monitor === 'adwin' && a.kind === 'performance'), JSON.stringify(proxy.alerts));
    assert.equal((await lab({ request_id: 'nope', labels: [1] })).status, 404);
    assert.equal((await lab({ items: [{ id: 'x' }] })).status, 400);
    // Noise traffic: uniform noise images, far from the clean confidence distribution.
    const rng = new Rng(5);
    for (let b = 0; b < 10 && !proxy.alerts.some((a) => a.monitor === 'ks-confidence'); b++) {
      const x = Float32Array.from({ length: 10 * 784 }, () => rng.uniform());
      await infer(x, 10, `noise-${b}`, true);
    }
    const ks = proxy.alerts.find((a) => a.monitor === 'ks-confidence');
    assert.ok(ks && ks.kind === 'drift' && ks.item >= 300, JSON.stringify(proxy.alerts));
    // Other routes pass through untouched.
    const meta = (await (await fetch(`${proxy.url}/v2/models/fm`)).json()) as any;
    assert.equal(meta.inputs[0].name, 'input');
    const bad = await fetch(`${proxy.url}/v2/models/fm/infer`, { method: 'POST', body: '{' });
    assert.equal(bad.status, 400);
    assert.match(((await bad.json()) as any).error, /not valid JSON/);
    const prom = parseProm(await (await fetch(`${proxy.url}/metrics`)).text());
    assert.ok(prom.get('gauntlet_monitor_alerts_total{monitor="ks-confidence",kind="drift"}')! >= 1);
    assert.ok(prom.get('gauntlet_monitor_alerts_total{monitor="adwin",kind="performance"}')! >= 1);
    assert.ok(prom.get('gauntlet_monitor_items_total')! >= 310);
    assert.equal(prom.get('gauntlet_monitor_labels_total{correct="false"}')! + prom.get('gauntlet_monitor_labels_total{correct="true"}')!, 300);
    assert.ok(prom.get('gauntlet_monitor_labels_total{correct="false"}')! >= 100);
    assert.ok(prom.get('gauntlet_proxy_request_duration_seconds_count{route="infer",status="200"}')! >= 31);
    assert.ok(prom.has('gauntlet_monitor_statistic{monitor="ks-confidence"}'));
    // The webhook got every alert (deliveries finish by close()).
    await proxy.close();
    assert.deepEqual(received.map((a) => a.monitor).sort(), proxy.alerts.map((a) => a.monitor).sort());
    assert.equal(proxy.counts().webhookFailures, 0);
  } finally {
    await proxy.close();
    await upstream.close();
    await model.close();
    await hook.close();
  }
});

test('proxy: a killed upstream gives 502 with the reason, counted; nothing hangs', async () => {
  const model = await Model.open(defaultAssets.model, { threads: 1 });
  const upstream = await startServer(model, { name: 'fm', port: 0 });
  const proxy = await startMonitorProxy({ upstream: upstream.url, port: 0, monitors: [resolveMonitor({ type: 'ks' }, 'm')] });
  try {
    assert.equal((await fetch(`${proxy.url}/v2/health/ready`)).status, 200);
    await upstream.close();
    const t0 = performance.now();
    for (let i = 0; i < 3; i++) {
      const r = await fetch(`${proxy.url}/v2/models/fm/infer`, { method: 'POST', body: '{}', signal: AbortSignal.timeout(10000) });
      assert.equal(r.status, 502);
      assert.match(((await r.json()) as any).error, /did not answer \(ECONNREFUSED\)/);
    }
    assert.ok(performance.now() - t0 < 10000);
    assert.equal(proxy.counts().upstreamErrors, 3);
    const prom = parseProm(await (await fetch(`${proxy.url}/metrics`)).text());
    assert.equal(prom.get('gauntlet_proxy_upstream_errors_total{reason="ECONNREFUSED"}'), 3);
  } finally {
    await proxy.close();
    await model.close();
  }
});

test('gauntlet monitor CLI: starts, proxies, stops on SIGTERM; bad usage is one line', async () => {
  const model = await Model.open(defaultAssets.model, { threads: 1 });
  const upstream = await startServer(model, { name: 'fm', port: 0 });
  const p = spawn(process.execPath, [cliBin, 'monitor', '--upstream', upstream.url, '--port', '0', '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
  const kill = setTimeout(() => p.kill('SIGKILL'), 60000);
  try {
    let out = '';
    const exited = new Promise<number | null>((r) => p.on('close', r));
    const start = await new Promise<any>((resolve, reject) => {
      p.stdout.on('data', (d) => {
        out += d;
        if (out.includes('\n')) resolve(JSON.parse(out.split('\n')[0]!));
      });
      p.on('close', () => reject(new Error('monitor exited')));
    });
    assert.deepEqual(start.monitors, ['ks-confidence', 'psi-confidence', 'mmd-probabilities', 'adwin', 'page-hinkley', 'ddm']);
    assert.equal((await fetch(`${start.url}/v2/health/live`)).status, 200);
    p.kill('SIGTERM');
    assert.equal(await exited, 0);
    assert.equal(JSON.parse(out.trim().split('\n').at(-1)!).stopped, 'SIGTERM');
  } finally {
    clearTimeout(kill);
    p.kill('SIGKILL');
    await upstream.close();
    await model.close();
  }
  const dir = scratch();
  fs.writeFileSync(path.join(dir, 'm.yaml'), 'monitors: [squeeze]\n');
  assertBadInput(await runCliAsync(['monitor']), /'--upstream' is required/);
  assertBadInput(await runCliAsync(['monitor', '--upstream', 'localhost:8000']), /'--upstream' must be an http\(s\) URL/);
  assertBadInput(await runCliAsync(['monitor', '--upstream', 'http://127.0.0.1:1', '--monitors', path.join(dir, 'm.yaml')]), /monitor 'squeeze' \(squeeze\) needs the model itself/);
});
