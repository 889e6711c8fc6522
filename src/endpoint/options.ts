/**
 * How a deployed model is declared: `model: http://HOST/v2/models/NAME` (a URL wherever a model
 * path goes), or the mapping form with the client's settings:
 *
 *   model: { endpoint: http://localhost:8000/v2/models/fmnist, protocol: v2, headers: { Authorization: Bearer … },
 *            timeout_ms: 30000, concurrency: 4, retries: 3, binary: true, bounds: [0, 1] }
 *
 * Flags: `--model URL --protocol v1 --header 'Authorization: Bearer …' --timeout-ms 10000
 * --concurrency 8 --retries 2 --binary false`.
 */
import { fail, opt, type OptionMap } from '../options/schema.js';

export type EndpointProtocol = 'v2' | 'v1';

/** True when a model path is an endpoint URL. */
export function isEndpointUrl(p: string): boolean {
  return /^https?:\/\//i.test(p);
}

const headerList = opt.custom<Record<string, string>, { doc: string; metavar: string }>(
  "a mapping of header names to values (flags: --header 'Name: value', comma-separated for several)",
  (v, p) => {
    if (Array.isArray(v)) {
      const out: Record<string, string> = {};
      for (const h of v) {
        const m = typeof h === 'string' ? /^([^:\s]+)\s*:\s*(.*)$/.exec(h) : null;
        if (!m) fail(p, { code: 'type', value: h, expected: "'Name: value'" });
        out[m[1]!] = m[2]!;
      }
      return out;
    }
    if (!v || typeof v !== 'object' || Object.values(v).some((x) => typeof x !== 'string')) fail(p, { code: 'type', value: v, expected: 'a mapping of header names to string values' });
    return { ...(v as Record<string, string>) };
  },
  { doc: 'HTTP headers sent with every request (e.g. authorization)', metavar: "'NAME: VALUE'" },
  (s) => s.split(',').map((x) => x.trim()).filter(Boolean),
);

/** The endpoint client's settings (keys of the model declaration; see MODEL_OPTIONS). */
export const ENDPOINT_OPTIONS = {
  endpoint: opt.string({ doc: 'URL of a deployed model, http(s)://HOST/v2/models/NAME (or .../v1/models/NAME): a black-box model (or give the URL as the model path)', flag: false, metavar: 'URL' }),
  protocol: opt.choice(['v2', 'v1'] as const, { doc: 'endpoint: Open Inference Protocol (v2) or KServe v1 :predict', defaultText: 'from the URL' }),
  headers: opt.custom<Record<string, string>, { doc: string; metavar: string; flag: string }>(headerList.expected, headerList.check, { doc: headerList.doc, metavar: headerList.metavar!, flag: 'header' }, headerList.fromText),
  timeout_ms: opt.number({ doc: 'endpoint: time limit of one HTTP request, ms', min: 1, max: 3_600_000, default: 30_000, metavar: 'MS' }),
  concurrency: opt.integer({ doc: 'endpoint: most requests in flight at once', min: 1, max: 256, default: 4 }),
  retries: opt.integer({ doc: 'endpoint: retries of a request that got 429, 5xx or no answer (exponential backoff from 100 ms, at most 2 s)', min: 0, max: 10, default: 3 }),
  binary: opt.custom<boolean, { doc: string; default: boolean; metavar: string }>(
    'true or false',
    (v, p) => (typeof v === 'boolean' ? v : fail(p, { code: 'type', value: v, expected: 'true or false' })),
    { doc: 'endpoint (v2): send and receive tensors with the binary-tensor extension; false: JSON tensors', default: true, metavar: 'true|false' },
    (s) => (s === 'true' ? true : s === 'false' ? false : s),
  ),
  shape: opt.list(opt.integer({ doc: 'dim', min: 1 }), { doc: 'endpoint (v1): item shape of one instance, e.g. 1,28,28 (default: the data\'s item shape)', minLength: 1, metavar: 'D,...' }),
} satisfies OptionMap;

/** A resolved endpoint declaration. */
export interface EndpointSpec {
  url: string;
  protocol?: EndpointProtocol;
  headers?: Record<string, string>;
  timeoutMs?: number;
  concurrency?: number;
  retries?: number;
  binary?: boolean;
  shape?: number[];
}
