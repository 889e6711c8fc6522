import { GradientEngine } from '../autodiff/gradient.js';
import { datasetHash } from '../data/dataset.js';
import { saveNpy } from '../data/npy.js';
import { UsageError } from '../errors.js';
import { attributionPng, explainTokens, getMethod, IG_DEFAULT_STEPS, methodNames, methods, resolveTargets, tokenMethod, type AttributionMethod, type AttributionOptions, type TargetSpec } from '../explain/index.js';
import { EmbeddingView } from '../engine/embedding.js';
import type { Dataset } from '../data/dataset.js';
import { Rng } from '../rng.js';
import { featureImportance, topFeatures } from '../explain/features.js';
import { numberOpt, parse, progressReporter, required } from './args.js';
import { dataFlags, dataRef, declarationHelp, fmt, modelFlags, modelRef, openData, openModel } from './common.js';
import { guardOutputs, dataInput, modelInput } from './outputs.js';

export const help = `gauntlet explain --method <${methodNames.join('|')}> [--model M.onnx] [--data D.npz]
                 [--target true|pred|k] [--out A.npy] [--png P.png] [--json] [--limit N] [--steps S] [--baseline zeros|low|blur] [--seed S]

Attributes the score of a target class to the input elements of the first items of a dataset and
writes the attributions (float32, shaped like the data's x) as .npy and/or a PNG of each input
beside its heatmap. The score is the logit (log-probability for probability outputs).

Methods:
${methods.map((m) => `  ${m.name.padEnd(11)} ${m.summary}${m.seeded ? ' [seeded]' : ''}`).join('\n')}

Options:
  --method M         attribution method (required)
  --model M.onnx     model (default: the embedded Fashion-MNIST CNN)
  --data D           data (default: the embedded 2,000-image slice)
  --target T         true (the label; default when the data has labels), pred (the prediction),
                     or a class number k
  --out A.npy        write the attributions (atomically)
  --png P.png        write input / heatmap pairs of the first 8 items (atomically)
  --limit N          explain the first N items (default 16)
  --baseline B       ig: zeros (default), low (the lower data bound) or blur (a Gaussian-blurred copy
                     of each image; on ReLU nets its path is smoother, so 64 steps reach < 1 % completeness error)
  --steps S          ig: trapezoid intervals (default ${IG_DEFAULT_STEPS}); smoothgrad: noisy copies (default 25)
  --seed S           seed of seeded methods (smoothgrad, shap; default 0)
  --batch-size B     points per ONNX Runtime run (default 32 for gradients, 256 otherwise)
  --json             print one JSON object as the last stdout line (per-item completeness
                     error for ig, mean |attribution|, seconds; tabular data: features by
                     mean |attribution| and each item's top features, by name)
  --threads N        ONNX Runtime intra-op threads (0 = all cores; default 0)

A text classifier (token-id input, --model-wrt embedding) is explained per token: a gradient
method (saliency, gxi, ig, smoothgrad) runs at the embedding output and each position's D
attributions are summed; --out writes [N, T] float32, --json lists each item's tokens by |A|
(--png does not apply; ig's baselines are zeros, the zero embedding, or low).
` + '\n' + declarationHelp() + '\n';

function parseTarget(raw: string | undefined, hasLabels: boolean): TargetSpec {
  if (raw === undefined) return hasLabels ? 'true' : 'pred';
  if (raw === 'true' || raw === 'pred') return raw;
  const k = Number(raw);
  if (raw.trim() === '' || !Number.isInteger(k) || k < 0) throw new UsageError(`'--target' must be true, pred or a class number >= 0, got '${raw}'`);
  return k;
}

