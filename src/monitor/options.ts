import { opt, type OptionMap } from '../options/schema.js';

/** `gauntlet monitor`'s options. */
export const MONITOR_OPTIONS = {
  upstream: opt.string({ doc: 'the server to forward to, http(s)://HOST:PORT (Open Inference Protocol)', required: true, metavar: 'URL' }),
  port: opt.integer({ doc: 'TCP port to listen on (0: a free one, printed at start)', min: 0, max: 65535, default: 8080, metavar: 'P' }),
  host: opt.string({ doc: 'interface to listen on', default: '127.0.0.1', metavar: 'ADDR' }),
  monitors: opt.path({ doc: "a YAML/JSON file with the monitor list (a scenario's monitors: entries, or a scenario); default: KS and PSI on confidence, MMD on probabilities, ADWIN, Page-Hinkley, DDM", metavar: 'FILE' }),
  alert_webhook: opt.string({ doc: 'POST each alert as JSON to this URL', metavar: 'URL' }),
  webhook_retries: opt.integer({ doc: 'retries of a failed webhook POST (backoff 200 ms doubling)', min: 0, max: 10, default: 3 }),
  upstream_timeout_ms: opt.number({ doc: 'time limit of one upstream request, ms (then 504)', min: 1, max: 3_600_000, default: 60_000, metavar: 'MS' }),
  seed: opt.integer({ doc: 'seed of the monitors\' random draws (MMD permutations)', min: 0, default: 0 }),
} satisfies OptionMap;
