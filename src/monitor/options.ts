import { opt, type OptionMap } from '../options/schema.js';

/** `gauntlet monitor`'s options. */
export const MONITOR_OPTIONS = {
  upstream: opt.string({ doc: 'the server to forward to, http(s)://HOST:PORT (Open Inference Protocol)', required: true, metavar: 'URL' }),
  port: opt.integer({ doc: 'TCP port to listen on (0: a free one, printed at start)', min: 0, max: 65535, default: 8080, metavar: 'P' }),
  host: opt.string({ doc: 'interface to listen on', default: '127.0.0.1', metavar: 'ADDR' }),
  monitors: opt.path({ doc: "a YAML/JSON file with the monitor list (a scenario's monitors: entries, or a scenario); default: KS and PSI on confidence, MMD on probabilities, ADWIN, Page-Hinkley, DDM", metavar: 'FILE' }),
  scenario: opt.path({ doc: "a 'gauntlet stream' scenario whose monitors (types, signals, thresholds) and policy.abstain_below the proxy uses; monitors it cannot feed (squeeze, annotations, input-projection) are skipped and named", metavar: 'S.yaml' }),
  alert_webhook: opt.string({ doc: 'POST each alert as JSON to this URL', metavar: 'URL' }),
  webhook_retries: opt.integer({ doc: 'retries of a failed webhook POST (backoff 200 ms doubling)', min: 0, max: 10, default: 3 }),
  upstream_timeout_ms: opt.number({ doc: 'time limit of one upstream request, ms (then 504)', min: 1, max: 3_600_000, default: 60_000, metavar: 'MS' }),
  seed: opt.integer({ doc: 'seed of the monitors\' random draws (MMD permutations) and of canary routing', min: 0, default: 0 }),
  challenger: opt.string({ doc: 'a second server, http(s)://HOST:PORT[/v2/models/NAME], compared with --upstream in shadow or canary mode', metavar: 'URL' }),
  mode: opt.choice(['shadow', 'canary'] as const, { doc: 'shadow: mirror every inference request to the challenger, answer from the upstream; canary: the challenger answers a seeded fraction', default: 'shadow' }),
  canary_fraction: opt.number({ doc: 'share of inference requests the challenger answers in canary mode', min: 0, max: 1, minExclusive: true, maxExclusive: true, default: 0.1, metavar: 'F' }),
  promote_min_labelled: opt.integer({ doc: 'promotion rule: labelled items of each model before a decision', min: 1, default: 200, metavar: 'N' }),
  promote_max_accuracy_drop: opt.number({ doc: "promotion rule: accuracy the challenger may lose against the champion (the CI's bound is compared with it)", min: 0, max: 1, default: 0.01, metavar: 'D' }),
  promote_confidence: opt.number({ doc: 'promotion rule: two-sided confidence of the accuracy-difference interval', min: 0.5, max: 1, maxExclusive: true, default: 0.95, metavar: 'C' }),
  promote_max_error_rate: opt.number({ doc: 'promotion rule: share of challenger requests that may fail', min: 0, max: 1, default: 0.01, metavar: 'R' }),
  promote_max_latency_ratio: opt.number({ doc: "promotion rule: challenger p95 latency allowed, as a multiple of the champion's", min: 0, minExclusive: true, default: 2, metavar: 'X' }),
  abstain_confidence: opt.number({ doc: 'abstention: defer an item whose top probability is below P (clients ask with the header Gauntlet-Abstain: 1)', min: 0, max: 1, metavar: 'P' }),
  abstain_conformal: opt.path({ doc: "abstention: a split-conformal calibration (the JSON of 'gauntlet conformal --json'); defer items whose prediction set is larger than --abstain-set-size", metavar: 'FILE' }),
  abstain_set_size: opt.integer({ doc: 'abstention: largest conformal prediction set answered', min: 1, default: 1, metavar: 'K' }),
} satisfies OptionMap;
