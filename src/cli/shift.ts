import { datasetHash, itemSize, type Dataset } from '../data/dataset.js';
import { loadDataset } from '../data/load.js';
import type { NpyArrayLike } from '../data/npy.js';
import { datasetToArrays, saveNpz } from '../data/npz.js';
import { UsageError } from '../errors.js';
import { Rng } from '../rng.js';
import { featureIndices } from '../data/features.js';
import { honourImmutable } from '../stress/drift/immutable.js';
import { applyDrift, datasetDistances, dropValues, getShift, MMD_UNITS, shiftNames, type DriftResult, type MmdUnits, type ShiftDistances, type ShiftSpec } from '../stress/drift/index.js';
import type { MissingShiftSpec } from '../stress/drift/registry.js';
import { numberOpt, parse, required } from './args.js';
import { guardOutputs } from './outputs.js';
import { fmt } from './common.js';
import { phasedReporter } from './progress.js';

export const help = `gauntlet shift --data D --kind KIND [kind options] [--seed N] --out O.npz [--json]

Applies a covariate, missingness, quantisation, subpopulation or label shift and writes O.npz:
'x' (and 'y', 'ids' …) of the shifted set, every other array of the input kept where items are
kept, plus 'source_index' (resampling kinds), 'weights' (--mode reweight) or 'missing_mask'
(missing). Reports how far the shifted set is from the input: per-feature KS statistic and PSI
(10 quantile bins) for tabular data, and for all data the MMD between flattened items (RBF
kernel, median heuristic, permutation p-value, up to 500 items a side; on tabular data in
standardised units by default: each feature divided by its std on the input, constant features
skipped). Written atomically.
Image data are treated as rows of pixels and kept in [0, 1].

Kinds and their options:
  mean           --amount A [--features F]      x + A * std, per feature
  scale          --factor F [--features F]      mean + F * (x - mean): std becomes F * std
  noise          --amount A [--features F]      x + N(0, (A * std)^2)
  missing        --rate R [--fill mean|nan] [--features F]
                                                values missing at random with probability R,
                                                imputed by the feature mean (nan: for export only;
                                                models cannot run on NaN inputs)
  quantize       --levels L [--features F]      round to L levels over each feature's range
  subpopulation  --where 'age>40' --weight W [--mode resample|reweight]
                                                items meeting the condition W times as likely
                                                (ops < <= > >= == !=)
  prior          --proportions p0,p1,... [--size N]
                                                resample to class proportions (needs labels;
                                                within one item per class)

Options:
  --data D           input data (.npz/.npy, .csv, IDX, image folder, .jsonl)
  --kind KIND        ${shiftNames.join(', ')} (required)
  --features F       comma-separated feature names or 0-based indices (default: all)
  --immutable F      tabular data: features value-changing kinds leave alone (names or indices;
                     --features may not name them)
  --seed N           seed for every random draw (default 0)
  --out O.npz        output file (required)
  --limit N          use only the first N items
  --permutations P   MMD permutations (default 200; 0 skips the MMD)
  --mmd-units U      std (tabular default: features divided by their std on the input) or raw
  --json             print one JSON object as the last stdout line (every feature's distances)

Negative numbers need '=': --amount=-1.
`;

/** The CLI flag of each spec key. */
const FLAG: Record<string, string> = {
  features: 'features',
  amount: 'amount',
  factor: 'factor',
  rate: 'rate',
  fill: 'fill',
  levels: 'levels',
  feature: 'where',
  op: 'where',
  value: 'where',
  weight: 'weight',
  mode: 'mode',
  proportions: 'proportions',
  size: 'size',
};
const KIND_FLAGS = ['features', 'amount', 'factor', 'rate', 'fill', 'levels', 'where', 'weight', 'mode', 'proportions', 'size'] as const;

function list(name: string, raw: string): string[] {
  const parts = raw.split(',').map((s) => s.trim());
  if (parts.some((p) => p === '')) throw new UsageError(`'--${name}' must be a comma-separated list without empty entries, got '${raw}'`);
  return parts;
}

