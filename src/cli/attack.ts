import { datasetHash, itemSize, requireLabels } from '../data/dataset.js';
import { datasetToArrays, saveNpz } from '../data/npz.js';
import type { NpyArrayLike } from '../data/npy.js';
import { UsageError } from '../errors.js';
import { Rng } from '../rng.js';
import { attackNames, featureStd, getAttack, maxEps, parseAttackSpec, resolveEpsUnits, runAttack, tabularConstraints, type Constraints } from '../stress/adversarial/index.js';
import { ATTACK_OPTIONS, attackOptions } from '../stress/adversarial/spec.js';
import { isEndpointRef } from '../endpoint/open.js';
import { deprecations, flagSpec, flagValues, helpLines, kebab, type OptionMap } from '../options/schema.js';
import { numberOpt, parse, progressReporter } from './args.js';
import { chunkFlags, chunkHelp, chunkItemsOpt, dataFlags, dataRef, declarationHelp, fmt, modelFlags, modelRef, openClassifier, openData, openDataChunked, openModel } from './common.js';
import { DatasetHasher, makeDataset, type Dataset } from '../data/dataset.js';
import { withNpzWriter } from '../data/npz-writer.js';
import { batchAligned } from '../data/chunked.js';
import { EmbeddingView } from '../engine/embedding.js';
import { runAttackChunked, type ChunkedAttackResult } from '../stress/adversarial/chunked.js';
import { runEmbeddingAttack } from '../stress/adversarial/embedding.js';
import type { AttackResult } from '../stress/adversarial/types.js';

/** The attack flags: every attack option (kebab-case), `--targets` kept as the old spelling of `--n-targets`. */
const ATTACK_FLAG_OPTIONS = {
  ...ATTACK_OPTIONS,
  random_start: { ...ATTACK_OPTIONS.random_start, flag: false },
  n_targets: { ...ATTACK_OPTIONS.n_targets, aliases: ['targets'] },
} as OptionMap;
import { guardOutputs, dataInput, modelInput } from './outputs.js';
import { recordFlags, recordHelp, recorder } from './record.js';
import { modelName, verbRecord } from '../registry/index.js';
import path from 'node:path';
import { wilson } from '../report/format.js';

export const help = `gauntlet attack --attack A --eps E [--norm linf|l2] [--model M.onnx] [--data D.npz] [options] [--json]

Runs an adversarial attack on a labelled dataset and reports clean accuracy, robust accuracy
(a point is robust only if every attack failed on it), the attack success rate among correctly
classified points, perturbation norms, queries and time, with gradient-masking flags as
AutoAttack raises them. ε is in data-domain units (declared bounds, [0, 1] by default); a
comma list (--eps 0.01,0.03,0.1) gives a robustness curve and each point's smallest successful ε.
Without --model/--data it uses the embedded Fashion-MNIST CNN and 2,000-image test slice.

A text classifier (token-id input, --model-wrt embedding) is attacked in embedding space: ε is a
distance between embeddings (the scale printed: a token to its nearest other token), each result
is projected to the nearest tokens, and accuracy is that of the whole model on those token ids.

Attacks: ${attackNames.join(', ')}   (gauntlet list attacks shows defaults)

Attack options (each attack takes the ones 'gauntlet list attacks' shows for it):
${helpLines(ATTACK_FLAG_OPTIONS)}
  --no-random-start     PGD: start at the clean point (same as random_start: false)

Other options (tabular --immutable/--continuous are part of the data declaration below):
  --seed S            seed for every random draw (default 0)
  --batch-size B      items per ONNX Runtime run (default 256)
  --limit N           attack only the first N items
  --save F.npz        write the adversarial inputs (x, at the largest ε) with the input's other
                      arrays, eps, min_eps and adv_success (and x_eps<k> per ε of a curve); atomic
  --json              print one JSON object as the last stdout line
  --threads N         ONNX Runtime intra-op threads (0 = all cores; default 0)
${chunkHelp.replace('N    ', 'N     ')}
                      (rounded up to whole batches); image data is read, attacked and saved chunk
                      by chunk (the same bytes as whole); tabular data and a --save of a curve
                      (several ε) are held whole
${recordHelp()}
` + '\n' + declarationHelp() + '\n';

