import { ConfigError, UsageError } from '../errors.js';
import { listenFailure, untilStopped } from './interrupt.js';
import { MONITOR_OPTIONS } from '../monitor/options.js';
import { abstainRule, readConformalCalibration } from '../monitor/abstain.js';
import { checkProxyMonitors, startMonitorProxy } from '../monitor/proxy.js';
import { flagSpec, helpLines, parseFlags } from '../options/schema.js';
import { loadScenario, resolveMonitor, scenarioMonitors, type MonitorSpec } from '../stream/scenario.js';
import { loadDataset } from '../data/load.js';
import { readYamlFile } from '../yaml.js';
import { parse } from './args.js';

export const help = `gauntlet monitor --upstream URL [--port 8080] [--monitors FILE | --scenario S.yaml] [--alert-webhook URL]
                 [--challenger URL [--mode shadow|canary] [--canary-fraction F]]
                 [--abstain-confidence P] [--abstain-conformal FILE [--abstain-set-size K]]

A reverse proxy in front of a deployed model (an Open Inference Protocol server such as
'gauntlet serve', Triton, KServe or MLServer). Every request goes to --upstream unchanged and its
answer comes back unchanged; on inference calls (POST /v2/models/NAME/infer, JSON or binary
tensors) the proxy also reads the inputs and scores and feeds the stream monitors online, the same
classes as 'gauntlet stream' (KS, PSI, MMD on the predictions; ADWIN, Page-Hinkley, DDM on the
error once labels arrive). Answers carry Gauntlet-Item-Ids: FIRST-LAST.

  POST /labels    {"items": [{"id": 17, "label": 3}]} or {"request_id": "r1", "labels": [3, 1]}
  GET  /metrics   Prometheus text: request latency histogram, upstream errors, items, labels,
                  alerts per monitor, each monitor's statistic and threshold, webhook failures;
                  with a challenger its requests, errors, latency, agreement, accuracy and the
                  promotion verdict; with abstention the deferral rate
  GET  /status    JSON: counts, the abstention rule and deferral rate, the challenger's figures
                  and the promotion verdict with its reason

Challenger: --mode shadow mirrors every inference request to --challenger (the answer still comes
from --upstream; the mirror never delays or fails it); --mode canary sends a seeded fraction of
requests (a hash of --seed and the request's arrival number) to the challenger, falling back to the
upstream when it fails. Answers carry Gauntlet-Served-By: champion|challenger. The promotion rule,
after --promote-min-labelled labelled items of each model: rollback when the challenger's error
rate exceeds --promote-max-error-rate, its p95 latency exceeds --promote-max-latency-ratio times
the upstream's, or the accuracy difference's CI lies below -D; promote when its lower bound is at
or above -D (D = --promote-max-accuracy-drop); else undecided. A changed decision is POSTed to
--alert-webhook as {"event": "challenger_verdict", "decision", "reason", ...}.

Abstention: a request with the header 'Gauntlet-Abstain: 1' gets, instead of the scores,
outputs 'prediction' (INT64 [n]: the class, or -1 where the rule defers) and 'confidence'
(FP32 [n]), and the header Gauntlet-Deferred: COUNT.

An unreachable upstream gets 502 (504 past --upstream-timeout-ms) with {"error"}, counted.
SIGTERM or SIGINT stops it (exit 0) after pending webhook deliveries.

Options:
${helpLines(MONITOR_OPTIONS)}
  --json                print the start and stop lines as JSON objects
`;

/** The monitors the proxy runs without a file: prediction- and error-fed ones. */
const PROXY_DEFAULT = [{ type: 'ks', on: 'confidence' }, { type: 'psi', on: 'confidence' }, { type: 'mmd', on: 'probabilities' }, { type: 'adwin', direction: 'up' }, { type: 'page-hinkley' }, { type: 'ddm' }];

