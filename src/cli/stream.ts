import path from 'node:path';
import { UsageError } from '../errors.js';
import { describeMonitorTypes } from '../stream/monitors/index.js';
import { writeStreamRun } from '../stream/output.js';
import { defaultScenario, loadScenario, type Scenario } from '../stream/scenario.js';
import { runStream, type StreamResult } from '../stream/simulate.js';
import { numberOpt, parse, progressReporter } from './args.js';
import { flagSpec, helpLines, parseFlags, type OptionsOf } from '../options/schema.js';
import { STREAM_REPLAY_OPTIONS } from '../stream/options.js';
import { monitorBase, replayStream } from '../stream/replay.js';
import { fmt } from './common.js';
import { guardStreamOut } from './outputs.js';
import { recordFlags, recordHelp, recorder } from './record.js';
import { modelName, verbRecord } from '../registry/index.js';


export const help = `gauntlet stream [SCENARIO.yaml] [--out DIR] [--seed S] [--json]
       gauntlet stream [SCENARIO.yaml] --endpoint URL [--speed F] [--json]

Replays a stream through a model — items drawn from a dataset at an offered rate, with drift
episodes, adversarial bursts and labelling trouble in declared segments — and watches it with
streaming monitors. Reports, per episode, the detection delay (items) by a monitor of its kind or a
miss, false alarms per 10,000 clean items, deferrals of the safe-fail policy and the accuracy of
the answered predictions, latency p50/p95/p99 of real ONNX Runtime micro-batches at the offered
rate, and, with a shadow or canary challenger, a promote/rollback decision. Writes a run directory
with stream.json, events.jsonl and timeline.html.

Without SCENARIO it runs the embedded default (assets/default/stream.yaml): the Fashion-MNIST CNN
on 6,000 items at 200/s with Gaussian noise, an FGSM burst, and contrast drift with disagreeing
annotators.

Scenario keys: model, data, seed, length, sample, rate, arrivals, segments (from, to, drift,
adversarial, annotation), label_delay, annotation, monitors ('default' or a list), policy
(abstain_below, on_alert, hold), shadow | canary (model, fraction, rule), serving (max_batch,
max_wait_ms, or false), evaluation (settle, bucket), batch_size.

Monitor types (monitors: [{ type, name?, on?, ...options }]):
${describeMonitorTypes()}

Options:
  --out DIR      run directory (default ./gauntlet-stream)
  --seed S       override the scenario's seed (every random draw derives from it)
  --json         print a summary as one JSON object on the last stdout line
  --threads N    ONNX Runtime intra-op threads (0 = all cores; default 0)
${recordHelp()}

Live replay (--endpoint): the same items, episodes and attacked items (crafted on the scenario's
local model) are sent one request each, at their arrival times divided by --speed, to a model
behind 'gauntlet monitor' (start it with --scenario S.yaml to run the scenario's monitors); true
labels go to the monitor's /labels after label_delay items; the monitor's alerts (GET /alerts)
are mapped back to stream positions and scored as offline: detection delay per episode, false
alarms, plus latency through the monitor and errors. Writes nothing.
${helpLines(STREAM_REPLAY_OPTIONS)}

Exit codes: 0 done (missed episodes are reported, not failures), 2 bad scenario or input.
`;

