import { datasetHash, requireLabels } from '../data/dataset.js';
import { datasetToArrays, saveNpz } from '../data/npz.js';
import type { NpyArrayLike } from '../data/npy.js';
import { UsageError } from '../errors.js';
import { Rng } from '../rng.js';
import {
  attackNames,
  DESCENT_LOSSES,
  EPS_UNITS,
  featureStd,
  getAttack,
  maxEps,
  NORMS,
  PRESETS,
  resolveEpsUnits,
  runAttack,
  tabularConstraints,
  type AttackSpec,
  type Constraints,
  type Norm,
} from '../stress/adversarial/index.js';
import { numberOpt, parse, progressReporter } from './args.js';
import { dataFlags, dataRef, declarationHelp, fmt, modelFlags, openData, openModel } from './common.js';

export const help = `gauntlet attack --attack A --eps E [--norm linf|l2] [--model M.onnx] [--data D.npz] [options] [--json]

Runs an adversarial attack on a labelled dataset and reports clean accuracy, robust accuracy
(a point is robust only if every attack failed on it), the attack success rate among correctly
classified points, perturbation norms, queries and time, with gradient-masking flags as
AutoAttack raises them. On images ε is in data-domain units (declared bounds, [0, 1] by default);
on tabular data (flat items) it is in standard deviations of each feature over the data by
default (--eps-units std: the L∞ ball is the box |δ_j| <= ε·std_j), --eps-units raw for data-domain
units. A comma list (--eps 0.01,0.03,0.1) gives a robustness curve and each point's smallest
successful ε. Tabular data without declared bounds keeps each feature in its observed range.
Without --model/--data it uses the embedded Fashion-MNIST CNN and 2,000-image test slice.

Attacks: ${attackNames.join(', ')}   (gauntlet list attacks shows defaults)

Options:
  --attack A          attack (required)
  --norm N            linf (default) or l2
  --eps E[,E2,...]    radius or comma list of radii, each in [0, bounds width] (L2: × sqrt(item size))
  --eps-units U       ${EPS_UNITS.join(' or ')}: std (tabular default) or data-domain units (images: raw only)
  --steps K           iterations (fgsm: 1; pgd default 20; apgd-*, autoattack default 100)
  --step-size A       PGD step size, absolute (default 2.5·ε/steps)
  --rel-step-size R   PGD step size as a multiple of ε
  --restarts R        random restarts, each on the points still robust (default 1)
  --no-random-start   PGD: start at the clean point
  --loss L            fgsm/pgd loss: ${DESCENT_LOSSES.join(', ')} (default ce)
  --targeted          targeted losses towards each of the top wrong classes in turn
  --targets N         number of target classes for --targeted / autoattack (default 9)
  --queries Q         square / autoattack: queries per point (default 5000)
  --p-init P          square: initial fraction of pixels changed (default 0.8)
  --preset P          autoattack: ${PRESETS.join(' or ')} (default standard: 100 iterations,
                      9 targets, 5,000 queries; quick: 20, 3, 500)
  --immutable F,...   tabular data: features never perturbed, by name or 0-based index (the data
                      declaration's 'immutable'; integer-valued features are frozen unless
                      listed in --continuous)
  --continuous F,...  tabular data: integer-valued features that may move continuously
  --seed S            seed for every random draw (default 0)
  --batch-size B      items per ONNX Runtime run (default 256)
  --limit N           attack only the first N items
  --save F.npz        write the adversarial inputs (x, at the largest ε) with the input's other
                      arrays, eps, min_eps and adv_success (and x_eps<k> per ε of a curve); atomic
  --json              print one JSON object as the last stdout line
  --threads N         ONNX Runtime intra-op threads (0 = all cores; default 0)
` + '\n' + declarationHelp() + '\n';

/** CLI option → spec key, with its numeric range (booleans and names are handled apart). */
const NUMERIC: readonly { flag: string; key: keyof AttackSpec; range: { min?: number; max?: number; minExclusive?: boolean; integer?: boolean } }[] = [
  { flag: 'steps', key: 'steps', range: { min: 1, max: 100000, integer: true } },
  { flag: 'step-size', key: 'stepSize', range: { min: 0, minExclusive: true } },
  { flag: 'rel-step-size', key: 'relStepSize', range: { min: 0, minExclusive: true } },
  { flag: 'restarts', key: 'restarts', range: { min: 1, max: 1000, integer: true } },
  { flag: 'targets', key: 'nTargets', range: { min: 1, max: 1000, integer: true } },
  { flag: 'queries', key: 'queries', range: { min: 1, max: 10_000_000, integer: true } },
  { flag: 'p-init', key: 'pInit', range: { min: 0, max: 1, minExclusive: true } },
];

