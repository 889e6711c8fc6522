#!/usr/bin/env node
// Per-job overhead of the cell queue (BullMQ over Redis), with the connection options Gauntlet uses:
// enqueue→start (job added until a worker's processor starts it) and result transfer (the
// processor returns a cell result until the coordinator holds it: completed event + Job.fromId),
// for an empty result and for a real cell result of a run directory.
//
//   npm run build && node scripts/queue-overhead.mjs [CELL.json] [--jobs N] [--queue URL]
//
// Without --queue it starts its own redis-server on a unix socket in a temporary directory.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Job, Queue, QueueEvents, Worker } from 'bullmq';
import { bullConnection } from '../dist/src/queue/connection.js';

const args = process.argv.slice(2);
const opt = (name, dflt) => (args.includes(name) ? args[args.indexOf(name) + 1] : dflt);
const cellFile = args.find((a, i) => !a.startsWith('--') && !['--jobs', '--queue'].includes(args[i - 1]));
const jobs = Number(opt('--jobs', '100'));
let url = opt('--queue', null);
let redis = null;
let tmp = null;
if (!url) {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'gauntlet-qo-'));
  const sock = path.join(tmp, 'redis.sock');
  redis = spawn('redis-server', ['--port', '0', '--unixsocket', sock, '--save', '', '--appendonly', 'no', '--dir', tmp], { stdio: 'ignore' });
  for (let i = 0; i < 100 && !fs.existsSync(sock); i++) await new Promise((r) => setTimeout(r, 100));
  url = `unix://${sock}`;
}
const connection = bullConnection(url);
const name = 'gauntlet-overhead';
const queue = new Queue(name, { connection });
const events = new QueueEvents(name, { connection });
await Promise.all([queue.waitUntilReady(), events.waitUntilReady()]);
await queue.obliterate({ force: true });
const payloads = { empty: {} };
if (cellFile) payloads[path.basename(cellFile)] = JSON.parse(fs.readFileSync(cellFile, 'utf8'));
let current = {};
const returned = new Map();
const worker = new Worker(name, async (job) => {
  returned.set(job.id, performance.timeOrigin + performance.now());
  return current;
}, { connection, concurrency: 1, lockDuration: 60_000 });
await worker.waitUntilReady();
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const p95 = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length * 0.95)];
for (const [label, payload] of Object.entries(payloads)) {
  current = payload;
  const toStart = [];
  const transfer = [];
  const total = [];
  for (let i = 0; i < jobs; i++) {
    const id = `${label.replace(/\W/g, '')}-${i}`;
    const done = new Promise((resolve) => {
      const f = ({ jobId }) => {
        if (jobId === id) {
          events.off('completed', f);
          resolve();
        }
      };
      events.on('completed', f);
    });
    const t0 = performance.timeOrigin + performance.now();
    await queue.add('cell', { spec: {}, job: { cell: id } }, { jobId: id, removeOnComplete: false });
    await done;
    const j = await Job.fromId(queue, id);
    const t1 = performance.timeOrigin + performance.now();
    if (JSON.stringify(j.returnvalue).length !== JSON.stringify(payload).length) throw new Error('payload changed in transit');
    toStart.push(returned.get(id) - t0);
    transfer.push(t1 - returned.get(id));
    total.push(t1 - t0);
  }
  const kb = (JSON.stringify(payload).length / 1024).toFixed(1);
  console.log(`${label} (${kb} KiB result), ${jobs} jobs one at a time: enqueue→start median ${median(toStart).toFixed(2)} ms (p95 ${p95(toStart).toFixed(2)}), result transfer median ${median(transfer).toFixed(2)} ms (p95 ${p95(transfer).toFixed(2)}), round trip median ${median(total).toFixed(2)} ms`);
}
await worker.close();
await queue.obliterate({ force: true });
await Promise.all([events.close(), queue.close()]);
if (redis) {
  redis.kill('SIGTERM');
  await new Promise((r) => redis.on('close', r));
  fs.rmSync(tmp, { recursive: true, force: true });
}
