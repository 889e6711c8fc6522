#!/usr/bin/env node
// Eval through `gauntlet serve` vs local eval, on the embedded default model and data (2,000
// Fashion-MNIST test images). Starts `gauntlet serve` as a child process on a free loopback port,
// then, in alternating rounds, evaluates locally (ONNX Runtime in this process) and through the
// endpoint with binary tensors and with JSON tensors. Prints the median time of each, items/s,
// the throughput ratios and whether the accuracies (and every score) agree.
//
// Usage (after `npm run build`):
//   node scripts/bench_serve.mjs [--rounds R] [--batch-size B] [--concurrency C] [--threads N] [--json]
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dist = (p) => path.join(root, 'dist', 'src', p);
const { Model } = await import(dist('engine/model.js'));
const { evaluate } = await import(dist('engine/evaluate.js'));
const { EndpointModel } = await import(dist('endpoint/model.js'));
const { loadDataset } = await import(dist('data/load.js'));
const { defaultAssets } = await import(dist('defaults.js'));

const { values } = parseArgs({ options: { rounds: { type: 'string' }, 'batch-size': { type: 'string' }, concurrency: { type: 'string' }, threads: { type: 'string' }, json: { type: 'boolean' } } });
const rounds = Number(values.rounds ?? 5);
const batchSize = Number(values['batch-size'] ?? 256);
const concurrency = Number(values.concurrency ?? 4);
const threads = Number(values.threads ?? 0);

const child = spawn(process.execPath, [path.join(root, 'dist/src/cli/bin.js'), 'serve', defaultAssets.model, '--port', '0', '--name', 'fmnist', '--json', '--threads', String(threads), '--max-batch', String(batchSize)], { stdio: ['ignore', 'pipe', 'inherit'] });
const url = await new Promise((resolve, reject) => {
  let out = '';
  const t = setTimeout(() => reject(new Error('gauntlet serve did not start within 60 s')), 60000);
  child.stdout.on('data', (d) => {
    out += d;
    if (out.includes('\n')) {
      clearTimeout(t);
      resolve(JSON.parse(out.split('\n')[0]).url);
    }
  });
  child.on('exit', (c) => reject(new Error(`gauntlet serve exited (${c})`)));
});

try {
  const ds = await loadDataset({ path: defaultAssets.data });
  const local = await Model.open(defaultAssets.model, { threads });
  const binary = await EndpointModel.open({ url, concurrency, binary: true });
  const json = await EndpointModel.open({ url, concurrency, binary: false });
  const kinds = { local, binary, json };
  const times = { local: [], binary: [], json: [] };
  const acc = {};
  const scores = {};
  for (const m of Object.values(kinds)) await m.predict(ds, { batchSize }); // warm-up
  for (let r = 0; r < rounds; r++) {
    for (const [k, m] of Object.entries(kinds)) {
      const t0 = performance.now();
      const ev = await evaluate(m, ds, { batchSize });
      times[k].push((performance.now() - t0) / 1000);
      acc[k] = ev.accuracy;
      if (r === 0) scores[k] = (await m.predict(ds, { batchSize })).scores;
    }
  }
  const median = (a) => [...a].sort((x, y) => x - y)[Math.floor((a.length - 1) / 2)];
  const ips = (k) => ds.size / median(times[k]);
  const same = (a, b) => a.length === b.length && a.every((v, i) => v === b[i]);
  const out = {
    items: ds.size,
    rounds,
    batch_size: batchSize,
    concurrency,
    threads,
    accuracy: acc,
    identical_scores: { binary: same(scores.binary, scores.local), json: same(scores.json, scores.local) },
    median_seconds: Object.fromEntries(Object.keys(kinds).map((k) => [k, median(times[k])])),
    items_per_second: Object.fromEntries(Object.keys(kinds).map((k) => [k, ips(k)])),
    binary_vs_local: ips('binary') / ips('local'),
    json_vs_local: ips('json') / ips('local'),
    json_vs_binary_time: median(times.json) / median(times.binary),
    binary_latency_p50_ms: binary.serving().latency_p50_ms,
    json_latency_p50_ms: json.serving().latency_p50_ms,
    bytes_per_item_sent: { binary: binary.serving().bytes_sent / binary.serving().items, json: json.serving().bytes_sent / json.serving().items },
  };
  if (values.json) console.log(JSON.stringify(out));
  else {
    const f = (v, d = 1) => v.toFixed(d);
    console.log(`${ds.size} items, batch ${batchSize}, ${rounds} alternating rounds, client concurrency ${concurrency}, ORT threads ${threads || 'all'}`);
    for (const k of Object.keys(kinds)) console.log(`${k.padEnd(7)} accuracy ${acc[k].toFixed(4)}  median ${f(median(times[k]), 3)} s  ${f(ips(k))} items/s`);
    console.log(`scores identical to local: binary ${out.identical_scores.binary}, json ${out.identical_scores.json}`);
    console.log(`throughput vs local: binary ${f(out.binary_vs_local, 2)}x, json ${f(out.json_vs_local, 2)}x; JSON tensors take ${f(out.json_vs_binary_time, 2)}x the binary time`);
    console.log(`request bytes per item: binary ${f(out.bytes_per_item_sent.binary, 0)}, json ${f(out.bytes_per_item_sent.json, 0)}`);
  }
  await local.close();
} finally {
  child.kill('SIGTERM');
}
