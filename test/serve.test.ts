/**
 * `gauntlet serve`: the reference Open Inference Protocol server, started for real on a free
 * loopback port, talked to over HTTP. Requests follow the protocol's own examples (KServe v2 REST
 * spec: JSON tensors flat or nested, the binary-tensor extension with Inference-Header-Content-Length,
 * binary_data_size and binary_data / binary_data_output), and every answer is checked against the
 * same model run locally.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { Model } from '../src/engine/model.js';
import { loadDataset } from '../src/data/load.js';
import { defaultAssets } from '../src/defaults.js';
import { startServer, type RunningServer } from '../src/serve/server.js';
import { Batcher } from '../src/serve/batcher.js';
import { cliBin } from './helpers.js';

let model: Model;
let server: RunningServer;
let x: Float32Array;
const PER = 784;

before(async () => {
  model = await Model.open(defaultAssets.model, { threads: 1 });
  const ds = await loadDataset({ path: defaultAssets.data, limit: 16 });
  x = ds.x;
  server = await startServer(model, { name: 'fmnist', port: 0, maxBatch: 64, maxWaitMs: 30 });
});

after(async () => {
  await server.close();
  await model.close();
});

const url = (p: string) => `${server.url}${p}`;

async function postJson(p: string, body: unknown): Promise<{ status: number; json: any }> {
  const r = await fetch(url(p), { method: 'POST', headers: { 'content-type': 'application/json' }, body: typeof body === 'string' ? body : JSON.stringify(body), signal: AbortSignal.timeout(20000) });
  return { status: r.status, json: await r.json() };
}

/** A binary-extension body: the JSON header, then raw bytes. */
function binaryBody(header: unknown, bytes: Buffer): { body: Buffer; headers: Record<string, string> } {
  const h = Buffer.from(JSON.stringify(header));
  return { body: Buffer.concat([h, bytes]), headers: { 'content-type': 'application/octet-stream', 'inference-header-content-length': String(h.length) } };
}

const rows = (a: number, b: number) => x.subarray(a * PER, b * PER);

test('health, server metadata and model metadata', async () => {
  for (const p of ['/v2/health/live', '/v2/health/ready', '/v2/models/fmnist/ready', '/v2/models/fmnist/versions/1/ready']) {
    const r = await fetch(url(p));
    assert.equal(r.status, 200, p);
  }
  const srv = (await (await fetch(url('/v2'))).json()) as any;
  assert.equal(srv.name, 'gauntlet');
  assert.ok(srv.extensions.includes('binary_tensor_data'));
  const meta = (await (await fetch(url('/v2/models/fmnist'))).json()) as any;
  assert.deepEqual(meta, {
    name: 'fmnist',
    versions: ['1'],
    platform: 'onnxruntime_onnx',
    inputs: [{ name: 'input', datatype: 'FP32', shape: [-1, 1, 28, 28] }],
    outputs: [{ name: 'logits', datatype: 'FP32', shape: [-1, 10] }],
  });
  assert.deepEqual((await (await fetch(url('/v2/models/fmnist/versions/1'))).json()) as any, meta);
});

test('JSON tensors (flat and nested data) give the local model\'s scores', async () => {
  const local = await model.predictBatch(rows(0, 3), 3);
  const flat = await postJson('/v2/models/fmnist/infer', { id: 'req-1', inputs: [{ name: 'input', shape: [3, 1, 28, 28], datatype: 'FP32', data: Array.from(rows(0, 3)) }] });
  assert.equal(flat.status, 200, JSON.stringify(flat.json));
  assert.equal(flat.json.model_name, 'fmnist');
  assert.equal(flat.json.id, 'req-1');
  assert.equal(flat.json.outputs.length, 1);
  const out = flat.json.outputs[0];
  assert.deepEqual([out.name, out.datatype, out.shape], ['logits', 'FP32', [3, 10]]);
  assert.deepEqual(Float32Array.from(out.data), local.scores);
  // Nested as the shape, as the protocol allows; through a version path.
  const nested = Array.from({ length: 3 }, (_, i) => [Array.from({ length: 28 }, (_, r) => Array.from(rows(i, i + 1).subarray(r * 28, r * 28 + 28)))]);
  const n = await postJson('/v2/models/fmnist/versions/1/infer', { inputs: [{ name: 'input', shape: [3, 1, 28, 28], datatype: 'FP32', data: nested }], outputs: [{ name: 'logits' }] });
  assert.equal(n.status, 200);
  assert.deepEqual(Float32Array.from(n.json.outputs[0].data), local.scores);
});