/** Builds and validates the shift spec from the command-line options. */
export function specFromOptions(kind: string, v: Record<string, string | boolean | undefined>): ShiftSpec {
  const k = getShift(kind);
  const allowed = new Set(k.keys.map((key) => FLAG[key]!));
  for (const f of KIND_FLAGS) {
    if (v[f] !== undefined && !allowed.has(f)) {
      throw new UsageError(`'--${f}' does not apply to --kind ${kind} (it takes ${[...allowed].map((a) => `--${a}`).join(', ')})`);
    }
  }
  const obj: Record<string, unknown> = { shift: kind };
  const num = (name: string, range: Parameters<typeof numberOpt>[3]): number | undefined =>
    v[name] === undefined ? undefined : numberOpt(name, v[name] as string, 0, range);
  if (v.features !== undefined) obj.features = list('features', v.features as string).map((f) => (/^\d+$/.test(f) ? Number(f) : f));
  if (kind === 'mean' || kind === 'noise') obj.amount = num('amount', kind === 'noise' ? { min: 0 } : {});
  if (kind === 'scale') obj.factor = num('factor', { min: 0 });
  if (kind === 'missing') {
    obj.rate = num('rate', { min: 0, max: 1 });
    if (v.fill !== undefined) obj.fill = v.fill;
  }
  if (kind === 'quantize') obj.levels = num('levels', { min: 2, max: 65536, integer: true });
  if (kind === 'subpopulation') {
    const where = required('shift', 'where', v.where as string | undefined);
    const m = /^\s*(.+?)\s*(<=|>=|==|!=|<|>)\s*(\S+)\s*$/.exec(where);
    const value = m ? Number(m[3]) : NaN;
    if (!m || !Number.isFinite(value)) throw new UsageError(`'--where' must be FEATURE OP NUMBER with OP one of < <= > >= == != (e.g. 'age>40'), got '${where}'`);
    obj.feature = m[1]!;
    obj.op = m[2]!;
    obj.value = value;
    obj.weight = num('weight', { min: 0 });
    if (v.mode !== undefined) obj.mode = v.mode;
  }
  if (kind === 'prior') {
    obj.proportions = list('proportions', required('shift', 'proportions', v.proportions as string | undefined)).map((p) => {
      const x = Number(p);
      if (!(Number.isFinite(x) && x >= 0)) throw new UsageError(`'--proportions' entries must be numbers >= 0, got '${p}'`);
      return x;
    });
    if (v.size !== undefined) obj.size = num('size', { min: 1, integer: true });
  }
  for (const key of k.keys) {
    if (obj[key] === undefined && ['amount', 'factor', 'rate', 'levels', 'weight'].includes(key)) {
      throw new UsageError(`shift: --kind ${kind} needs '--${FLAG[key]}' (see 'gauntlet shift --help')`);
    }
  }
  try {
    return k.parse(obj, '') as ShiftSpec;
  } catch (e) {
    // Config messages name keys ('fill'); on the command line they are flags ('--fill').
    const msg = (e as Error).message.replace(/^'([a-z]+)(?:\[\d+\])?'/, (_, key: string) => `'--${FLAG[key] ?? key}'`);
    throw new UsageError(msg);
  }
}

/** A weighted resample (with replacement, size n) for measuring distances of reweighted data. */
function weightedResample(ds: Dataset, weights: Float64Array, rng: Rng): Float32Array {
  const cum = new Float64Array(weights.length);
  let s = 0;
  for (let i = 0; i < weights.length; i++) cum[i] = s += weights[i]!;
  const per = itemSize(ds);
  const x = new Float32Array(ds.size * per);
  for (let k = 0; k < ds.size; k++) {
    const u = rng.uniform() * s;
    let lo = 0;
    let hi = cum.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cum[mid]! > u) hi = mid;
      else lo = mid + 1;
    }
    x.set(ds.x.subarray(lo * per, (lo + 1) * per), k * per);
  }
  return x;
}