export async function attackVerb(argv: string[]): Promise<number> {
  const { values } = parse('attack', argv, {
    ...modelFlags,
    ...dataFlags,
    ...flagSpec(ATTACK_FLAG_OPTIONS),
    targets: { type: 'string' },
    'no-random-start': { type: 'boolean' },
    seed: { type: 'string' },
    'batch-size': { type: 'string' },
    save: { type: 'string' },
    ...chunkFlags,
    ...recordFlags,
  });
  if (values.help) return (process.stdout.write(help), 0);
  const raw = values as Record<string, unknown>;
  if (raw.targets !== undefined) {
    if (raw['n-targets'] !== undefined) throw new UsageError(`give '--n-targets' once ('--targets' is its old spelling)`);
    deprecations.push(`'--targets' is deprecated; write '--n-targets'`);
    raw['n-targets'] = raw.targets;
  }
  if (raw.attack === undefined) throw new UsageError(`attack: '--attack' is required; one of ${attackNames.join(', ')}`);
  if (raw.eps === undefined) throw new UsageError(`attack: '--eps' is required (a radius, or a comma list such as 0.01,0.03)`);
  const given = flagValues(ATTACK_FLAG_OPTIONS, raw);
  const def = getAttack(given.attack as string);
  const accepts = attackOptions(def.name);
  for (const key of Object.keys(given)) {
    if (!(key in accepts)) {
      const takes = Object.keys(accepts).filter((k) => !['attack', 'norm', 'eps'].includes(k)).map((k) => `--${kebab(k)}`);
      throw new UsageError(`'--${kebab(key)}' does not apply to attack '${def.name}'${takes.length ? ` (it takes ${takes.join(', ')})` : ''}`);
    }
  }
  if (values['no-random-start']) {
    if (!('random_start' in accepts)) throw new UsageError(`'--no-random-start' does not apply to attack '${def.name}'`);
    given.random_start = false;
  }
  if (given.step_size !== undefined && given.rel_step_size !== undefined) throw new UsageError(`give either '--step-size' or '--rel-step-size', not both`);
  const spec = parseAttackSpec(given, 'attack');
  const norm = spec.norm;
  const epsList = Array.isArray(spec.eps) ? spec.eps : [spec.eps];
  const seed = numberOpt('seed', values.seed, 0, { min: 0, max: Number.MAX_SAFE_INTEGER, integer: true });
  const batchSize = numberOpt('batch-size', values['batch-size'], 256, { min: 1, max: 65536, integer: true });
  if (values.save !== undefined && !values.save.endsWith('.npz')) throw new UsageError(`'--save' must name an .npz file, got '${values.save}'`);
  guardOutputs('attack', [{ name: '--save', path: values.save }], [modelInput(modelRef(values).path), dataInput(dataRef(values).path)]);

  if (isEndpointRef(modelRef(values)) && def.name !== 'square') {
    throw new UsageError(`attack: ${modelRef(values).path} is an endpoint, a black-box model with no gradients; attack '${def.name}' needs them. On an endpoint use the black-box attack: --attack square`);
  }
  const rec = recorder('attack', values, values.save !== undefined ? path.dirname(path.resolve(values.save)) : process.cwd());
  const ref = dataRef(values);
  if (modelRef(values).wrt === 'embedding') {
    if (ref.immutable !== undefined || ref.continuous !== undefined) throw new UsageError(`'--immutable' and '--continuous' apply to tabular data, not to token ids ('wrt: embedding')`);
    const whole = await openData(values);
    return attackEmbedding({ values, spec, epsList, seed, batchSize, ds: whole, labels: requireLabels(whole, 'an attack'), rec, dataPath: ref.path });
  }
  // Image data is read, attacked and saved chunk by chunk; tabular data (its constraints and σ are
  // whole-set facts) and a saved curve (one x_eps<k> array per ε, each written whole) are held whole.
  const chunked = values.save !== undefined && epsList.length > 1 ? null : await openDataChunked(values);
  const streamed = chunked !== null && chunked.itemShape.length !== 1 && ref.immutable === undefined && ref.continuous === undefined;
  const ds: Dataset | ChunkedAnd = streamed ? { ...chunked!, x: null } : await openData(values);
  const labels = requireLabels(ds as Dataset, 'an attack');
  const per = ds.itemShape.reduce((a, b) => a * b, 1);
  const tabular = ds.itemShape.length === 1;
  let constraints: Constraints | undefined;
  if (tabular) {
    constraints = tabularConstraints(ds as Dataset, { immutable: ref.immutable, continuous: ref.continuous });
  } else if (ref.immutable !== undefined || ref.continuous !== undefined) {
    throw new UsageError(`'--immutable' and '--continuous' apply to tabular data (flat items); ${ds.name} has items of shape [${ds.itemShape.join(', ')}]`);
  }
  const epsUnits = resolveEpsUnits(spec, tabular);
  const std = epsUnits === 'std' ? featureStd((ds as Dataset).x, ds.size, per) : null;
  const model = await openClassifier(values, values.threads);
  try {
    if (!streamed) model.checkData(ds as Dataset);
    const top = maxEps(model, norm, per, { tabular, std });
    for (const e of epsList) {
      if (!(e >= 0 && e <= top)) throw new UsageError(`'--eps' must be in [0, ${+top.toPrecision(6)}]${std ? ' (std units)' : ''}, got ${e}`);
    }
    const opts = { batchSize, constraints, itemShape: ds.itemShape, featureStd: std ?? undefined, onProgress: progressReporter('attack') };
    let r: AttackResult | ChunkedAttackResult;
    let dataSha256: string;
    if (streamed) {
      const src = chunked!;
      const chunkItems = batchAligned(chunkItemsOpt(values['chunk-items'], src.itemShape), batchSize);
      const hasher = new DatasetHasher(src.size, src.itemShape, true);
      // Reads the chunks in order (runAttackChunked asks for them so), checking and hashing each.
      const it = src.chunks(chunkItems);
      const read = async (start: number): Promise<Float32Array> => {
        const c = (await it.next()).value!;
        if (c.start !== start) throw new Error(`internal: chunk at ${c.start}, expected ${start}`);
        model.checkData(makeDataset({ name: src.name, itemShape: src.itemShape, x: c.x, labels: labels.subarray(c.start, c.start + c.size) }));
        hasher.update(c.x);
        return c.x;
      };
      const run = (write: (start: number, adv: Float32Array) => Promise<void> | void) => runAttackChunked(model, src.size, labels, spec, new Rng(seed), opts, { chunkItems, read, write });
      // Past the last chunk: the reader's end checks (the npz entry's CRC-32) run and its file
      // closes — before a --save output is renamed into place.
      const drain = async () => {
        if (!(await it.next()).done) throw new Error('internal: chunks left after the attack');
      };
      let out: ChunkedAttackResult | null = null;
      try {
        if (values.save !== undefined) {
          // The arrays saveNpz would write, in its order; x (the adversarial inputs) as the chunks pass.
          const arrays = datasetToArrays({ ...src, x: new Float32Array(0), metadata: null } as unknown as Dataset);
          await withNpzWriter(values.save, async (w) => {
            for (const [key, arr] of Object.entries(arrays)) {
              if (key !== 'x') {
                await w.array(key, arr);
                continue;
              }
              await w.begin('x', '<f4', [src.size, ...src.itemShape]);
              out = await run((_start, adv) => w.write(adv));
              await drain();
              await w.end();
            }
            await w.array('eps', { dtype: '<f8', shape: [out!.eps.length], data: Float64Array.from(out!.eps) });
            await w.array('min_eps', { dtype: '<f8', shape: [src.size], data: out!.minEps });
            await w.array('adv_success', { dtype: '|u1', shape: [src.size], data: out!.samples.success });
          });
        } else {
          out = await run(() => {});
          await drain();
        }
      } finally {
        await it.return(undefined);
      }
      r = out!;
      dataSha256 = hasher.digest(labels);
    } else {
      const whole = ds as Dataset;
      const rw = await runAttack(model, whole.x, whole.size, labels, spec, new Rng(seed), opts);
      r = rw;
      dataSha256 = datasetHash(whole);
      if (values.save !== undefined) {
        const arrays: Record<string, NpyArrayLike> = datasetToArrays(whole);
        const shape = [whole.size, ...whole.itemShape];
        arrays.x = { dtype: '<f4', shape, data: rw.adversarial };
        arrays.eps = { dtype: '<f8', shape: [rw.eps.length], data: Float64Array.from(rw.eps) };
        arrays.min_eps = { dtype: '<f8', shape: [whole.size], data: rw.minEps };
        arrays.adv_success = { dtype: '|u1', shape: [whole.size], data: rw.samples.success };
        if (rw.perEps.length > 1) rw.perEps.forEach((p, k) => (arrays[`x_eps${k}`] = { dtype: '<f4', shape, data: p.adversarial }));
        await saveNpz(values.save, arrays);
      }
    }
    const s = r.summary;
    await rec.save(() => {
      const n = ds.size;
      const prop = (v: number) => ({ value: v, ci: Number.isFinite(v) ? wilson(Math.round(v * n), n) : null });
      const label = (e: number) => `${s.attack} ${norm} eps=${e}`;
      return verbRecord({
        id: rec.id, kind: 'attack', started: rec.started.toISOString(), finished: new Date().toISOString(),
        model: { name: modelName(model.label), path: path.resolve(modelRef(values).path), sha256: model.sha256, parent_sha256: null, parent_name: null },
        data: { name: ds.name, path: path.resolve(ref.path), sha256: dataSha256 },
        config: s.spec, seed,
        metrics: [
          { metric: 'accuracy', ...prop(s.clean_accuracy) },
          ...r.perEps.flatMap((p) => {
            const attacked = Math.round(p.aggregate.cleanAccuracy * n);
            return [
              { metric: 'robust_accuracy', stress: label(p.eps), ...prop(p.aggregate.robustAccuracy) },
              { metric: 'attack_success_rate', stress: label(p.eps), value: p.aggregate.attackSuccessRate, ci: attacked && Number.isFinite(p.aggregate.attackSuccessRate) ? wilson(Math.round(p.aggregate.attackSuccessRate * attacked), attacked) : null },
            ];
          }),
        ],
        artifacts: values.save !== undefined ? [{ name: 'adversarial inputs', path: values.save }] : [],
        summary: { ...s }, gitCommit: rec.provenance.gitCommit, versions: rec.provenance.versions,
      });
    });
    if (values.json) {
      const out = {
        model: model.label,
        model_sha256: model.sha256,
        data: ds.name,
        data_sha256: dataSha256,
        seed,
        batch_size: batchSize,
        ...s,
        min_eps_median: medianFinite(r.minEps, r.samples.cleanCorrect),
        saved: values.save ?? null,
      };
      process.stdout.write(JSON.stringify(out) + '\n');
      return 0;
    }
    const specLine = Object.entries(s.spec)
      .filter(([k]) => !['attack', 'norm', 'eps', 'epsUnits'].includes(k))
      .map(([k, v]) => `${k}=${v}`)
      .join(' ');
    const lines = [
      `model     ${model.label}  sha256 ${model.sha256.slice(0, 16)}…`,
      `data      ${ds.name}  ${ds.size} items`,
      `attack    ${s.attack} ${norm}  ${specLine}  seed ${seed}`,
      `ε units   ${s.eps_units === 'std' ? 'std: ε and the norms are in standard deviations of each feature (eps_units std; --eps-units raw for data-domain units)' : 'raw: data-domain units'}`,
      `clean accuracy  ${fmt(s.clean_accuracy)}`,
      '',
      `${(s.eps_units === 'std' ? 'ε (std)' : 'ε').padEnd(10)}${'robust acc'.padEnd(12)}${'success'.padEnd(10)}${'mean ‖δ‖∞'.padEnd(11)}${'mean ‖δ‖₂'.padEnd(11)}${'queries'.padEnd(9)}time`,
      ...r.perEps.map((p) => {
        const a = p.aggregate;
        return `${String(p.eps).padEnd(10)}${fmt(a.robustAccuracy).padEnd(12)}${fmt(a.attackSuccessRate).padEnd(10)}${fmt(a.meanLinf).padEnd(11)}${fmt(a.meanL2).padEnd(11)}${fmt(a.meanQueries, 1).padEnd(9)}${fmt(a.seconds, 1)} s`;
      }),
      '',
      ...s.members.map((m) => `member    ${m.name.padEnd(10)} attacked ${m.attacked}, broke ${m.broken} (${fmt(m.seconds, 1)} s)`),
      `time      ${fmt(s.seconds, 2)} s  (${s.gradient_batches} gradient and ${s.forward_batches} forward batches)`,
      ...(s.flags.length ? s.flags.map((f) => `FLAG      ${f}`) : ['flags     none']),
      ...(values.save !== undefined ? [`saved     ${values.save}`] : []),
    ];
    process.stdout.write(lines.join('\n') + '\n');
    return 0;
  } finally {
    await model.close();
  }
}