export async function explainVerb(argv: string[]): Promise<number> {
  const { values } = parse('explain', argv, { ...modelFlags, ...dataFlags,
    model: { type: 'string' },
    data: { type: 'string' },
    method: { type: 'string' },
    target: { type: 'string' },
    out: { type: 'string' },
    png: { type: 'string' },
    limit: { type: 'string' },
    steps: { type: 'string' },
    baseline: { type: 'string' },
    seed: { type: 'string' },
    'batch-size': { type: 'string' },
  });
  if (values.help) return (process.stdout.write(help), 0);
  const name = required('explain', 'method', values.method);
  if (!(methodNames as readonly string[]).includes(name)) throw new UsageError(`'--method' must be one of ${methodNames.join(', ')}, got '${name}'`);
  const method = getMethod(name);
  const limit = numberOpt('limit', values.limit, 16, { min: 1, integer: true });
  const seed = numberOpt('seed', values.seed, 0, { min: 0, max: Number.MAX_SAFE_INTEGER, integer: true });
  const opts: AttributionOptions = {};
  if (values.steps !== undefined) {
    if (name === 'ig') opts.steps = numberOpt('steps', values.steps, IG_DEFAULT_STEPS, { min: 1, max: 100000, integer: true });
    else if (name === 'smoothgrad') opts.samples = numberOpt('steps', values.steps, 25, { min: 1, max: 100000, integer: true });
    else throw new UsageError(`'--steps' applies to --method ig and smoothgrad, not '${name}'`);
  }
  if (values.baseline !== undefined) {
    if (name !== 'ig') throw new UsageError(`'--baseline' applies to --method ig, not '${name}'`);
    if (!['zeros', 'low', 'blur'].includes(values.baseline)) throw new UsageError(`'--baseline' must be one of zeros, low, blur, got '${values.baseline}'`);
    (opts as { baseline?: string }).baseline = values.baseline;
  }
  if (values['batch-size'] !== undefined) opts.batchSize = numberOpt('batch-size', values['batch-size'], 32, { min: 1, max: 65536, integer: true });
  guardOutputs('explain', [{ name: '--out', path: values.out }, { name: '--png', path: values.png }], [modelInput(modelRef(values).path), dataInput(dataRef(values).path)]);
  if (modelRef(values).wrt === 'embedding') {
    tokenMethod(method);
    if (values.png !== undefined) throw new UsageError(`'--png' draws images; a text model's attributions are per token (write them with --out, or list them with --json)`);
  }
  const ds = await openData(values, String(limit));
  const target = parseTarget(values.target, ds.labels !== null);
  if (modelRef(values).wrt === 'embedding') return explainText({ values, ds, name, method, opts, target, seed });
  const model = await openModel(values, values.threads, { verb: 'explain', blackBox: "'gauntlet attack --attack square' or 'gauntlet eval'" });
  const engine = method.gradients ? new GradientEngine(model, { kind: 'logit' }) : undefined;
  try {
    model.checkData(ds);
    const t0 = performance.now();
    const n = ds.size;
    const per = ds.x.length / n;
    const targets = await resolveTargets(model, ds.x, n, target, ds.labels);
    // Tabular data: features by name (CSV headers or feature_names; the index when unnamed).
    const tabular = ds.itemShape.length === 1;
    const r = await method.explain(model, ds.x, n, targets, { ...opts, engine, onProgress: progressReporter('explain') }, new Rng(seed).fork(`explain:${name}`));
    const seconds = (performance.now() - t0) / 1000;
    const a = r.attributions;
    const shape = [n, ...ds.itemShape];
    if (values.out) await saveNpy(values.out, { dtype: '<f4', shape, data: a });
    if (values.png) await attributionPng(values.png, ds.x, a, shape, { bounds: model.decl.bounds });
    let total = 0;
    const perItem = Array.from({ length: n }, (_, i) => {
      let s = 0;
      let sum = 0;
      for (let e = i * per; e < (i + 1) * per; e++) {
        s += Math.abs(a[e]!);
        sum += a[e]!;
      }
      total += s;
      const row: Record<string, unknown> = { item: ds.ids?.[i] ?? i, target: targets[i]!, mean_abs: s / per, sum };
      if (tabular) row.top_features = topFeatures(a, i, per, ds.featureNames, Math.min(5, per));
      if (r.completeness) {
        const c = r.completeness;
        row.delta = c.delta[i]!;
        row.completeness_error = c.error[i]!;
        row.relative_completeness_error = Number.isFinite(c.relError[i]!) ? c.relError[i]! : null;
      }
      return row;
    });
    const rel = r.completeness ? Array.from(r.completeness.relError).filter(Number.isFinite) : [];
    const result = {
      model: model.label,
      model_sha256: model.sha256,
      data: ds.name,
      data_sha256: datasetHash(ds),
      method: name,
      target,
      items: n,
      item_shape: ds.itemShape,
      steps: name === 'ig' ? (opts.steps ?? IG_DEFAULT_STEPS) : name === 'smoothgrad' ? (opts.samples ?? 25) : null,
      seed: method.seeded ? seed : null,
      mean_abs_attribution: total / a.length,
      features: tabular ? featureImportance(a, n, per, ds.featureNames).map((f) => ({ feature: f.feature, index: f.index, mean_abs: f.meanAbs })) : null,
      completeness: r.completeness ? { mean_relative_error: rel.length ? rel.reduce((x, y) => x + y, 0) / rel.length : 0, max_relative_error: rel.length ? Math.max(...rel) : 0 } : null,
      per_item: perItem,
      out: values.out ?? null,
      png: values.png ?? null,
      seconds,
    };
    if (values.json) {
      process.stdout.write(JSON.stringify(result) + '\n');
      return 0;
    }
    const lines = [
      `model     ${model.label}  sha256 ${model.sha256.slice(0, 16)}…`,
      `data      ${ds.name}  ${n} items [${ds.itemShape.join(', ')}]`,
      `method    ${name}${result.steps !== null ? `  steps ${result.steps}` : ''}${method.seeded ? `  seed ${seed}` : ''}  target ${target}`,
      `mean |A|  ${fmt(result.mean_abs_attribution, 6)}`,
    ];
    if (result.features) lines.push(`features  by mean |A|: ${result.features.slice(0, 10).map((f) => `${f.feature} ${fmt(f.mean_abs, 4)}`).join(', ')}${result.features.length > 10 ? `, … (${result.features.length})` : ''}`);
    if (result.completeness) lines.push(`completeness error  mean ${fmt(100 * result.completeness.mean_relative_error, 3)} %  max ${fmt(100 * result.completeness.max_relative_error, 3)} % of |f(x) - f(baseline)|`);
    for (const row of perItem.slice(0, 20)) {
      lines.push(`  item ${String(row.item).padEnd(6)} class ${String(row.target).padEnd(4)} mean |A| ${fmt(row.mean_abs as number, 6)}  ΣA ${fmt(row.sum as number)}${row.delta !== undefined ? `  Δf ${fmt(row.delta as number)}` : ''}${row.top_features ? `  top ${(row.top_features as { feature: string; attribution: number }[]).map((f) => `${f.feature} ${f.attribution >= 0 ? '+' : '−'}${fmt(Math.abs(f.attribution), 4)}`).join(', ')}` : ''}`);
    }
    if (perItem.length > 20) lines.push(`  … ${perItem.length - 20} more items`);
    if (values.out) lines.push(`wrote ${values.out}  [${shape.join(', ')}] float32`);
    if (values.png) lines.push(`wrote ${values.png}`);
    lines.push(`time      ${fmt(seconds, 3)} s`);
    process.stdout.write(lines.join('\n') + '\n');
    return 0;
  } finally {
    await engine?.close();
    await model.close();
  }
}

