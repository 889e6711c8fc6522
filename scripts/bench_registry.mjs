#!/usr/bin/env node
// What recording costs a run: open + record + close of one campaign run, as `gauntlet run` does it
// at its end, N times into a fresh registry; then `list` and `history` over the N runs.
// Usage (after `npm run build`): node scripts/bench_registry.mjs RUN_DIR [N=50] [REGISTRY=temp SQLite file]
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { campaignRecord, compactResults, fileSha256, openRegistry } from '../dist/src/registry/index.js';
import { readResults } from '../dist/src/report/index.js';

const [dir, nText = '50', target = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'gauntlet-bench-reg-')), 'registry.db')] = process.argv.slice(2);
if (!dir) throw new Error('usage: node scripts/bench_registry.mjs RUN_DIR [N] [REGISTRY]');
const n = Number(nText);
const results = readResults(dir);
const sha = fileSha256(path.join(dir, 'results.json'));
const times = [];
for (let i = 0; i < n; i++) {
  const t0 = performance.now();
  const reg = await openRegistry(target);
  const id = `bench-${process.pid}-${i}`;
  await reg.record(campaignRecord(results, { id, started: new Date(Date.UTC(2026, 0, 1) + i * 3600e3).toISOString(), finished: new Date().toISOString(), outDir: dir, resultsSha256: sha }), compactResults(results));
  await reg.close();
  times.push(performance.now() - t0);
}
const reg = await openRegistry(target);
let t0 = performance.now();
const runs = await reg.list();
const tList = performance.now() - t0;
t0 = performance.now();
const hist = await reg.history(runs[0].model_name);
const tHist = performance.now() - t0;
await reg.close();
times.sort((a, b) => a - b);
const size = fs.existsSync(target) ? fs.statSync(target).size : null;
console.log(JSON.stringify({
  registry: target.startsWith('postgres') ? 'postgres' : 'sqlite', runs: n, cells: results.cells.length,
  record_ms: { first: +times.at(0).toFixed(1), median: +times[Math.floor(n / 2)].toFixed(1), max: +times.at(-1).toFixed(1) },
  list_ms: +tList.toFixed(1), history_ms: +tHist.toFixed(1), history_points: hist.length,
  bytes_per_run: size && Math.round(size / n),
}));
