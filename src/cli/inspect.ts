import { parse, required } from './args.js';
import { modelHints } from '../engine/hints.js';
import { declarationHelp, modelFlags, modelRef, openModel } from './common.js';

export const help = `gauntlet inspect --model M.onnx [--json]

Reports a model's inputs and outputs (names, shapes, dtypes), opset, op types and parameter count,
and what it outputs (logits or probabilities, detected on a probe input when not declared; a
one-column output is a binary classifier, read as two classes).

Options:
  --model M.onnx   the model to inspect (required)
  --json           print one JSON object instead of a table
  --threads N      ONNX Runtime intra-op threads (0 = all cores; default 0)
` + '\n' + declarationHelp({ model: true }) + '\n';

export async function inspectVerb(argv: string[]): Promise<number> {
  const { values } = parse('inspect', argv, { ...modelFlags, model: { type: 'string' } });
  if (values.help) return (process.stdout.write(help), 0);
  const ref = modelRef((required('inspect', 'model', values.model), values));
  const model = await openModel(values, values.threads, { verb: 'inspect', blackBox: "'gauntlet eval --model URL'; its metadata is at GET URL" });
  try {
    const s = model.summary;
    // Probe with mid-range inputs to detect the output kind when the item shape is static.
    if (model.itemShape?.every((d) => typeof d === 'number')) {
      const per = (model.itemShape as number[]).reduce((a, b) => a * b, 1);
      const [lo, hi] = model.decl.bounds;
      await model.predictBatch(new Float32Array(2 * per).fill((lo + hi) / 2), 2);
    }
    const out = {
      model: model.label,
      sha256: model.sha256,
      ...s,
      dataDomain: { itemShape: model.itemShape, layout: model.decl.layout, bounds: model.decl.bounds },
      outputKind: model.outputKind,
      outputKindReason: model.outputKindReason,
      output: model.sourceOutput,
      binaryHead: model.binaryHead,
      input: model.decl.inputName,
      hints: modelHints(model.original, { ...model.decl, outputName: model.sourceOutput }, (values as Record<string, unknown>).layout !== undefined || ref.layout !== undefined),
    };
    if (values.json) {
      process.stdout.write(JSON.stringify(out) + '\n');
      return 0;
    }
    const shape = (v: { shape: (number | string)[] | null }) => (v.shape ? `[${v.shape.join(', ')}]` : '[?]');
    const lines = [
      `model      ${model.label}`,
      `sha256     ${model.sha256}`,
      `producer   ${s.producer || '-'} (IR ${s.irVersion})`,
      `opsets     ${s.opsets.map((o) => `${o.domain} ${o.version}`).join(', ')}`,
      ...s.inputs.map((v) => `input      ${v.name}  ${v.dtype} ${shape(v)}`),
      ...s.outputs.map((v) => `output     ${v.name}  ${v.dtype} ${shape(v)}${s.outputs.length > 1 && v.name === model.sourceOutput ? '  (read)' : ''}`),
      `nodes      ${s.nodes}, parameters ${s.parameters.toLocaleString('en-US')}`,
      `op types   ${Object.entries(s.opTypes).map(([k, v]) => `${k}×${v}`).join(' ')}`,
      model.decl.ids
        ? `data       token ids [${model.itemShape?.join(', ') ?? '?'}] (${model.decl.ids}); ${model.embedding ? `gradients and attacks at the embedding output ${model.embedding.output} (table ${model.embedding.table} [${model.embedding.vocab}, ${model.embedding.dim}])` : "gradients and attacks need 'wrt: embedding' (--model-wrt embedding)"}`
        : `data       item shape [${model.itemShape?.join(', ') ?? '?'}], layout ${model.decl.layout}${ref.layout ? '' : model.decl.layout === 'flat' ? '' : ' (assumed; --layout declares it)'}, bounds [${model.decl.bounds.join(', ')}]`,
      `reads      output ${model.sourceOutput}: ${model.binaryHead ? `${model.binaryHead === 'sigmoid' ? 'sigmoid probability' : 'binary logit'} → two classes, ` : ''}${model.outputKind ?? 'unknown (item shape is symbolic; run eval to detect)'}${model.outputKindReason ? ` (${model.outputKindReason})` : ''}`,
      // Normalisation hints are about float inputs; token ids are looked up, not scaled.
      ...(model.decl.ids ? [] : out.hints.map((h) => `hint       ${h.message}`)),
    ];
    process.stdout.write(lines.join('\n') + '\n');
    return 0;
  } finally {
    await model.close();
  }
}