export async function streamVerb(argv: string[]): Promise<number> {
  const { values, positionals } = parse('stream', argv, { out: { type: 'string' }, seed: { type: 'string' }, ...flagSpec(STREAM_REPLAY_OPTIONS), ...recordFlags }, true);
  if (values.help) return (process.stdout.write(help), 0);
  if (positionals.length > 1) throw new UsageError(`stream: takes at most one SCENARIO file, got ${positionals.length}`);
  const replay = parseFlags(STREAM_REPLAY_OPTIONS, values as Record<string, unknown>);
  if (replay.endpoint === undefined) {
    const given = ['speed', 'max-in-flight', 'request-timeout-ms'].find((k) => (values as Record<string, unknown>)[k] !== undefined);
    if (given) throw new UsageError(`'--${given}' applies to a replay against a live endpoint; give '--endpoint URL' too`);
  } else monitorBase(replay.endpoint);
  let scenario: Scenario = positionals[0] ? loadScenario(positionals[0]) : defaultScenario();
  if (values.seed !== undefined) scenario = { ...scenario, seed: numberOpt('seed', values.seed, 0, { min: 0, max: Number.MAX_SAFE_INTEGER, integer: true }) };
  const threads = numberOpt('threads', values.threads, 0, { min: 0, max: 256, integer: true });
  if (replay.endpoint !== undefined) return replayVerb(scenario, replay, threads, !!values.json);
  const outDir = values.out ?? 'gauntlet-stream';
  guardStreamOut(outDir, positionals[0], { model: scenario.model.path, data: scenario.data.path, challenger: scenario.challenger ? { model: scenario.challenger.model.path } : null });
  const rec = recorder('stream', values, path.dirname(path.resolve(outDir)));
  const result = await runStream(scenario, { threads, onProgress: progressReporter('stream') });
  const files = writeStreamRun(result, outDir);
  await rec.save(() => {
    const s = summary(result, outDir, files);
    return verbRecord({
      id: rec.id, kind: 'stream', started: rec.started.toISOString(), finished: new Date().toISOString(),
      model: { name: modelName(result.model.path), path: path.resolve(result.model.path), sha256: result.model.sha256, parent_sha256: null, parent_name: null },
      data: { name: path.basename(result.data.path), path: path.resolve(result.data.path), sha256: result.data.sha256 },
      config: result.scenario, seed: result.seed,
      metrics: [
        { metric: 'accuracy', value: s.accuracy as number | null, stress: 'whole stream' },
        { metric: 'accepted_accuracy', value: s.accepted_accuracy as number | null, stress: 'whole stream' },
        { metric: 'deferral_rate', value: s.deferral_rate as number | null, stress: 'whole stream' },
        { metric: 'false_alarms_per_10k', value: s.false_alarms_per_10k as number | null, stress: 'whole stream' },
        { metric: 'latency_p95_ms', value: s.latency_p95_ms as number | null, stress: 'whole stream' },
        ...result.episodes.flatMap((e, i) => [
          { metric: 'detection_delay', value: e.delay, stress: `episode ${i} ${e.kinds.join('+')}` },
          { metric: 'accuracy', value: e.accuracy, stress: `episode ${i} ${e.kinds.join('+')}` },
        ]),
      ],
      artifacts: files.map((f) => ({ name: f, path: path.join(outDir, f) })),
      outDir, summary: s, gitCommit: rec.provenance.gitCommit, versions: rec.provenance.versions,
    });
  });
  if (values.json) process.stdout.write(JSON.stringify(summary(result, outDir, files)) + '\n');
  else {
    process.stdout.write(report(result) + '\n');
    process.stdout.write(`wrote ${files.map((f) => path.join(outDir, f)).join(', ')}\n`);
  }
  return 0;
}

function summary(r: StreamResult, out: string, files: string[]): Record<string, unknown> {
  const num = (v: number | null | undefined): number | null => (v === null || v === undefined || !Number.isFinite(v) ? null : v);
  return {
    out,
    files,
    items: r.items,
    seed: r.seed,
    alerts: r.alerts.length,
    episodes: r.episodes.length,
    detected: r.evaluation.detected,
    missed: r.evaluation.missed,
    delays: r.episodes.map((e) => e.delay),
    false_alarms: r.evaluation.false_alarms,
    false_alarms_per_10k: num(r.evaluation.false_alarms_per_10k),
    accuracy: num(r.policy.accuracy),
    accepted_accuracy: num(r.policy.accepted_accuracy),
    deferral_rate: num(r.policy.deferral_rate),
    latency_p50_ms: num(r.serving?.p50_ms),
    latency_p95_ms: num(r.serving?.p95_ms),
    latency_p99_ms: num(r.serving?.p99_ms),
    throughput: num(r.serving?.throughput),
    challenger: r.challenger ? { mode: r.challenger.mode, decision: r.challenger.decision, disagreement: num(r.challenger.disagreement) } : null,
    seconds: r.seconds,
  };
}