export async function monitorVerb(argv: string[]): Promise<number> {
  const { values } = parse('monitor', argv, flagSpec(MONITOR_OPTIONS));
  if (values.help) return (process.stdout.write(help), 0);
  if (values.upstream === undefined) throw new UsageError(`monitor: '--upstream' is required: the server to forward to, e.g. http://127.0.0.1:8000 (see 'gauntlet monitor --help')`);
  const o = parseFlags(MONITOR_OPTIONS, values);
  if (!/^https?:\/\/[^/]+/i.test(o.upstream)) throw new UsageError(`'--upstream' must be an http(s) URL such as http://127.0.0.1:8000, got '${o.upstream}'`);
  if (o.alertWebhook !== undefined && !/^https?:\/\//i.test(o.alertWebhook)) throw new UsageError(`'--alert-webhook' must be an http(s) URL, got '${o.alertWebhook}'`);
  if (o.scenario !== undefined && o.monitors !== undefined) throw new UsageError(`'--scenario' and '--monitors' both give the monitors; give one`);
  const fromScenario = o.scenario !== undefined ? await scenarioMonitorsForProxy(o.scenario) : null;
  const monitors = fromScenario ? fromScenario.monitors : o.monitors === undefined ? PROXY_DEFAULT.map((m, i) => resolveMonitor({ ...m }, `monitors[${i}]`)) : readMonitors(o.monitors);
  if (monitors.length === 0) throw new ConfigError(`${o.scenario}: none of the scenario's monitors can run in the proxy (skipped ${fromScenario!.skipped.join(', ')})`);
  checkProxyMonitors(monitors);
  const abstainBelow = o.abstainConfidence ?? (fromScenario && o.abstainConformal === undefined ? fromScenario.abstainBelow : undefined);
  if (o.challenger !== undefined && !/^https?:\/\/[^/]+/i.test(o.challenger)) throw new UsageError(`'--challenger' must be an http(s) URL such as http://127.0.0.1:8001, got '${o.challenger}'`);
  if (o.challenger === undefined) {
    const given = ['mode', 'canary-fraction', 'promote-min-labelled', 'promote-max-accuracy-drop', 'promote-confidence', 'promote-max-error-rate', 'promote-max-latency-ratio'].find((k) => values[k] !== undefined);
    if (given) throw new UsageError(`'--${given}' applies to a challenger; give '--challenger URL' too`);
  } else if (values['canary-fraction'] !== undefined && o.mode !== 'canary') throw new UsageError(`'--canary-fraction' applies to '--mode canary', not '--mode ${o.mode}'`);
  if (values['abstain-set-size'] !== undefined && o.abstainConformal === undefined) throw new UsageError(`'--abstain-set-size' applies to '--abstain-conformal FILE'; give it too`);
  const abstain = abstainBelow !== undefined || o.abstainConformal !== undefined
    ? abstainRule({ confidence: abstainBelow, conformal: o.abstainConformal !== undefined ? readConformalCalibration(o.abstainConformal) : undefined, maxSetSize: o.abstainSetSize, seed: o.seed })
    : undefined;
  const rule = { minLabelled: o.promoteMinLabelled, maxAccuracyDrop: o.promoteMaxAccuracyDrop, confidence: o.promoteConfidence, maxErrorRate: o.promoteMaxErrorRate, maxLatencyRatio: o.promoteMaxLatencyRatio };
  const proxy = await startMonitorProxy({ upstream: o.upstream, port: o.port, host: o.host, monitors, seed: o.seed, alertWebhook: o.alertWebhook, webhookRetries: o.webhookRetries, upstreamTimeoutMs: o.upstreamTimeoutMs, challenger: o.challenger, mode: o.mode, canaryFraction: o.canaryFraction, rule, abstain }).catch((e: unknown) => {
    throw listenFailure('monitor', o.host, o.port, e);
  });
  const start = { monitoring: o.upstream, url: proxy.url, monitors: monitors.map((m) => m.name), skipped: fromScenario?.skipped ?? [], challenger: o.challenger ?? null, mode: o.challenger ? o.mode : null, abstain: abstain?.description ?? null };
  const extra = (fromScenario?.skipped.length ? ` (skipped from the scenario: ${fromScenario.skipped.join(', ')})` : '') + (o.challenger ? `; challenger ${o.challenger} in ${o.mode} mode${o.mode === 'canary' ? ` (fraction ${o.canaryFraction})` : ''}` : '') + (abstain ? `; abstains when asked: ${abstain.description}` : '');
  process.stdout.write(values.json ? JSON.stringify(start) + '\n' : `monitoring ${o.upstream} at ${proxy.url} with ${monitors.map((m) => m.name).join(', ')}${extra} (metrics at ${proxy.url}/metrics, status at ${proxy.url}/status; Ctrl-C stops)\n`);
  const sig = await untilStopped();
  await proxy.close();
  const c = proxy.counts();
  const verdict = proxy.status().challenger?.verdict ?? null;
  const stop = { stopped: sig, items: c.items, labels: c.labels, alerts: proxy.alerts.length, upstream_errors: c.upstreamErrors, webhook_failures: c.webhookFailures, deferred: c.deferred, verdict: verdict ? { decision: verdict.decision, reason: verdict.reason } : null };
  process.stdout.write(values.json ? JSON.stringify(stop) + '\n' : `stopped on ${sig}: ${c.items} items, ${c.labels} labels, ${proxy.alerts.length} alerts, ${c.upstreamErrors} upstream errors\n`);
  return 0;
}

function readMonitors(file: string): MonitorSpec[] {
  const raw = readYamlFile(file) as unknown;
  const list = raw && typeof raw === 'object' && !Array.isArray(raw) && 'monitors' in raw ? (raw as { monitors: unknown }).monitors : raw;
  if (!Array.isArray(list) || list.length === 0) throw new ConfigError(`${file}: give a non-empty list of monitors ([{ type: ks, on: confidence }, adwin]) or a mapping with 'monitors:'`);
  const names = new Set<string>();
  return list.map((e, i) => {
    const spec = resolveMonitor(typeof e === 'string' ? { type: e } : (e as Record<string, unknown>), `monitors[${i}]`);
    if (names.has(spec.name)) throw new ConfigError(`'monitors[${i}].name' '${spec.name}' is already used; give each monitor a unique name`);
    names.add(spec.name);
    return spec;
  });
}

/** The scenario's monitors the proxy can feed (the others are named in `skipped`) and its policy's confidence floor. */
async function scenarioMonitorsForProxy(file: string): Promise<{ monitors: MonitorSpec[]; skipped: string[]; abstainBelow: number }> {
  const sc = loadScenario(file);
  const image = sc.monitors === 'default' ? (await loadDataset(sc.data)).itemShape.length >= 2 : true;
  const monitors: MonitorSpec[] = [];
  const skipped: string[] = [];
  for (const m of scenarioMonitors(sc, image)) {
    try {
      checkProxyMonitors([m]);
      monitors.push(m);
    } catch {
      skipped.push(m.name);
    }
  }
  return { monitors, skipped, abstainBelow: sc.policy.abstainBelow };
}