export async function attackVerb(argv: string[]): Promise<number> {
  const { values } = parse('attack', argv, { ...modelFlags, ...dataFlags,
    model: { type: 'string' },
    data: { type: 'string' },
    attack: { type: 'string' },
    norm: { type: 'string' },
    eps: { type: 'string' },
    'eps-units': { type: 'string' },
    steps: { type: 'string' },
    'step-size': { type: 'string' },
    'rel-step-size': { type: 'string' },
    restarts: { type: 'string' },
    'no-random-start': { type: 'boolean' },
    loss: { type: 'string' },
    targeted: { type: 'boolean' },
    targets: { type: 'string' },
    queries: { type: 'string' },
    'p-init': { type: 'string' },
    preset: { type: 'string' },
    seed: { type: 'string' },
    'batch-size': { type: 'string' },
    limit: { type: 'string' },
    save: { type: 'string' },
  });
  if (values.help) return (process.stdout.write(help), 0);
  if (values.attack === undefined) throw new UsageError(`attack: '--attack' is required; one of ${attackNames.join(', ')}`);
  if (!attackNames.includes(values.attack as never)) throw new UsageError(`'--attack' must be one of ${attackNames.join(', ')}, got '${values.attack}'`);
  const def = getAttack(values.attack);
  const norm = (values.norm ?? 'linf') as Norm;
  if (!NORMS.includes(norm)) throw new UsageError(`'--norm' must be one of ${NORMS.join(', ')}, got '${values.norm}'`);
  if (values.eps === undefined) throw new UsageError(`attack: '--eps' is required (a radius, or a comma list such as 0.01,0.03)`);
  const epsList = values.eps.split(',').map((s) => (s.trim() === '' ? NaN : Number(s)));
  const badEps = epsList.findIndex((v) => Number.isNaN(v));
  if (badEps >= 0) throw new UsageError(`'--eps' must be a number or a comma-separated list of numbers, got '${values.eps}'`);

  const spec: Record<string, unknown> = { attack: def.name, norm, eps: epsList.length === 1 ? epsList[0] : epsList };
  if (values['eps-units'] !== undefined) {
    if (!EPS_UNITS.includes(values['eps-units'] as never)) throw new UsageError(`'--eps-units' must be one of ${EPS_UNITS.join(', ')}, got '${values['eps-units']}'`);
    spec.epsUnits = values['eps-units'];
  }
  const takes = (flag: string, key: keyof AttackSpec) => {
    if (!def.keys.includes(key)) {
      const accepted = NUMERIC.filter((o) => def.keys.includes(o.key)).map((o) => `--${o.flag}`);
      throw new UsageError(`'--${flag}' does not apply to attack '${def.name}'${accepted.length ? ` (it takes ${accepted.join(', ')})` : ''}`);
    }
  };
  for (const o of NUMERIC) {
    const raw = values[o.flag as keyof typeof values] as string | undefined;
    if (raw === undefined) continue;
    takes(o.flag, o.key);
    spec[o.key] = numberOpt(o.flag, raw, 0, o.range);
  }
  if (values['step-size'] !== undefined && values['rel-step-size'] !== undefined) throw new UsageError(`give either '--step-size' or '--rel-step-size', not both`);
  if (values['no-random-start']) {
    takes('no-random-start', 'randomStart');
    spec.randomStart = false;
  }
  if (values.targeted) {
    takes('targeted', 'targeted');
    spec.targeted = true;
  }
  if (values.loss !== undefined) {
    takes('loss', 'loss');
    if (!DESCENT_LOSSES.includes(values.loss as never)) throw new UsageError(`'--loss' must be one of ${DESCENT_LOSSES.join(', ')}, got '${values.loss}'`);
    spec.loss = values.loss;
  }
  if (values.preset !== undefined) {
    takes('preset', 'preset');
    if (!PRESETS.includes(values.preset as never)) throw new UsageError(`'--preset' must be one of ${PRESETS.join(', ')}, got '${values.preset}'`);
    spec.preset = values.preset;
  }
  const seed = numberOpt('seed', values.seed, 0, { min: 0, max: Number.MAX_SAFE_INTEGER, integer: true });
  const batchSize = numberOpt('batch-size', values['batch-size'], 256, { min: 1, max: 65536, integer: true });
  if (values.save !== undefined && !values.save.endsWith('.npz')) throw new UsageError(`'--save' must name an .npz file, got '${values.save}'`);

  const ref = dataRef(values);
  const ds = await openData(values, values.limit);
  const labels = requireLabels(ds, 'an attack');
  const per = ds.itemShape.reduce((a, b) => a * b, 1);
  const tabular = ds.itemShape.length === 1;
  let constraints: Constraints | undefined;
  if (tabular) {
    constraints = tabularConstraints(ds, { immutable: ref.immutable, continuous: ref.continuous });
  } else if (ref.immutable !== undefined || ref.continuous !== undefined) {
    throw new UsageError(`'--immutable' and '--continuous' apply to tabular data (flat items); ${ds.name} has items of shape [${ds.itemShape.join(', ')}]`);
  }
  const epsUnits = resolveEpsUnits(spec as Partial<AttackSpec>, tabular);
  const std = epsUnits === 'std' ? featureStd(ds.x, ds.size, per) : null;
  const model = await openModel(values, values.threads);
  try {
    model.checkData(ds);
    const top = maxEps(model, norm, per, { tabular, std });
    for (const e of epsList) {
      if (!(e >= 0 && e <= top)) throw new UsageError(`'--eps' must be in [0, ${+top.toPrecision(6)}]${std ? ' (std units)' : ''}, got ${e}`);
    }
    const r = await runAttack(model, ds.x, ds.size, labels, spec as unknown as AttackSpec, new Rng(seed), {
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