test('binary tensors in and out are bit-identical to the local model', async () => {
  const local = await model.predictBatch(rows(0, 5), 5);
  const bytes = Buffer.from(rows(0, 5).slice().buffer);
  for (const ask of [{ outputs: [{ name: 'logits', parameters: { binary_data: true } }] }, { parameters: { binary_data_output: true } }]) {
    const { body, headers } = binaryBody({ inputs: [{ name: 'input', shape: [5, 1, 28, 28], datatype: 'FP32', parameters: { binary_data_size: bytes.length } }], ...ask }, bytes);
    const r = await fetch(url('/v2/models/fmnist/infer'), { method: "POST", headers, body: body as unknown as BodyInit });
    assert.equal(r.status, 200);
    const hl = Number(r.headers.get('inference-header-content-length'));
    const buf = Buffer.from(await r.arrayBuffer());
    const header = JSON.parse(buf.subarray(0, hl).toString()) as any;
    assert.deepEqual(header.outputs[0].parameters, { binary_data_size: 5 * 10 * 4 });
    assert.equal(header.outputs[0].data, undefined);
    assert.equal(buf.length - hl, 200);
    const scores = new Float32Array(buf.buffer.slice(buf.byteOffset + hl, buf.byteOffset + buf.length));
    assert.deepEqual(scores, local.scores);
  }
  // Binary input, JSON output (the default).
  const { body, headers } = binaryBody({ inputs: [{ name: 'input', shape: [5, 1, 28, 28], datatype: 'FP32', parameters: { binary_data_size: bytes.length } }] }, bytes);
  const r = await fetch(url('/v2/models/fmnist/infer'), { method: "POST", headers, body: body as unknown as BodyInit });
  const j = (await r.json()) as any;
  assert.equal(r.headers.get('inference-header-content-length'), null);
  assert.deepEqual(Float32Array.from(j.outputs[0].data), local.scores);
});

test('bad requests: 400 (or 404, 405, 413) with {"error"} naming what is wrong', async () => {
  const good = { name: 'input', shape: [1, 1, 28, 28], datatype: 'FP32', data: Array.from(rows(0, 1)) };
  const cases: [string, unknown, number, RegExp][] = [
    ['/v2/models/fmnist/infer', '{"inputs": [', 400, /not valid JSON/],
    ['/v2/models/fmnist/infer', { inputs: [] }, 400, /non-empty list/],
    ['/v2/models/fmnist/infer', { inputs: [{ ...good, name: 'x' }] }, 400, /unknown input 'x'.*has input 'input'/],
    ['/v2/models/fmnist/infer', { inputs: [{ ...good, datatype: 'FP64' }] }, 400, /datatype FP64.*takes FP32/],
    ['/v2/models/fmnist/infer', { inputs: [{ ...good, datatype: 'BYTES' }] }, 400, /datatype BYTES/],
    ['/v2/models/fmnist/infer', { inputs: [{ ...good, shape: [1, 784] }] }, 400, /shape \[1, 784\].*takes \[-1, 1, 28, 28\]/],
    ['/v2/models/fmnist/infer', { inputs: [{ ...good, shape: [2, 1, 28, 28] }] }, 400, /784 values, shape \[2, 1, 28, 28\] holds 1568/],
    ['/v2/models/fmnist/infer', { inputs: [{ ...good, data: ['a'] }] }, 400, /must hold numbers/],
    ['/v2/models/fmnist/infer', { inputs: [good], outputs: [{ name: 'probs' }] }, 400, /unknown output 'probs'/],
    ['/v2/models/fmnist/infer', { inputs: [{ ...good, parameters: { binary_data_size: 3136 } }].map(({ data: _d, ...t }) => t) }, 400, /binary bytes/],
    ['/v2/models/nope/infer', { inputs: [good] }, 404, /unknown model 'nope'/],
    ['/v2/models/fmnist/versions/7/infer', { inputs: [good] }, 404, /unknown version '7'/],
    ['/v2/health/ready', {}, 405, /takes GET/],
    ['/v3/whatever', {}, 404, /no such endpoint/],
    ['/v2/models/%E0%A4%A/infer', { inputs: [good] }, 400, /malformed URL escape/],
  ];
  for (const [p, body, status, msg] of cases) {
    const r = await postJson(p, body);
    assert.equal(r.status, status, `${p} ${JSON.stringify(body).slice(0, 80)} → ${JSON.stringify(r.json)}`);
    assert.equal(typeof r.json.error, 'string');
    assert.match(r.json.error, msg);
  }
  const h = Buffer.from('{}');
  const r = await fetch(url('/v2/models/fmnist/infer'), { method: 'POST', headers: { 'inference-header-content-length': '99' }, body: h });
  assert.equal(r.status, 400);
  assert.match(((await r.json()) as any).error, /Inference-Header-Content-Length must be an integer in \[0, 2\]/);
});

test('dynamic batching: concurrent requests share ONNX Runtime runs, each gets its own rows', async () => {
  const before = server.stats();
  const local = await model.predictBatch(rows(0, 8), 8);
  const answers = await Promise.all(
    Array.from({ length: 8 }, (_, i) => postJson('/v2/models/fmnist/infer', { inputs: [{ name: 'input', shape: [1, 1, 28, 28], datatype: 'FP32', data: Array.from(rows(i, i + 1)) }] })),
  );
  answers.forEach((a, i) => assert.deepEqual(Float32Array.from(a.json.outputs[0].data), local.scores.subarray(i * 10, (i + 1) * 10), `request ${i}`));
  const s = server.stats();
  assert.equal(s.requests - before.requests, 8);
  assert.ok(s.batches - before.batches < 8, `8 concurrent requests in ${s.batches - before.batches} runs`);
  assert.ok(s.maxRequestsPerBatch > 1);
});

