/**
 * `gauntlet stream --endpoint` through `gauntlet monitor --scenario`: the default stream scenario
 * (the stream-monitor bar's: noise, an FGSM burst, gradual contrast drift) replayed at a high
 * --speed against a real `gauntlet serve`, with the monitor CLI running the scenario's monitors in
 * front of it. The replay must catch the same episodes as the offline simulation with the same
 * monitors, within a few items of the same delays (requests in flight can reach the monitor slightly
 * out of order). Every loop and wait is bounded.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Model } from '../src/engine/model.js';
import { defaultAssets } from '../src/defaults.js';
import { startServer } from '../src/serve/server.js';
import { checkProxyMonitors } from '../src/monitor/proxy.js';
import { loadScenario, runStream, scenarioMonitors, type Scenario } from '../src/stream/index.js';
import { assertBadInput, cliBin, runCliAsync, scratchDirs } from './helpers.js';

const scratch = scratchDirs('gauntlet-replay-');

/**
 * The default scenario (the stream-monitor bar's: noise, an FGSM burst, gradual contrast drift with
 * disagreeing annotators) shortened to 3,600 items so a replay fits a loaded test machine.
 */
const SCENARIO = `model: model.onnx
data: fashion-mnist-test-2000.npz
seed: 0
length: 3600
rate: 200
segments:
  - { from: 1200, to: 1800, drift: { corruption: gaussian_noise, severity: 4 } }
  - { from: 2100, to: 2300, adversarial: { attack: fgsm, eps: 0.1, fraction: 0.5 } }
  - { from: 2700, to: 3600, drift: { corruption: contrast, severity: { gradual: [1, 5] } },
      annotation: { annotators: 3, annotator_accuracy: 0.6 } }
label_delay: 200
monitors: default
`;

/** The scenario with the monitors the proxy can feed (what \`monitor --scenario\` runs). */
function proxyScenario(file: string): Scenario {
  const sc = loadScenario(file);
  const monitors = scenarioMonitors(sc, true).filter((m) => {
    try {
      checkProxyMonitors([m]);
      return true;
    } catch {
      return false;
    }
  });
  return { ...sc, monitors };
}

test('stream --endpoint through monitor --scenario catches the offline episodes within the offline delays', { timeout: 300_000 }, async () => {
  const dir = scratch();
  const scenarioFile = path.join(dir, 's.yaml');
  fs.writeFileSync(scenarioFile, SCENARIO);
  for (const f of ['model.onnx', 'fashion-mnist-test-2000.npz']) fs.symlinkSync(path.join(path.dirname(defaultAssets.model), f), path.join(dir, f));
  const sc = proxyScenario(scenarioFile);
  const offline = await runStream({ ...sc, serving: { ...sc.serving, enabled: false } }, { threads: 1 });
  const model = await Model.open(defaultAssets.model, { threads: 1 });
  const server = await startServer(model, { name: 'fm', port: 0, maxWaitMs: 0 });
  const p = spawn(process.execPath, [cliBin, 'monitor', '--upstream', server.url, '--port', '0', '--json', '--scenario', scenarioFile], { stdio: ['ignore', 'pipe', 'pipe'] });
  const kill = setTimeout(() => p.kill('SIGKILL'), 240_000);
  try {
    let out = '';
    const start = await new Promise<any>((resolve, reject) => {
      p.stdout.on('data', (d) => {
        out += d;
        if (out.includes('\n')) resolve(JSON.parse(out.split('\n')[0]!));
      });
      p.on('close', (c) => reject(new Error(`monitor exited (${c})`)));
    });
    assert.deepEqual(start.monitors, (sc.monitors as readonly { name: string }[]).map((m) => m.name));
    assert.deepEqual(start.skipped, ['squeeze', 'annotation-disagreement']);
    const r = await runCliAsync(['stream', scenarioFile, '--endpoint', `${start.url}/v2/models/fm`, '--speed', '2', '--max-in-flight', '32', '--json', '--threads', '1']);
    assert.equal(r.code, 0, r.stderr);
    const live = r.json!;
    assert.equal(live.items, 3600);
    assert.equal(live.answered, 3600, JSON.stringify(live.errors));
    assert.deepEqual(live.errors, {});
    assert.ok(Math.abs(live.accuracy - offline.policy.accuracy) < 0.01, `${live.accuracy} vs ${offline.policy.accuracy}`);
    const off = offline.episodes.map((e) => e.delay);
    // The same episodes caught (or missed), each within a few items of the offline delay.
    assert.deepEqual(live.delays.map((d: number | null) => d === null), off.map((d) => d === null), `live ${JSON.stringify(live.delays)} offline ${JSON.stringify(off)}`);
    live.delays.forEach((d: number | null, i: number) => {
      if (d !== null) assert.ok(Math.abs(d - off[i]!) <= 25, `episode ${i}: live delay ${d}, offline ${off[i]}`);
    });
    process.stdout.write(`# replay delays ${JSON.stringify(live.delays)}, offline ${JSON.stringify(off)}; sent ${live.achieved_rate.toFixed(0)}/s of ${live.offered_rate}/s offered, late ${live.late}, p50 ${live.latency_p50_ms.toFixed(2)} ms\n`);
  } finally {
    clearTimeout(kill);
    p.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 200));
    p.kill('SIGKILL');
    await server.close();
    await model.close();
  }
  assertBadInput(await runCliAsync(['stream', '--speed', '2']), /'--speed' applies to a replay against a live endpoint; give '--endpoint URL' too/);
  assertBadInput(await runCliAsync(['stream', '--endpoint', 'http://127.0.0.1:1/v2/models/fm']), /did not answer .*start 'gauntlet monitor' in front of the model first/);
  assertBadInput(await runCliAsync(['stream', '--endpoint', 'http://127.0.0.1:1/x']), /'--endpoint' must be a model URL through 'gauntlet monitor'/);
});
