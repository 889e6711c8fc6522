import path from 'node:path';
import { UsageError } from '../errors.js';
import { listenFailure, untilStopped } from './interrupt.js';
import { Model } from '../engine/model.js';
import { flagSpec, helpLines, parseFlags } from '../options/schema.js';
import { SERVE_OPTIONS } from '../serve/options.js';
import { startServer } from '../serve/server.js';
import { numberOpt, parse } from './args.js';
import { declarationHelp, modelFlags, modelRef } from './common.js';

export const help = `gauntlet serve MODEL.onnx [--port P] [--host ADDR] [--name NAME] [--max-batch N] [--max-wait-ms MS]

Serves an ONNX classifier over the Open Inference Protocol (KServe v2 REST, as Triton, KServe and
MLServer speak it) and KServe v1, on ONNX Runtime. The model is served as declared: its input takes
data-domain values (NCHW images in the declared bounds) with the declared preprocessing folded in;
its output is the model's scores [n, classes] (FP32).

  GET  /v2/health/live  /v2/health/ready  /v2  /v2/models/NAME  /v2/models/NAME/ready
  POST /v2/models/NAME[/versions/1]/infer   JSON tensors, or the binary-tensor extension
  GET  /v2/models/NAME/stats                requests, items and ONNX Runtime runs so far
  GET  /v1/models/NAME   POST /v1/models/NAME:predict   ({"instances": [...]} → {"predictions": [...]})

Bad requests get 400 and {"error": "..."}; an unknown model or version 404. Concurrent requests
are batched: up to --max-batch items per run, the oldest waiting at most --max-wait-ms.
SIGTERM or SIGINT stops accepting connections, answers the requests in flight and exits 0.
On start it prints one line with the URL (with --json, one JSON object).

Options:
${helpLines(SERVE_OPTIONS)}
  --model M.onnx        the model (or give it as the first argument)
  --json                print the start and stop lines as JSON objects
  --threads N           ONNX Runtime intra-op threads (0 = all cores; default 0)
` + '\n' + declarationHelp({ model: true }) + '\n';

export async function serveVerb(argv: string[]): Promise<number> {
  const { values, positionals } = parse('serve', argv, { ...modelFlags, ...flagSpec(SERVE_OPTIONS) }, true);
  if (values.help) return (process.stdout.write(help), 0);
  if (positionals.length > 1) throw new UsageError(`serve: takes one MODEL.onnx, got ${positionals.length}: ${positionals.join(' ')}`);
  if (positionals.length === 1 && values.model !== undefined) throw new UsageError(`serve: give the model once, as MODEL.onnx or --model, not both`);
  const o = parseFlags(SERVE_OPTIONS, values);
  const threads = numberOpt('threads', values.threads, 0, { min: 0, max: 256, integer: true });
  const flags = positionals.length === 1 ? { ...values, model: positionals[0] } : values;
  if (flags.model === undefined && values['model-spec'] === undefined) throw new UsageError(`serve: give the model to serve: gauntlet serve MODEL.onnx (see 'gauntlet serve --help')`);
  const { path: file, ...decl } = modelRef(flags);
  if (/^https?:\/\//i.test(file)) throw new UsageError(`serve: serves a local ONNX file, got the endpoint ${file}; put 'gauntlet monitor' or a proxy in front of an endpoint instead`);
  const name = o.name ?? path.basename(file).replace(/\.onnx$/i, '');
  if (!/^[A-Za-z0-9_.-]+$/.test(name)) throw new UsageError(`'--name' must be letters, digits, '_', '.' or '-' (it goes into URLs), got '${name}'`);
  const model = await Model.open(file, { ...decl, threads });
  let server;
  try {
    server = await startServer(model, { name, host: o.host, port: o.port, maxBatch: o.maxBatch, maxWaitMs: o.maxWaitMs });
  } catch (e) {
    await model.close();
    throw listenFailure('serve', o.host, o.port, e);
  }
  const start = { serving: name, url: `${server.url}/v2/models/${name}`, model: model.label, model_sha256: model.sha256, input: model.decl.inputName, output: model.decl.outputName, max_batch: o.maxBatch, max_wait_ms: o.maxWaitMs };
  process.stdout.write(values.json ? JSON.stringify(start) + '\n' : `serving ${name} (${model.label}) at ${start.url}  (max batch ${o.maxBatch}, max wait ${o.maxWaitMs} ms; Ctrl-C stops)\n`);
  const sig = await untilStopped();
  await server.close();
  await model.close();
  const s = server.stats();
  const stop = { stopped: name, signal: sig, requests: s.requests, items: s.items, batches: s.batches, responses: s.responses };
  process.stdout.write(values.json ? JSON.stringify(stop) + '\n' : `stopped on ${sig}: ${s.requests} inference requests, ${s.items} items in ${s.batches} ONNX Runtime runs\n`);
  return 0;
}