test('the batcher flushes at max batch, at max wait, and passes errors to every waiting request', async () => {
  const calls: number[] = [];
  const b = new Batcher(
    async (xs, n) => {
      calls.push(n);
      if (xs[0] === -1) throw new Error('boom');
      return { scores: Float32Array.from(xs, (v) => v * 2), numClasses: 1 };
    },
    { maxBatch: 4, maxWaitMs: 1000 },
  );
  const t0 = performance.now();
  const rs = await Promise.all([1, 2, 3, 4].map((v) => b.submit(Float32Array.of(v), 1)));
  assert.ok(performance.now() - t0 < 900, 'a full batch does not wait');
  assert.deepEqual(rs.map((r) => r.scores[0]), [2, 4, 6, 8]);
  assert.deepEqual(calls, [4]);
  const quick = new Batcher(async (xs) => ({ scores: xs.slice(), numClasses: 1 }), { maxBatch: 100, maxWaitMs: 20 });
  const t1 = performance.now();
  await quick.submit(Float32Array.of(1), 1);
  const waited = performance.now() - t1;
  assert.ok(waited >= 15 && waited < 2000, `one request waits about max wait (${waited} ms)`);
  const errs = await Promise.allSettled([b.submit(Float32Array.of(-1), 1), b.submit(Float32Array.of(5), 1)]);
  assert.deepEqual(errs.map((e) => e.status), ['rejected', 'rejected']);
  await b.idle();
});

test('KServe v1: instances in, predictions out', async () => {
  const local = await model.predictBatch(rows(0, 2), 2);
  const r = await postJson('/v1/models/fmnist:predict', { instances: [Array.from(rows(0, 1)), Array.from(rows(1, 2))] });
  assert.equal(r.status, 200);
  assert.deepEqual(Float32Array.from(r.json.predictions.flat()), local.scores);
  const bad = await postJson('/v1/models/fmnist:predict', { inputs: [] });
  assert.equal(bad.status, 400);
  assert.match(bad.json.error, /instances/);
});

test('gauntlet serve: starts on a free port, answers, stops on SIGTERM with exit 0 after the request in flight', async () => {
  const p = spawn(process.execPath, [cliBin, 'serve', defaultAssets.model, '--port', '0', '--name', 'm', '--json', '--threads', '1'], { stdio: ['ignore', 'pipe', 'pipe'] });
  const kill = setTimeout(() => p.kill('SIGKILL'), 60000);
  try {
    let out = '';
    let err = '';
    p.stderr.on('data', (d) => (err += d));
    const exited = new Promise<number | null>((resolve) => p.on('close', resolve));
    const start = await new Promise<any>((resolve, reject) => {
      p.stdout.on('data', (d) => {
        out += d;
        if (out.includes('\n')) resolve(JSON.parse(out.split('\n')[0]!));
      });
      p.on('close', () => reject(new Error(`serve exited: ${err}`)));
    });
    assert.match(start.url, /^http:\/\/127\.0\.0\.1:\d+\/v2\/models\/m$/);
    assert.equal((await fetch(start.url.replace(/\/v2\/models\/m$/, '/v2/health/ready'))).status, 200);
    const inflight = fetch(`${start.url}/infer`, { method: 'POST', body: JSON.stringify({ inputs: [{ name: 'input', shape: [1, 1, 28, 28], datatype: 'FP32', data: Array.from(rows(0, 1)) }] }) });
    await new Promise((r) => setTimeout(r, 20));
    p.kill('SIGTERM');
    const r = await inflight;
    assert.equal(r.status, 200);
    assert.equal(await exited, 0, err);
    const stop = JSON.parse(out.trim().split('\n').at(-1)!);
    assert.equal(stop.signal, 'SIGTERM');
    assert.equal(stop.requests, 1);
    await assert.rejects(fetch(start.url, { signal: AbortSignal.timeout(5000) }));
  } finally {
    clearTimeout(kill);
    p.kill('SIGKILL');
  }
});

test('gauntlet serve: bad usage is one line, exit 2', async () => {
  const { runCli, assertBadInput } = await import('./helpers.js');
  assertBadInput(runCli(['serve']), /serve: give the model to serve/);
  assertBadInput(runCli(['serve', defaultAssets.model, '--port', '70000']), /'--port' must be an integer in \[0, 65535\], got 70000/);
  assertBadInput(runCli(['serve', defaultAssets.model, '--name', 'a/b']), /'--name' must be letters/);
  assertBadInput(runCli(['serve', 'http://127.0.0.1:1/v2/models/x']), /serves a local ONNX file/);
  // The port is taken by this test's server.
  assertBadInput(runCli(['serve', defaultAssets.model, '--port', String(server.port)]), new RegExp(`port ${server.port} on 127.0.0.1 is in use`));
});