/**
 * `wrt: embedding`: the attack runs on the embeddings of the token ids (the model's tail), each
 * ε's result is projected to the nearest tokens, and the whole model classifies those.
 */
async function attackEmbedding(o: {
  values: Record<string, unknown>; spec: ReturnType<typeof parseAttackSpec>; epsList: number[]; seed: number; batchSize: number;
  ds: Dataset; labels: Int32Array; rec: ReturnType<typeof recorder>; dataPath: string;
}): Promise<number> {
  const { values, spec, ds, labels, seed, rec } = o;
  const norm = spec.norm;
  const threads = numberOpt('threads', values.threads as string | undefined, 0, { min: 0, max: 256, integer: true });
  const model = await openModel(values, values.threads, { verb: 'attack', blackBox: "the black-box attack '--attack square' on its token ids' embeddings of a local copy" });
  let view: EmbeddingView | null = null;
  try {
    model.checkData(ds);
    view = await EmbeddingView.open(model, { threads });
    const T = itemSize(ds);
    const top = maxEps(view.tail, norm, T * view.dim, { tabular: false });
    for (const e of o.epsList) {
      if (!(e >= 0 && e <= top)) throw new UsageError(`'--eps' must be in [0, ${+top.toPrecision(6)}] (the diameter of the box holding the embedding table's values), got ${e}`);
    }
    const r = await runEmbeddingAttack(view, ds.x, ds.size, labels, spec, new Rng(seed), { batchSize: o.batchSize, onProgress: progressReporter('attack') });
    const last = r.perEps[r.perEps.length - 1]!;
    const save = values.save as string | undefined;
    if (save !== undefined) {
      const arrays: Record<string, NpyArrayLike> = datasetToArrays(ds);
      const shape = [ds.size, ...ds.itemShape];
      const asIds = (x: Float32Array) => ({ dtype: '<i8', shape, data: BigInt64Array.from(x, (v) => BigInt(v)) });
      arrays.x = asIds(last.ids);
      arrays.eps = { dtype: '<f8', shape: [r.perEps.length], data: Float64Array.from(r.perEps, (p) => p.eps) };
      arrays.tokens_changed = { dtype: '<f8', shape: [r.perEps.length], data: Float64Array.from(r.perEps, (p) => p.tokensChanged) };
      arrays.adv_success = { dtype: '|u1', shape: [ds.size], data: Uint8Array.from(last.predicted, (p, i) => (p !== labels[i] ? 1 : 0)) };
      if (r.perEps.length > 1) r.perEps.forEach((p, k) => (arrays[`x_eps${k}`] = asIds(p.ids)));
      await saveNpz(save, arrays);
    }
    const s = r.attacks[r.attacks.length - 1]!.summary;
    const gradientBatches = r.attacks.reduce((a, x) => a + x.gradientBatches, 0);
    const forwardBatches = r.attacks.reduce((a, x) => a + x.forwardBatches, 0);
    const seconds = r.attacks.reduce((a, x) => a + x.seconds, 0);
    const flags = [...new Set(r.attacks.flatMap((x) => x.flags))];
    await rec.save(() => {
      const n = ds.size;
      const prop = (v: number) => ({ value: v, ci: Number.isFinite(v) ? wilson(Math.round(v * n), n) : null });
      return verbRecord({
        id: rec.id, kind: 'attack', started: rec.started.toISOString(), finished: new Date().toISOString(),
        model: { name: modelName(model.label), path: path.resolve(modelRef(values).path), sha256: model.sha256, parent_sha256: null, parent_name: null },
        data: { name: ds.name, path: path.resolve(o.dataPath), sha256: datasetHash(ds) },
        config: { ...s.spec, eps: r.perEps.map((p) => p.eps), wrt: 'embedding' }, seed,
        metrics: [
          { metric: 'accuracy', ...prop(r.cleanAccuracy) },
          ...r.perEps.flatMap((p) => [
            { metric: 'robust_accuracy', stress: `${s.attack} ${norm} eps=${p.eps} embedding, projected to tokens`, ...prop(p.accuracy) },
            { metric: 'tokens_changed', stress: `${s.attack} ${norm} eps=${p.eps} embedding, projected to tokens`, value: p.tokensChanged, ci: null },
          ]),
        ],
        artifacts: save !== undefined ? [{ name: 'adversarial token ids', path: save }] : [],
        summary: { ...s, curve: r.perEps.map((p, k) => ({ eps: p.eps, robust_accuracy: p.accuracy, attack_success_rate: p.successRate, seconds: r.attacks[k]!.seconds })), clean_accuracy: r.cleanAccuracy, robust_accuracy: last.accuracy, attack_success_rate: last.successRate, seconds }, gitCommit: rec.provenance.gitCommit, versions: rec.provenance.versions,
      });
    });
    const curve = r.perEps.map((p) => ({ eps: p.eps, accuracy: p.accuracy, success_rate: p.successRate, embedding_accuracy: p.embeddingAccuracy, tokens_changed: p.tokensChanged, items_changed: p.itemsChanged }));
    if (values.json) {
      process.stdout.write(JSON.stringify({
        model: model.label, model_sha256: model.sha256, data: ds.name, data_sha256: datasetHash(ds), seed, batch_size: o.batchSize,
        wrt: 'embedding', embedding: { output: view.lookup.output, table: view.lookup.table, vocab: view.vocab, dim: view.dim },
        scale: r.scale, attack: s.attack, norm, spec: s.spec, samples: ds.size, clean_accuracy: r.cleanAccuracy,
        robust_accuracy: last.accuracy, tokens_changed: last.tokensChanged, curve, flags, seconds, saved: save ?? null,
      }) + '\n');
      return 0;
    }
    const specLine = Object.entries(s.spec).filter(([k]) => !['attack', 'norm', 'eps', 'epsUnits'].includes(k)).map(([k, v]) => `${k}=${v}`).join(' ');
    const lines = [
      `model     ${model.label}  sha256 ${model.sha256.slice(0, 16)}…`,
      `data      ${ds.name}  ${ds.size} items of ${T} tokens`,
      `embedding ${view.lookup.output}: table '${view.lookup.table}' [${view.vocab}, ${view.dim}]; attacked there, projected to the nearest tokens`,
      `attack    ${s.attack} ${norm}  ${specLine}  seed ${seed}`,
      `ε scale   distance in embedding space; a token to its nearest other token (median of ${r.scale.rows} rows): L2 ${fmt(r.scale.l2)}, L∞ ${fmt(r.scale.linf)}`,
      `clean accuracy  ${fmt(r.cleanAccuracy)}  (token ids)`,
      '',
      `${'ε'.padEnd(10)}${'token acc'.padEnd(12)}${'embed acc'.padEnd(12)}${'tokens chg'.padEnd(12)}items chg`,
      ...r.perEps.map((p) => `${String(p.eps).padEnd(10)}${fmt(p.accuracy).padEnd(12)}${fmt(p.embeddingAccuracy).padEnd(12)}${fmt(p.tokensChanged).padEnd(12)}${fmt(p.itemsChanged)}`),
      '',
      `time      ${fmt(seconds, 2)} s  (${gradientBatches} gradient and ${forwardBatches} forward batches in embedding space; each ε attacked afresh)`,
      ...(flags.length ? flags.map((f) => `FLAG      ${f} (embedding space)`) : ['flags     none']),
      ...(save !== undefined ? [`saved     ${save}`] : []),
    ];
    process.stdout.write(lines.join('\n') + '\n');
    return 0;
  } finally {
    await view?.close();
    await model.close();
  }
}

/** A dataset read in chunks, as the streamed path holds it: everything but the inputs. */
type ChunkedAnd = Pick<Dataset, 'name' | 'size' | 'itemShape' | 'labels'> & { x: null };

/** Median of the finite smallest-successful-ε values of the clean-correct points (null if none). */
function medianFinite(minEps: Float64Array, cleanCorrect: Uint8Array): number | null {
  const v: number[] = [];
  for (let i = 0; i < minEps.length; i++) if (cleanCorrect[i] && Number.isFinite(minEps[i]!)) v.push(minEps[i]!);
  if (!v.length) return null;
  v.sort((a, b) => a - b);
  const m = v.length >> 1;
  return v.length % 2 ? v[m]! : (v[m - 1]! + v[m]!) / 2;
}
