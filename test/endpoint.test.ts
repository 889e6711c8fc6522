/**
 * Endpoint models: a deployed model (Open Inference Protocol v2, KServe v1) seen as a black-box
 * Classifier. The endpoint is `gauntlet serve` itself, started on a free loopback port; eval,
 * Square, conformal and streams through it must give exactly what they give locally. Failures
 * (a killed server, 5xx, 400) are named, counted and bounded in time.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Model } from '../src/engine/model.js';
import { evaluate } from '../src/engine/evaluate.js';
import { loadDataset } from '../src/data/load.js';
import type { Dataset } from '../src/data/dataset.js';
import { defaultAssets } from '../src/defaults.js';
import { startServer, type RunningServer } from '../src/serve/server.js';
import { EndpointModel, parseEndpointUrl } from '../src/endpoint/model.js';
import { EndpointError } from '../src/endpoint/client.js';
import { runAttack } from '../src/stress/adversarial/index.js';
import { UnsupportedOpError, UsageError } from '../src/errors.js';
import { parseModelDeclaration } from '../src/options/declarations.js';
import { Rng } from '../src/rng.js';
import { assertBadInput, cliBin, runCliAsync, scratchDirs } from './helpers.js';

let model: Model;
let server: RunningServer;
let ds: Dataset;
let base: string;

before(async () => {
  model = await Model.open(defaultAssets.model, { threads: 1 });
  ds = await loadDataset({ path: defaultAssets.data, limit: 300 });
  server = await startServer(model, { name: 'fmnist', port: 0, maxBatch: 128, maxWaitMs: 2 });
  base = `${server.url}/v2/models/fmnist`;
});

after(async () => {
  await server.close();
  await model.close();
});

test('endpoint URLs: v2 with and without a version, v1; bad ones named', () => {
  assert.deepEqual(parseEndpointUrl('http://h:8000/v2/models/m'), { base: 'http://h:8000', name: 'm', version: null, protocol: 'v2' });
  assert.deepEqual(parseEndpointUrl('https://h/prefix/v2/models/m/versions/3/infer'), { base: 'https://h/prefix', name: 'm', version: '3', protocol: 'v2' });
  assert.deepEqual(parseEndpointUrl('http://h/v1/models/m:predict'), { base: 'http://h', name: 'm', version: null, protocol: 'v1' });
  assert.throws(() => parseEndpointUrl('http://h/models/m'), /must name a model: http\(s\):\/\/HOST\/v2\/models\/NAME/);
  assert.throws(() => parseEndpointUrl('http://h/v1/models/m', 'v2'), /'protocol' is v2 but the URL/);
  // In a declaration: a URL as the path, or the mapping form with the client's settings.
  const ref = parseModelDeclaration({ endpoint: 'http://h/v2/models/m', concurrency: 2, retries: 1, binary: false, headers: { Authorization: 'Bearer t' } }, { where: 'model', baseDir: '/tmp' });
  assert.deepEqual(ref.endpoint, { url: 'http://h/v2/models/m', headers: { Authorization: 'Bearer t' }, timeoutMs: 30000, concurrency: 2, retries: 1, binary: false });
  assert.equal(parseModelDeclaration('http://h/v2/models/m', { where: 'model', baseDir: '/tmp' }).path, 'http://h/v2/models/m');
  assert.throws(() => parseModelDeclaration({ path: 'm.onnx', protocol: 'v1' }, { where: 'model', baseDir: '/tmp' }), /'model.protocol' applies to an endpoint model/);
  assert.throws(() => parseModelDeclaration({ path: 'm.onnx', endpoint: 'http://h/v2/models/m' }, { where: 'model', baseDir: '/tmp' }), /give 'model.path' or 'model.endpoint', not both/);
});

test('binary, JSON and v1 endpoints give exactly the local predictions and metrics', async () => {
  const local = await model.predict(ds, { batchSize: 64 });
  const localEval = await evaluate(model, ds, { batchSize: 64 });
  for (const spec of [{ url: base }, { url: base, binary: false }, { url: `${server.url}/v1/models/fmnist` }, { url: `${base}/versions/1`, concurrency: 1 }]) {
    const m = await EndpointModel.open(spec);
    try {
      assert.deepEqual(m.itemShape, spec.url.includes('/v1/') ? null : [1, 28, 28]);
      const p = await m.predict(ds, { batchSize: 64 });
      assert.equal(p.numClasses, 10);
      assert.deepEqual(p.scores, local.scores, JSON.stringify(spec));
      assert.equal(p.kind, 'logits');
      const ev = await evaluate(m, ds, { batchSize: 64 });
      for (const k of ['accuracy', 'macroF1', 'ece', 'nll', 'brier'] as const) assert.equal(ev[k], localEval[k], `${k} ${JSON.stringify(spec)}`);
      const s = m.serving();
      assert.equal(s.errors, 0);
      assert.equal(s.items, 600);
      assert.ok(s.requests >= 11 && s.latency_p50_ms > 0 && s.throughput > 0, JSON.stringify(s));
      assert.equal(s.tensors, spec.url.includes('/v1/') || spec.binary === false ? 'json' : 'binary');
    } finally {
      await m.close();
    }
  }
});

test('Square through the endpoint equals Square on the local model; gradient attacks refuse, naming square', async () => {
  const few = { x: ds.x.subarray(0, 8 * 784), labels: ds.labels!.subarray(0, 8) };
  const spec = { attack: 'square' as const, norm: 'linf' as const, eps: 0.1, queries: 40 };
  const local = await runAttack(model, few.x, 8, few.labels, spec, new Rng(3), { batchSize: 8 });
  const m = await EndpointModel.open({ url: base });
  const remote = await runAttack(m, few.x, 8, few.labels, spec, new Rng(3), { batchSize: 8 });
  assert.deepEqual(remote.adversarial, local.adversarial);
  assert.deepEqual(remote.samples.success, local.samples.success);
  assert.equal(remote.summary.robust_accuracy, local.summary.robust_accuracy);
  await assert.rejects(runAttack(m, few.x, 8, few.labels, { attack: 'pgd', norm: 'linf', eps: 0.1 }, new Rng(3), { batchSize: 8 }), (e: unknown) => {
    assert.ok(e instanceof UnsupportedOpError);
    assert.match((e as Error).message, /is an endpoint, a black-box model.*--attack square/);
    return true;
  });
});

test('a killed server: a named error after bounded retries, nothing hangs', async () => {
  const own = await startServer(model, { name: 'gone', port: 0 });
  const m = await EndpointModel.open({ url: `${own.url}/v2/models/gone`, retries: 2 });
  await own.close();
  const t0 = performance.now();
  await assert.rejects(m.predict(ds, { batchSize: 100 }), (e: unknown) => {
    assert.ok(e instanceof EndpointError);
    assert.equal((e as EndpointError).status, null);
    assert.match((e as Error).message, /^POST http:\/\/127\.0\.0\.1:\d+\/v2\/models\/gone\/infer: no answer \(ECONNREFUSED\) \(after 3 attempts\)$/);
    return true;
  });
  assert.ok(performance.now() - t0 < 10000);
  const s = m.serving();
  assert.equal(s.retries, 2);
  assert.deepEqual(s.errors_by, { network: 3 });
  // Nothing listening at open: the metadata read fails the same way.
  await assert.rejects(EndpointModel.open({ url: `${own.url}/v2/models/gone`, retries: 0 }), /GET .*\/v2\/models\/gone: no answer \(ECONNREFUSED\)$/);
});

test('429 and 5xx are retried with backoff, 4xx are not; errors carry the status and the server\'s error text', async () => {
  // A real HTTP front that answers 503 to the first two inference requests, then forwards to serve.
  let infers = 0;
  const front = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (req.url!.endsWith('/infer') && ++infers <= 2) {
        res.writeHead(infers === 1 ? 429 : 503, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: 'overloaded' }));
        return;
      }
      const up = http.request(`${server.url}${req.url}`, { method: req.method, headers: req.headers }, (r) => {
        res.writeHead(r.statusCode!, r.headers);
        r.pipe(res);
      });
      up.end(Buffer.concat(chunks));
    });
  });
  await new Promise<void>((r) => front.listen(0, '127.0.0.1', r));
  try {
    const url = `http://127.0.0.1:${(front.address() as AddressInfo).port}/v2/models/fmnist`;
    const m = await EndpointModel.open({ url, retries: 3 });
    const p = await m.predict(ds, { batchSize: 300 });
    assert.deepEqual(p.scores, (await model.predict(ds)).scores);
    const s = m.serving();
    assert.equal(s.retries, 2);
    assert.deepEqual(s.errors_by, { 429: 1, 503: 1 });
    infers = 0;
    const strict = await EndpointModel.open({ url, retries: 1 });
    await assert.rejects(strict.predictBatch(ds.x.subarray(0, 784), 1), /HTTP 503 Service Unavailable: overloaded \(after 2 attempts\)$/);
    // A 400 is not retried, and says what the server said.
    const bad = await EndpointModel.open({ url: base, retries: 3 });
    await assert.rejects(bad.predictBatch(new Float32Array(10), 1), (e: unknown) => {
      assert.ok(e instanceof EndpointError);
      assert.equal((e as EndpointError).status, 400);
      assert.match((e as Error).message, /HTTP 400 Bad Request: inputs\[0\] 'input': binary_data_size is 40 bytes but shape \[1, 1, 28, 28\] of FP32 needs 3136$/);
      return true;
    });
    assert.equal(bad.serving().retries, 0);
  } finally {
    await new Promise((r) => front.close(r));
  }
});

test('a server that never answers: the timeout ends the request', async () => {
  const sockets: import('node:net').Socket[] = [];
  const silent = http.createServer(() => {});
  silent.on('connection', (s) => sockets.push(s));
  await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
  try {
    const url = `http://127.0.0.1:${(silent.address() as AddressInfo).port}/v2/models/x`;
    const t0 = performance.now();
    await assert.rejects(EndpointModel.open({ url, timeoutMs: 200, retries: 1 }), /no answer within 200 ms \(after 2 attempts\)/);
    assert.ok(performance.now() - t0 < 5000);
  } finally {
    for (const s of sockets) s.destroy();
    await new Promise((r) => silent.close(r));
  }
});

test('declaring layout or preprocessing for an endpoint is refused', async () => {
  await assert.rejects(EndpointModel.open({ url: base }, { layout: 'NHWC' }), (e: unknown) => e instanceof UsageError && /fold into an ONNX graph/.test((e as Error).message));
});

const scratch = scratchDirs('gauntlet-endpoint-');

/** `gauntlet serve` as a child on a free port; resolves with its URL. */
async function serveChild(args: string[] = []): Promise<{ url: string; child: ChildProcess }> {
  const child = spawn(process.execPath, [cliBin, 'serve', defaultAssets.model, '--port', '0', '--name', 'fm', '--json', '--threads', '1', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    const t = setTimeout(() => reject(new Error('serve did not start in 60 s')), 60000);
    child.stdout!.on('data', (d) => {
      out += d;
      if (out.includes('\n')) {
        clearTimeout(t);
        resolve(JSON.parse(out.split('\n')[0]!).url as string);
      }
    });
    child.on('close', () => reject(new Error('serve exited')));
  });
  return { url, child };
}