function report(r: StreamResult): string {
  const pct = (v: number): string => (Number.isFinite(v) ? `${(100 * v).toFixed(1)} %` : 'n/a');
  const lines = [`stream    ${r.items} items from ${r.data.path} through ${r.model.path}, seed ${r.seed}, ${r.monitors.length} monitors`];
  r.episodes.forEach((e, i) => {
    const what = e.detected_at === null ? 'MISSED' : `detected after ${e.delay} items by ${e.monitor}`;
    lines.push(`episode ${i} [${e.from}, ${e.to}) ${e.kinds.join('+').padEnd(18)} ${what}; accuracy ${pct(e.accuracy)}, deferred ${pct(e.deferral_rate)}`);
  });
  const ev = r.evaluation;
  lines.push(`alarms    ${r.alerts.length} alerts, ${ev.false_alarms} false over ${ev.clean_items} clean items (${fmt(ev.false_alarms_per_10k ?? NaN, 2)} per 10,000)`);
  lines.push(`policy    deferred ${pct(r.policy.deferral_rate)} (confidence < ${r.policy.abstain_below} or alert in the last ${r.policy.hold} items); accuracy ${pct(r.policy.accuracy)}, answered ${pct(r.policy.accepted_accuracy)}`);
  if (r.serving) {
    const s = r.serving;
    lines.push(`latency   p50 ${fmt(s.p50_ms, 2)} ms, p95 ${fmt(s.p95_ms, 2)} ms, p99 ${fmt(s.p99_ms, 2)} ms at ${s.offered_rate} items/s offered; ${fmt(s.throughput, 1)} served/s in ${s.batches} micro-batches (mean ${fmt(s.mean_batch, 2)})`);
  }
  if (r.challenger) {
    const c = r.challenger;
    lines.push(`${c.mode.padEnd(9)} ${c.model}: accuracy ${pct(c.challenger_accuracy)} vs ${pct(c.champion_accuracy)}, disagreement ${pct(c.disagreement)} -> ${c.decision.toUpperCase()} (${c.reason})`);
  }
  if (r.attacks.items) lines.push(`attacks   ${r.attacks.items} items attacked, ${r.attacks.broken} broken`);
  lines.push(`time      ${fmt(r.seconds, 1)} s`);
  return lines.join('\n');
}

async function replayVerb(scenario: Scenario, o: OptionsOf<typeof STREAM_REPLAY_OPTIONS>, threads: number, json: boolean): Promise<number> {
  const r = await replayStream(scenario, { endpoint: o.endpoint!, speed: o.speed, maxInFlight: o.maxInFlight, timeoutMs: o.requestTimeoutMs, threads, onProgress: progressReporter('stream') });
  const num = (v: number): number | null => (Number.isFinite(v) ? v : null);
  if (json) {
    process.stdout.write(JSON.stringify({
      endpoint: r.endpoint, monitor: r.monitor, speed: r.speed, items: r.items, answered: r.answered, errors: r.errors,
      offered_rate: r.offered_rate, achieved_rate: num(r.achieved_rate), late: r.late,
      latency_p50_ms: num(r.latency.p50_ms), latency_p95_ms: num(r.latency.p95_ms), latency_p99_ms: num(r.latency.p99_ms),
      accuracy: num(r.accuracy), labels_posted: r.labels_posted, alerts: r.alerts.length,
      episodes: r.evaluation.episodes.length, detected: r.evaluation.detected, missed: r.evaluation.missed,
      delays: r.evaluation.episodes.map((e) => e.delay), false_alarms: r.evaluation.false_alarms, seconds: r.seconds,
    }) + '\n');
    return 0;
  }
  const lines = [`replay    ${r.items} items through ${r.monitor} at ${fmt(r.offered_rate, 1)}/s offered (speed ${r.speed}), ${fmt(r.achieved_rate, 1)}/s sent, ${r.answered} answered`];
  r.evaluation.episodes.forEach((e, i) => lines.push(`episode ${i} [${e.from}, ${e.to}) ${e.kinds.join('+').padEnd(18)} ${e.detected_at === null ? 'MISSED' : `detected after ${e.delay} items by ${e.monitor}`}`));
  lines.push(`alarms    ${r.alerts.length} alerts, ${r.evaluation.false_alarms} false over ${r.evaluation.clean_items} clean items`);
  lines.push(`latency   p50 ${fmt(r.latency.p50_ms, 2)} ms, p95 ${fmt(r.latency.p95_ms, 2)} ms, p99 ${fmt(r.latency.p99_ms, 2)} ms through the monitor; accuracy ${fmt(100 * r.accuracy, 1)} %`);
  const errs = Object.entries(r.errors);
  lines.push(`errors    ${errs.length ? errs.map(([k, v]) => `${v} ${k}`).join(', ') : 'none'}${r.late ? `; ${r.late} items sent more than 50 ms late` : ''}`);
  lines.push(`time      ${fmt(r.seconds, 1)} s`);
  process.stdout.write(lines.join('\n') + '\n');
  return 0;
}