export async function shiftVerb(argv: string[]): Promise<number> {
  const { values } = parse('shift', argv, {
    data: { type: 'string' },
    kind: { type: 'string' },
    seed: { type: 'string' },
    out: { type: 'string' },
    limit: { type: 'string' },
    permutations: { type: 'string' },
    'mmd-units': { type: 'string' },
    immutable: { type: 'string' },
    features: { type: 'string' },
    amount: { type: 'string' },
    factor: { type: 'string' },
    rate: { type: 'string' },
    fill: { type: 'string' },
    levels: { type: 'string' },
    where: { type: 'string' },
    weight: { type: 'string' },
    mode: { type: 'string' },
    proportions: { type: 'string' },
    size: { type: 'string' },
  });
  if (values.help) return (process.stdout.write(help), 0);
  const dataPath = required('shift', 'data', values.data);
  const kind = required('shift', 'kind', values.kind);
  const spec = specFromOptions(kind, values);
  const out = required('shift', 'out', values.out);
  if (!out.endsWith('.npz')) throw new UsageError(`'--out' must name an .npz file, got '${out}'`);
  guardOutputs('shift', [{ name: '--out', path: out }], [{ name: '--data', path: dataPath }]);
  const seed = numberOpt('seed', values.seed, 0, { min: 0, max: Number.MAX_SAFE_INTEGER, integer: true });
  const limit = values.limit === undefined ? undefined : numberOpt('limit', values.limit, 0, { min: 1, integer: true });
  const permutations = numberOpt('permutations', values.permutations, 200, { min: 0, max: 100000, integer: true });

  const mmdUnits = values['mmd-units'];
  if (mmdUnits !== undefined && !MMD_UNITS.includes(mmdUnits as MmdUnits)) throw new UsageError(`'--mmd-units' must be one of ${MMD_UNITS.join(', ')}, got '${mmdUnits}'`);
  const ds = await loadDataset({ path: dataPath, limit });
  const rng = new Rng(seed);
  const drawRng = rng.fork(`shift:${kind}`);
  let arrays: Record<string, NpyArrayLike>;
  let measured: { itemShape: readonly number[]; x: Float32Array };
  let description: string;
  let items: number;
  const immutable = values.immutable === undefined ? undefined : featureIndices(ds, list('immutable', values.immutable).map((f) => (/^\d+$/.test(f) ? Number(f) : f)), 'immutable');
  if (spec.shift === 'missing' && spec.fill === 'nan') {
    const r = dropValues(ds, honourImmutable(ds, spec as MissingShiftSpec, immutable), drawRng);
    arrays = datasetToArrays(ds);
    arrays.x = { dtype: '<f4', shape: [ds.size, ...ds.itemShape], data: r.x };
    arrays.missing_mask = { dtype: '|u1', shape: [ds.size, ...ds.itemShape], data: r.mask };
    measured = { itemShape: ds.itemShape, x: r.x };
    description = `${r.dropped} of ${ds.size * r.cols.length} values missing at random, left NaN (for export; models cannot run on NaN)`;
    items = ds.size;
  } else {
    const r: DriftResult = applyDrift(ds, spec, drawRng, { immutable });
    arrays = datasetToArrays(r.dataset);
    if (r.indices) {
      // keep per-item extras of the kept items; drop extras that are not per item
      for (const [key, e] of Object.entries(ds.extras)) {
        if (e.shape.length === 0 || e.shape[0] !== ds.size) continue;
        const rest = e.shape.slice(1).reduce((a, b) => a * b, 1);
        const src = e.data;
        const data = Array.from({ length: r.indices.length * rest }, (_, k) => src[r.indices![Math.floor(k / rest)]! * rest + (k % rest)]!);
        arrays[key] = { dtype: e.dtype, shape: [r.indices.length, ...e.shape.slice(1)], data };
      }
      arrays.source_index = { dtype: '<i4', shape: [r.indices.length], data: r.indices };
    }
    if (r.weights) arrays.weights = { dtype: '<f8', shape: [r.weights.length], data: r.weights };
    if (spec.shift === 'missing') {
      const mask = new Uint8Array(ds.x.length);
      for (let i = 0; i < mask.length; i++) mask[i] = r.dataset.x[i] !== ds.x[i] ? 1 : 0;
      arrays.missing_mask = { dtype: '|u1', shape: [ds.size, ...ds.itemShape], data: mask };
    }
    measured = r.weights ? { itemShape: ds.itemShape, x: weightedResample(ds, r.weights, rng.fork('reweight')) } : r.dataset;
    description = r.description;
    items = r.dataset.size;
  }
  await saveNpz(out, arrays);
  const dist: ShiftDistances = datasetDistances(ds, measured, rng.fork('distance'), { permutations, mmd: permutations > 0, units: mmdUnits as MmdUnits | undefined, onProgress: phasedReporter('mmd') });
  const mmd = dist.mmd;

  const result = {
    data: ds.name,
    data_sha256: datasetHash(ds),
    spec,
    seed,
    description,
    items_in: ds.size,
    items_out: items,
    out,
    distance: {
      kind: dist.kind,
      ks_max: dist.ksMax,
      ks_mean: dist.ksMean,
      psi_max: dist.psiMax,
      psi_mean: dist.psiMean,
      mmd_units: mmd?.units ?? null,
      mmd_dims: mmd?.dims ?? null,
      mmd2: mmd?.mmd2 ?? null,
      mmd_p_value: mmd?.pValue ?? null,
      mmd_bandwidth: mmd?.bandwidth ?? null,
      mmd_items: mmd ? [mmd.nRef, mmd.nCur] : null,
      mmd_permutations: mmd?.permutations ?? null,
      features: dist.features?.map((f) => ({ feature: f.feature, ks: f.ks, ks_p_value: f.ksPValue, psi: f.psi, missing: f.missingCur })) ?? null,
    },
  };
  if (values.json) {
    process.stdout.write(JSON.stringify(result) + '\n');
    return 0;
  }
  const lines = [
    `data      ${ds.name}  sha256 ${result.data_sha256.slice(0, 16)}…  ${ds.size} items [${ds.itemShape.join(', ')}]`,
    `shift     ${description}  (seed ${seed})`,
    `out       ${out}  (${items} items)`,
  ];
  if (mmd) lines.push(`MMD       ${mmd.units === 'std' ? `std units (${mmd.dims} non-constant features, each / its std)` : 'raw units'}  MMD² ${fmt(mmd.mmd2, 5)}  p = ${fmt(mmd.pValue)}  (${mmd.permutations} permutations, ${mmd.nRef} vs ${mmd.nCur} items, σ ${fmt(mmd.bandwidth, 3)})`);
  else if (dist.mmd === null && permutations > 0) lines.push('MMD       not computed (NaN values)');
  if (dist.features) {
    lines.push(`KS        max ${fmt(dist.ksMax!)}  mean ${fmt(dist.ksMean!)}      PSI  max ${fmt(dist.psiMax!)}  mean ${fmt(dist.psiMean!)}`);
    const top = [...dist.features].sort((a, b) => b.ks - a.ks || b.psi - a.psi).slice(0, values.verbose ? dist.features.length : 10);
    const w = Math.max(7, ...top.map((f) => f.feature.length));
    lines.push(`${'feature'.padEnd(w)}  KS      p(KS)     PSI`);
    for (const f of top) lines.push(`${f.feature.padEnd(w)}  ${fmt(f.ks)}  ${f.ksPValue.toExponential(1).padEnd(8)}  ${fmt(f.psi)}`);
    if (top.length < dist.features.length) lines.push(`(${dist.features.length - top.length} more features; --verbose or --json lists all)`);
  }
  process.stdout.write(lines.join('\n') + '\n');
  return 0;
}
