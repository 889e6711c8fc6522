import { datasetHash, requireLabels } from '../data/dataset.js';
import { datasetToArrays, saveNpz } from '../data/npz.js';
import type { NpyArrayLike } from '../data/npy.js';
import { UsageError } from '../errors.js';
import { Rng } from '../rng.js';
import { attackNames, featureStd, getAttack, maxEps, parseAttackSpec, resolveEpsUnits, runAttack, tabularConstraints, type Constraints } from '../stress/adversarial/index.js';
import { ATTACK_OPTIONS, attackOptions } from '../stress/adversarial/spec.js';
import { isEndpointRef } from '../endpoint/open.js';
import { deprecations, flagSpec, flagValues, helpLines, kebab, type OptionMap } from '../options/schema.js';
import { numberOpt, parse, progressReporter } from './args.js';
import { dataFlags, dataRef, declarationHelp, fmt, modelFlags, modelRef, openClassifier, openData } from './common.js';

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
  const ds = await openData(values);
  const labels = requireLabels(ds, 'an attack');
  const per = ds.itemShape.reduce((a, b) => a * b, 1);
  const tabular = ds.itemShape.length === 1;
  let constraints: Constraints | undefined;
  if (tabular) {
    constraints = tabularConstraints(ds, { immutable: ref.immutable, continuous: ref.continuous });
  } else if (ref.immutable !== undefined || ref.continuous !== undefined) {
    throw new UsageError(`'--immutable' and '--continuous' apply to tabular data (flat items); ${ds.name} has items of shape [${ds.itemShape.join(', ')}]`);
  }
  const epsUnits = resolveEpsUnits(spec, tabular);
  const std = epsUnits === 'std' ? featureStd(ds.x, ds.size, per) : null;
  const model = await openClassifier(values, values.threads);
  try {
    model.checkData(ds);
    const top = maxEps(model, norm, per, { tabular, std });
    for (const e of epsList) {
      if (!(e >= 0 && e <= top)) throw new UsageError(`'--eps' must be in [0, ${+top.toPrecision(6)}]${std ? ' (std units)' : ''}, got ${e}`);
    }
    const r = await runAttack(model, ds.x, ds.size, labels, spec, new Rng(seed), {
      batchSize,
      constraints,
      itemShape: ds.itemShape,
      featureStd: std ?? undefined,
      onProgress: progressReporter('attack'),
    });
    if (values.save !== undefined) {
      const arrays: Record<string, NpyArrayLike> = datasetToArrays(ds);
      const shape = [ds.size, ...ds.itemShape];
      arrays.x = { dtype: '<f4', shape, data: r.adversarial };
      arrays.eps = { dtype: '<f8', shape: [r.eps.length], data: Float64Array.from(r.eps) };
      arrays.min_eps = { dtype: '<f8', shape: [ds.size], data: r.minEps };
      arrays.adv_success = { dtype: '|u1', shape: [ds.size], data: r.samples.success };
      if (r.perEps.length > 1) r.perEps.forEach((p, k) => (arrays[`x_eps${k}`] = { dtype: '<f4', shape, data: p.adversarial }));
      await saveNpz(values.save, arrays);
    }
    const s = r.summary;
    await rec.save(() => {
      const n = ds.size;
      const prop = (v: number) => ({ value: v, ci: Number.isFinite(v) ? wilson(Math.round(v * n), n) : null });
      const label = (e: number) => `${s.attack} ${norm} eps=${e}`;
      return verbRecord({
        id: rec.id, kind: 'attack', started: rec.started.toISOString(), finished: new Date().toISOString(),
        model: { name: modelName(model.label), path: path.resolve(modelRef(values).path), sha256: model.sha256, parent_sha256: null, parent_name: null },
        data: { name: ds.name, path: path.resolve(ref.path), sha256: datasetHash(ds) },
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
        data_sha256: datasetHash(ds),
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

/** Median of the finite smallest-successful-ε values of the clean-correct points (null if none). */
function medianFinite(minEps: Float64Array, cleanCorrect: Uint8Array): number | null {
  const v: number[] = [];
  for (let i = 0; i < minEps.length; i++) if (cleanCorrect[i] && Number.isFinite(minEps[i]!)) v.push(minEps[i]!);
  if (!v.length) return null;
  v.sort((a, b) => a - b);
  const m = v.length >> 1;
  return v.length % 2 ? v[m]! : (v[m - 1]! + v[m]!) / 2;
}