test('CLI: eval through gauntlet serve (binary and JSON) equals local eval; white-box verbs refuse in one line', async () => {
  const { url, child } = await serveChild();
  try {
    const limit = ['--limit', '500'];
    const [local, bin, json, conf, confLocal] = await Promise.all([
      runCliAsync(['eval', ...limit, '--json', '--threads', '1'], { timeout: 120000 }),
      runCliAsync(['eval', '--model', url, ...limit, '--json'], { timeout: 120000 }),
      runCliAsync(['eval', '--model', url, '--binary', 'false', '--concurrency', '2', ...limit, '--json'], { timeout: 120000 }),
      runCliAsync(['conformal', '--model', url, ...limit, '--json'], { timeout: 120000 }),
      runCliAsync(['conformal', ...limit, '--json', '--threads', '1'], { timeout: 120000 }),
    ]);
    for (const r of [local, bin, json, conf, confLocal]) assert.equal(r.code, 0, r.stderr);
    for (const k of ['accuracy', 'macro_f1', 'ece', 'nll', 'brier', 'samples', 'data_sha256']) {
      assert.equal(bin.json![k], local.json![k], k);
      assert.equal(json.json![k], local.json![k], k);
    }
    assert.equal(bin.json!.model, url);
    assert.equal(bin.json!.endpoint.tensors, 'binary');
    assert.equal(json.json!.endpoint.tensors, 'json');
    assert.equal(json.json!.endpoint.concurrency, 2);
    assert.equal(bin.json!.endpoint.errors, 0);
    assert.equal(local.json!.endpoint, null);
    assert.deepEqual(conf.json!.clean, confLocal.json!.clean);
    assert.equal(conf.json!.qhat, confLocal.json!.qhat);
    const refusals = await Promise.all([
      runCliAsync(['grad', '--model', url, '--out', path.join(scratch(), 'g.npy')]),
      runCliAsync(['train', '--model', url, '--out', path.join(scratch(), 't.onnx')]),
      runCliAsync(['explain', '--model', url, '--method', 'saliency']),
      runCliAsync(['bench', '--model', url]),
      runCliAsync(['calibrate', '--model', url, '--out', path.join(scratch(), 'c.onnx')]),
      runCliAsync(['attack', '--model', url, '--attack', 'pgd', '--eps', '0.1']),
    ]);
    for (const r of refusals) assertBadInput(r, /is an endpoint, a black-box model with no gradients.*(attack square|--attack square|eval|conformal)/);
    assertBadInput(refusals[5]!, /On an endpoint use the black-box attack: --attack square$/);
    const sq = await runCliAsync(['attack', '--model', url, '--attack', 'square', '--eps', '0.1', '--queries', '20', '--limit', '20', '--json']);
    assert.equal(sq.code, 0, sq.stderr);
    const sqLocal = await runCliAsync(['attack', '--attack', 'square', '--eps', '0.1', '--queries', '20', '--limit', '20', '--json', '--threads', '1']);
    assert.equal(sq.json!.robust_accuracy, sqLocal.json!.robust_accuracy);
    assertBadInput(await runCliAsync(['eval', '--model', 'm.onnx', '--protocol', 'v1']), /'protocol' applies to an endpoint model/);
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('close', r));
  }
  // The server is gone: eval names the failure in one line, exit 2, quickly.
  const t0 = performance.now();
  const gone = await runCliAsync(['eval', '--model', url, '--retries', '1', '--limit', '50'], { timeout: 60000 });
  assertBadInput(gone, /^gauntlet: GET http:\/\/127\.0\.0\.1:\d+\/v2\/models\/fm: no answer \(ECONNREFUSED\) \(after 2 attempts\)$/);
  assert.ok(performance.now() - t0 < 30000);
});

