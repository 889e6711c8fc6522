import { evaluateChunked } from '../engine/evaluate.js';
import { numberOpt, parse, progressReporter } from './args.js';
import { EndpointModel } from '../endpoint/model.js';
import { chunkFlags, chunkHelp, chunkItemsOpt, dataFlags, declarationHelp, fmt, modelFlags, openClassifier, openDataChunked } from './common.js';

export const help = `gauntlet eval [--model M.onnx] [--data D.npz] [--batch-size B] [--limit N] [--json]

Predicts a labelled dataset and reports accuracy, macro-F1, ECE (15 equal-width bins, top-label
confidence), NLL and Brier score, with the model's and data's sha256 for provenance.
Without --model/--data it uses the embedded default (Fashion-MNIST CNN, 2,000-image test slice).
The data is read in chunks (npz, npy, uint8 IDX): memory holds one chunk of inputs, not the set.

Options:
  --model M.onnx     model to evaluate (default: the embedded Fashion-MNIST CNN), or a deployed
                     model's URL http(s)://HOST/v2/models/NAME (Open Inference Protocol) or
                     .../v1/models/NAME (KServe v1): requests of --batch-size items, latency,
                     throughput and error counts reported
  --data D           data: .npz/.npy, IDX (.gz), .csv, a folder of class folders, or a .jsonl manifest
  --batch-size B     items per ONNX Runtime run (default 256)
  --limit N          evaluate only the first N items
${chunkHelp} (rounded up to whole batches)
  --json             print one JSON object as the last stdout line
  --threads N        ONNX Runtime intra-op threads (0 = all cores; default 0)
` + '\n' + declarationHelp() + '\n';

export async function evalVerb(argv: string[]): Promise<number> {
  const { values } = parse('eval', argv, { ...modelFlags, ...dataFlags,
    model: { type: 'string' },
    data: { type: 'string' },
    'batch-size': { type: 'string' },
    limit: { type: 'string' },
    ...chunkFlags,
  });
  if (values.help) return (process.stdout.write(help), 0);
  const batchSize = numberOpt('batch-size', values['batch-size'], 256, { min: 1, max: 65536, integer: true });
  const ds = await openDataChunked(values, values.limit);
  const model = await openClassifier(values, values.threads);
  try {
    const ev = await evaluateChunked(model, ds, { batchSize, chunkItems: chunkItemsOpt(values['chunk-items'], ds.itemShape), onProgress: progressReporter('eval') });
    const result = {
      model: model.label,
      model_sha256: model.sha256,
      data: ds.name,
      data_sha256: ev.dataSha256,
      samples: ev.samples,
      classes: ev.numClasses,
      output_kind: ev.outputKind,
      accuracy: ev.accuracy,
      macro_f1: ev.macroF1,
      ece: ev.ece,
      nll: ev.nll,
      brier: ev.brier,
      seconds: ev.seconds,
      batch_ms_median: ev.batchMsMedian,
      items_per_second: ev.seconds > 0 ? ev.samples / ev.seconds : null,
      endpoint: model instanceof EndpointModel ? model.serving() : null,
    };
    if (values.json) {
      process.stdout.write(JSON.stringify(result) + '\n');
      return 0;
    }
    process.stdout.write(
      [
        `model     ${model.label}  sha256 ${model.sha256.slice(0, 16)}…  (${ev.outputKind})`,
        `data      ${ds.name}  sha256 ${result.data_sha256.slice(0, 16)}…  ${ev.samples} items, ${ev.numClasses} classes`,
        `accuracy  ${fmt(ev.accuracy)}`,
        `macro-F1  ${fmt(ev.macroF1)}`,
        `ECE       ${fmt(ev.ece)}  (15 bins)`,
        `NLL       ${fmt(ev.nll)}`,
        `Brier     ${fmt(ev.brier)}`,
        `time      ${fmt(ev.seconds, 3)} s  (median batch ${fmt(ev.batchMsMedian, 1)} ms at batch ${batchSize})`,
        ...(result.endpoint ? [endpointLine(result.endpoint)] : []),
      ].join('\n') + '\n',
    );
    return 0;
  } finally {
    await model.close();
  }
}

/** One line of an endpoint's serving figures. */
export function endpointLine(e: ReturnType<EndpointModel['serving']>): string {
  const errs = Object.entries(e.errors_by).map(([k, v]) => `${k}×${v}`).join(' ');
  return `endpoint  ${e.protocol} ${e.tensors} tensors: ${e.requests} requests (${e.retries} retries, ${e.errors} errors${errs ? ` ${errs}` : ''}), latency p50 ${fmt(e.latency_p50_ms, 1)} ms p95 ${fmt(e.latency_p95_ms, 1)} ms p99 ${fmt(e.latency_p99_ms, 1)} ms, ${fmt(e.throughput, 1)} items/s`;
}
