#!/usr/bin/env node
// Latency the `gauntlet monitor` proxy adds: `gauntlet serve` (default model) and `gauntlet
// monitor` in front of it, both child processes on loopback; single-image inference requests
// (binary tensors) offered open-loop at --rate requests/s, in alternating blocks straight to the
// server and through the proxy. Prints p50/p95 latency of each and the p50 difference.
//
// Usage (after `npm run build`):
//   node scripts/bench_monitor.mjs [--rate 200] [--requests 400] [--blocks 4] [--json]
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const bin = path.join(root, 'dist/src/cli/bin.js');
const { loadDataset } = await import(path.join(root, 'dist/src/data/load.js'));
const { defaultAssets } = await import(path.join(root, 'dist/src/defaults.js'));
const { values } = parseArgs({ options: { rate: { type: 'string' }, requests: { type: 'string' }, blocks: { type: 'string' }, json: { type: 'boolean' } } });
const rate = Number(values.rate ?? 200);
const perBlock = Number(values.requests ?? 400);
const blocks = Number(values.blocks ?? 4);

function start(args) {
  const child = spawn(process.execPath, [bin, ...args, '--port', '0', '--json'], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    let out = '';
    const t = setTimeout(() => reject(new Error(`${args[0]} did not start within 60 s`)), 60000);
    child.stdout.on('data', (d) => {
      out += d;
      if (out.includes('\n')) {
        clearTimeout(t);
        resolve({ child, start: JSON.parse(out.split('\n')[0]) });
      }
    });
    child.on('exit', (c) => reject(new Error(`${args[0]} exited (${c})`)));
  });
}

const serve = await start(['serve', defaultAssets.model, '--name', 'fm', '--threads', '1', '--max-wait-ms', '0']);
const serverBase = serve.start.url.replace(/\/v2\/models\/fm$/, '');
const monitor = await start(['monitor', '--upstream', serverBase]);
try {
  const ds = await loadDataset({ path: defaultAssets.data, limit: 500 });
  const bodies = Array.from({ length: ds.size }, (_, i) => {
    const x = ds.x.slice(i * 784, (i + 1) * 784);
    const h = Buffer.from(JSON.stringify({ inputs: [{ name: 'input', shape: [1, 1, 28, 28], datatype: 'FP32', parameters: { binary_data_size: x.byteLength } }], outputs: [{ name: 'logits', parameters: { binary_data: true } }] }));
    return { body: Buffer.concat([h, Buffer.from(x.buffer)]), headerLength: String(h.length) };
  });
  let failures = 0;
  const block = async (base) => {
    const lat = [];
    const t0 = performance.now();
    const sent = [];
    for (let i = 0; i < perBlock; i++) {
      const due = t0 + (1000 * i) / rate;
      const wait = due - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      const b = bodies[i % bodies.length];
      const s = performance.now();
      sent.push(
        fetch(`${base}/v2/models/fm/infer`, { method: 'POST', headers: { 'inference-header-content-length': b.headerLength }, body: b.body }).then(async (r) => {
          await r.arrayBuffer();
          if (r.status !== 200) throw new Error(`HTTP ${r.status}`);
          lat.push(performance.now() - s);
        }).catch(() => failures++),
      );
    }
    await Promise.all(sent);
    return { lat, seconds: (performance.now() - t0) / 1000 };
  };
  const all = { direct: [], proxy: [] };
  await block(serverBase); // warm-up
  await block(monitor.start.url);
  for (let k = 0; k < blocks; k++) {
    all.direct.push(...(await block(serverBase)).lat);
    all.proxy.push(...(await block(monitor.start.url)).lat);
  }
  const q = (a, p) => [...a].sort((x, y) => x - y)[Math.min(a.length - 1, Math.ceil(p * a.length) - 1)];
  const out = { rate, requests: all.direct.length, direct_p50_ms: q(all.direct, 0.5), direct_p95_ms: q(all.direct, 0.95), proxy_p50_ms: q(all.proxy, 0.5), proxy_p95_ms: q(all.proxy, 0.95) };
  out.added_p50_ms = out.proxy_p50_ms - out.direct_p50_ms;
  out.failed_requests = failures;
  if (values.json) console.log(JSON.stringify(out));
  else {
    console.log(`${out.requests} single-image requests each way at ${rate}/s offered, binary tensors, ${blocks} alternating blocks`);
    console.log(`direct  p50 ${out.direct_p50_ms.toFixed(2)} ms  p95 ${out.direct_p95_ms.toFixed(2)} ms`);
    console.log(`proxy   p50 ${out.proxy_p50_ms.toFixed(2)} ms  p95 ${out.proxy_p95_ms.toFixed(2)} ms`);
    console.log(`the proxy adds ${out.added_p50_ms.toFixed(2)} ms at p50${failures ? `; ${failures} requests failed (overload)` : ''}`);
  }
} finally {
  monitor.child.kill('SIGTERM');
  serve.child.kill('SIGTERM');
}