/**
 * `wrt: embedding`: per-token attributions (explain/tokens.ts), the method's attributions at the
 * embedding output summed over each position's D values.
 */
async function explainText(o: { values: Record<string, unknown>; ds: Dataset; name: string; method: AttributionMethod; opts: AttributionOptions; target: TargetSpec; seed: number }): Promise<number> {
  const { values, ds, name, method, opts, target, seed } = o;
  const threads = numberOpt('threads', values.threads as string | undefined, 0, { min: 0, max: 256, integer: true });
  const model = await openModel(values, values.threads as string | undefined, { verb: 'explain', blackBox: "'gauntlet eval'" });
  let view: EmbeddingView | null = null;
  try {
    model.checkData(ds);
    view = await EmbeddingView.open(model, { threads });
    const t0 = performance.now();
    const n = ds.size;
    const r = await explainTokens(view, ds.x, n, target, ds.labels, method, { ...opts, onProgress: progressReporter('explain') }, new Rng(seed).fork(`explain:${name}`));
    const seconds = (performance.now() - t0) / 1000;
    const T = r.tokens;
    const a = r.attributions;
    const out = values.out as string | undefined;
    if (out) await saveNpy(out, { dtype: '<f4', shape: [n, T], data: a });
    const perItem = Array.from({ length: n }, (_, i) => {
      const tokens = Array.from({ length: T }, (_, t) => ({ position: t, id: ds.x[i * T + t]!, attribution: a[i * T + t]! }));
      const row: Record<string, unknown> = {
        item: ds.ids?.[i] ?? i,
        target: r.targets[i]!,
        sum: tokens.reduce((s, t) => s + t.attribution, 0),
        top_tokens: [...tokens].sort((x, y) => Math.abs(y.attribution) - Math.abs(x.attribution) || x.position - y.position).slice(0, Math.min(5, T)),
      };
      if (r.completeness) {
        row.delta = r.completeness.delta[i]!;
        row.relative_completeness_error = Number.isFinite(r.completeness.relError[i]!) ? r.completeness.relError[i]! : null;
      }
      return row;
    });
    let total = 0;
    for (const v of a) total += Math.abs(v);
    const rel = r.completeness ? Array.from(r.completeness.relError).filter(Number.isFinite) : [];
    const result = {
      model: model.label, model_sha256: model.sha256, data: ds.name, data_sha256: datasetHash(ds), method: name, target, items: n,
      wrt: 'embedding', embedding: { output: view.lookup.output, table: view.lookup.table, vocab: view.vocab, dim: view.dim },
      attribution_shape: [n, T], per_token: 'the attributions at the embedding output summed over its D values',
      steps: name === 'ig' ? (opts.steps ?? IG_DEFAULT_STEPS) : name === 'smoothgrad' ? (opts.samples ?? 25) : null,
      seed: method.seeded ? seed : null,
      mean_abs_attribution: a.length ? total / a.length : 0,
      completeness: r.completeness ? { mean_relative_error: rel.length ? rel.reduce((x, y) => x + y, 0) / rel.length : 0, max_relative_error: rel.length ? Math.max(...rel) : 0 } : null,
      per_item: perItem, out: out ?? null, seconds,
    };
    if (values.json) {
      process.stdout.write(JSON.stringify(result) + '\n');
      return 0;
    }
    const lines = [
      `model     ${model.label}  sha256 ${model.sha256.slice(0, 16)}…`,
      `data      ${ds.name}  ${n} items of ${T} tokens`,
      `embedding ${view.lookup.output}: table '${view.lookup.table}' [${view.vocab}, ${view.dim}]; attributions there, summed over ${view.dim} values per token`,
      `method    ${name}${result.steps !== null ? `  steps ${result.steps}` : ''}${method.seeded ? `  seed ${seed}` : ''}  target ${target}`,
      `mean |A|  ${fmt(result.mean_abs_attribution, 6)} per token`,
    ];
    if (result.completeness) lines.push(`completeness error  mean ${fmt(100 * result.completeness.mean_relative_error, 3)} %  max ${fmt(100 * result.completeness.max_relative_error, 3)} % of |f(e) - f(baseline)|`);
    for (const row of perItem.slice(0, 20)) {
      const top = (row.top_tokens as { position: number; id: number; attribution: number }[]).map((t) => `#${t.position}=${t.id} ${t.attribution >= 0 ? '+' : '−'}${fmt(Math.abs(t.attribution), 4)}`).join(', ');
      lines.push(`  item ${String(row.item).padEnd(6)} class ${String(row.target).padEnd(4)} ΣA ${fmt(row.sum as number)}${row.delta !== undefined ? `  Δf ${fmt(row.delta as number)}` : ''}  top tokens (position=id) ${top}`);
    }
    if (perItem.length > 20) lines.push(`  … ${perItem.length - 20} more items`);
    if (out) lines.push(`wrote ${out}  [${n}, ${T}] float32 (one attribution per token)`);
    lines.push(`time      ${fmt(seconds, 3)} s`);
    process.stdout.write(lines.join('\n') + '\n');
    return 0;
  } finally {
    await view?.close();
    await model.close();
  }
}