test('stream: a scenario whose model is an endpoint gives the local stream\'s predictions', async () => {
  const dir = scratch();
  const scenario = (m: string) => `model: ${m}\ndata: ${defaultAssets.data}\nseed: 1\nlength: 1600\nrate: 200\nsegments:\n  - { from: 1000, to: 1400, drift: { corruption: gaussian_noise, severity: 4 } }\n`;
  fs.writeFileSync(path.join(dir, 'local.yaml'), scenario(defaultAssets.model));
  fs.writeFileSync(path.join(dir, 'remote.yaml'), scenario(base));
  const [a, b] = await Promise.all([
    runCliAsync(['stream', path.join(dir, 'local.yaml'), '--out', path.join(dir, 'l'), '--json', '--threads', '1'], { timeout: 120000 }),
    runCliAsync(['stream', path.join(dir, 'remote.yaml'), '--out', path.join(dir, 'r'), '--json'], { timeout: 120000 }),
  ]);
  assert.equal(a.code, 0, a.stderr);
  assert.equal(b.code, 0, b.stderr);
  for (const k of ['items', 'alerts', 'detected', 'missed', 'delays', 'false_alarms', 'accuracy', 'deferral_rate']) assert.deepEqual(b.json![k], a.json![k], k);
});

test('campaign: a config whose model is an endpoint gives the local campaign\'s cells; white-box stresses refused before any cell', async () => {
  const dir = scratch();
  const config = (m: string, attack = 'square') =>
    `model: ${m}\ndata: { path: ${defaultAssets.data}, limit: 120 }\nseed: 2\nstages: [baseline, isolated, pairwise]\nbootstrap: 50\nstresses:\n  adversarial: [ { attack: ${attack}, norm: linf, eps: 0.05${attack === 'square' ? ', queries: 15' : ''} } ]\n  drift: [ { corruption: gaussian_noise, severity: 3 } ]\n  annotation: [ { model: symmetric, rate: 0.2 } ]\nuncertainty: { temperature: true, conformal: { alpha: 0.1 } }\n`;
  fs.writeFileSync(path.join(dir, 'local.yaml'), config(defaultAssets.model));
  fs.writeFileSync(path.join(dir, 'remote.yaml'), config(base));
  fs.writeFileSync(path.join(dir, 'pgd.yaml'), config(base, 'pgd'));
  const [a, b] = await Promise.all([
    runCliAsync(['run', path.join(dir, 'local.yaml'), '--out', path.join(dir, 'l'), '--json', '--threads', '1'], { timeout: 300000 }),
    runCliAsync(['run', path.join(dir, 'remote.yaml'), '--out', path.join(dir, 'r'), '--json'], { timeout: 300000 }),
  ]);
  assert.equal(a.code, 0, a.stderr);
  assert.equal(b.code, 0, b.stderr);
  const cells = (d: string) => (JSON.parse(fs.readFileSync(path.join(dir, d, 'results.json'), 'utf8')) as { cells: { id: string; metrics: unknown; uncertainty?: unknown }[] }).cells;
  const [la, rb] = [cells('l'), cells('r')];
  assert.ok(la.length >= 6);
  assert.deepEqual(rb.map((c) => c.id), la.map((c) => c.id));
  rb.forEach((c, i) => {
    assert.deepEqual(c.metrics, la[i]!.metrics, c.id);
    assert.deepEqual(c.uncertainty, la[i]!.uncertainty, c.id);
  });
  // The endpoint's requests, latency and errors are in results.json and both reports; a local
  // model has none.
  const perf = (d: string) => (JSON.parse(fs.readFileSync(path.join(dir, d, 'results.json'), 'utf8')) as { performance: { endpoints?: { model: string; url: string; requests: number; items: number; errors: number; latency_p50_ms: number }[] } }).performance;
  assert.equal(perf('l').endpoints, undefined);
  const [served] = perf('r').endpoints!;
  assert.equal(served!.model, 'base');
  assert.equal(served!.url, base);
  assert.ok(served!.requests > 0 && served!.items >= 120 && served!.errors === 0 && served!.latency_p50_ms > 0, JSON.stringify(served));
  assert.match(fs.readFileSync(path.join(dir, 'r', 'report.md'), 'utf8'), /## Serving \(endpoints\)[\s\S]*\| base \| http/);
  assert.match(fs.readFileSync(path.join(dir, 'r', 'report.html'), 'utf8'), /<h3>Serving \(endpoints\)<\/h3>.*id="serving-table"/);
  assert.doesNotMatch(fs.readFileSync(path.join(dir, 'l', 'report.md'), 'utf8'), /Serving \(endpoints\)/);
  assertBadInput(await runCliAsync(['run', path.join(dir, 'pgd.yaml'), '--out', path.join(dir, 'p')]), /'stresses\.adversarial\[0\]' \(pgd\): .* is an endpoint.*\{ attack: square \}$/);
  assert.equal(fs.existsSync(path.join(dir, 'p', 'results.json')), false);
});
