import { opt, type OptionMap } from '../options/schema.js';

/** `gauntlet serve`'s options (flags: --port, --host, --name, --max-batch, --max-wait-ms). */
export const SERVE_OPTIONS = {
  port: opt.integer({ doc: 'TCP port to listen on (0: a free one, printed at start)', min: 0, max: 65535, default: 8000, metavar: 'P' }),
  host: opt.string({ doc: 'interface to listen on (0.0.0.0 for every interface)', default: '127.0.0.1', metavar: 'ADDR' }),
  name: opt.string({ doc: 'model name in URLs /v2/models/NAME (default: the file name without .onnx)', metavar: 'NAME' }),
  max_batch: opt.integer({ doc: 'dynamic batching: most items per ONNX Runtime run', min: 1, max: 65536, default: 64 }),
  max_wait_ms: opt.number({ doc: 'dynamic batching: longest time the oldest queued request waits for others, ms', min: 0, max: 10000, default: 2, metavar: 'MS' }),
} satisfies OptionMap;
