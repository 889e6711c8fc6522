import { DatasetHasher, itemSize, type Dataset } from '../data/dataset.js';
import { openChunked } from '../data/chunked.js';
import type { NpyArrayLike } from '../data/npy.js';
import { datasetToArrays } from '../data/npz.js';
import { withNpzWriter } from '../data/npz-writer.js';
import { DataError, UsageError } from '../errors.js';
import { Rng } from '../rng.js';
import { featureIndices } from '../data/features.js';
import { datasetDistances, getShift, MMD_UNITS, mmdPickedRows, mmdTest, shiftNames, shifts, startShift, type MmdUnits, type ShiftDistances, type ShiftSpec } from '../stress/drift/index.js';
import { resampleMeta } from '../stress/drift/shift/common.js';
import { flagName, flagSpec, flagValues } from '../options/schema.js';
import { numberOpt, parse, required } from './args.js';
import { onInterrupt } from './interrupt.js';
import { guardOutputs } from './outputs.js';
import { chunkFlags, chunkHelp, chunkItemsOpt, fmt } from './common.js';
import { phasedReporter } from './progress.js';

export const help = `gauntlet shift --data D --kind KIND [kind options] [--seed N] --out O.npz [--json]

Applies a covariate, missingness, quantisation, subpopulation or label shift and writes O.npz:
'x' (and 'y', 'ids' …) of the shifted set, every other array of the input kept where items are
kept, plus 'source_index' (resampling kinds), 'weights' (--mode reweight) or 'missing_mask'
(missing). Reports how far the shifted set is from the input: per-feature KS statistic and PSI
(10 quantile bins) for tabular data, and for all data the MMD between flattened items (RBF
kernel, median heuristic, permutation p-value, up to 500 items a side; on tabular data in
standardised units by default: each feature divided by its std on the input, constant features
skipped). Written atomically. The data are read and written in chunks: a first pass gathers what
the shift needs of the whole set (per-feature statistics, the condition's column; labels are held
anyway), a second shifts and writes chunk after chunk (the same bytes as one chunk).
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
${chunkHelp}
  --permutations P   MMD permutations (default 200; 0 skips the MMD)
  --mmd-units U      std (tabular default: features divided by their std on the input) or raw
  --json             print one JSON object as the last stdout line (every feature's distances)

Negative numbers need '=': --amount=-1.
`;

/** Every kind's flags (from the shifts' option declarations) plus `--where` for the subpopulation condition. */
const KIND_FLAGS: Record<string, { type: 'string' | 'boolean' }> = Object.assign({}, ...shifts.map((k) => flagSpec(k.options)), { where: { type: 'string' } });

/** Builds and validates the shift spec from the command-line options (FlagErrors name the flag). */
export function specFromOptions(kind: string, v: Record<string, string | boolean | undefined>): ShiftSpec {
  if (!(shiftNames as readonly string[]).includes(kind)) throw new UsageError(`'--kind' must be one of ${shiftNames.join(', ')}, got '${kind}'`);
  const k = getShift(kind);
  const own = flagSpec(k.options);
  const allowed = [...Object.keys(own), ...(kind === 'subpopulation' ? ['where'] : [])];
  for (const f of Object.keys(KIND_FLAGS)) {
    if (v[f] !== undefined && !allowed.includes(f)) {
      throw new UsageError(`'--${f}' does not apply to --kind ${kind} (it takes ${allowed.map((a) => `--${a}`).join(', ')})`);
    }
  }
  const obj: Record<string, unknown> = flagValues(k.options, v);
  if (kind === 'subpopulation') {
    const where = required('shift', 'where', v.where as string | undefined);
    const m = /^\s*(.+?)\s*(<=|>=|==|!=|<|>)\s*(\S+)\s*$/.exec(where);
    const value = m ? Number(m[3]) : NaN;
    if (!m || !Number.isFinite(value)) throw new UsageError(`'--where' must be FEATURE OP NUMBER with OP one of < <= > >= == != (e.g. 'age>40'), got '${where}'`);
    obj.feature = m[1]!;
    obj.op = m[2]!;
    obj.value = value;
  }
  for (const [key, o] of Object.entries(k.options)) {
    const f = flagName(key, o);
    if (o.required && f && obj[key] === undefined) throw new UsageError(`shift: --kind ${kind} needs '--${f}' (see 'gauntlet shift --help')`);
  }
  return k.parse(obj, { where: '--' }) as ShiftSpec;
}

/** The source rows of a weighted resample (with replacement, size n) for measuring distances of reweighted data. */
function weightedRows(weights: Float64Array, n: number, rng: Rng): Int32Array {
  const cum = new Float64Array(weights.length);
  let s = 0;
  for (let i = 0; i < weights.length; i++) cum[i] = s += weights[i]!;
  const rows = new Int32Array(n);
  for (let k = 0; k < n; k++) {
    const u = rng.uniform() * s;
    let lo = 0;
    let hi = cum.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cum[mid]! > u) hi = mid;
      else lo = mid + 1;
    }
    rows[k] = lo;
  }
  return rows;
}

/**
 * Rows of a set gathered as its chunks pass: all of them (`rows` null) or those `rows` names
 * (ascending, with repeats allowed), each at its place in `rows`.
 */
class RowGatherer {
  readonly x: Float32Array;
  private k = 0;
  constructor(private readonly rows: ArrayLike<number> | null, n: number, private readonly per: number) {
    this.x = new Float32Array((rows ? rows.length : n) * per);
  }
  /** The rows [start, start + x.length / per) of the set. */
  add(x: Float32Array, start: number): void {
    const { rows, per } = this;
    if (!rows) return this.x.set(x, start * per);
    const end = start + x.length / per;
    for (; this.k < rows.length && rows[this.k]! < end; this.k++) this.x.set(x.subarray((rows[this.k]! - start) * per, (rows[this.k]! - start + 1) * per), this.k * per);
  }
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
    ...chunkFlags,
    ...KIND_FLAGS,
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
  const ds = await openChunked({ path: dataPath, limit });
  const chunkItems = chunkItemsOpt(values['chunk-items'], ds.itemShape);
  const per = itemSize(ds);
  const image = ds.itemShape.length >= 2;
  if (mmdUnits === 'std' && image) throw new DataError(`MMD in std units applies to tabular data; images are compared in raw units`);
  const rng = new Rng(seed);
  const drawRng = () => rng.fork(`shift:${kind}`);
  const immutable = values.immutable === undefined ? undefined : featureIndices(ds, values.immutable.split(',').map((f) => f.trim()).filter(Boolean).map((f) => (/^\d+$/.test(f) ? Number(f) : f)), 'immutable');

  // First pass (what the shift needs of the whole set: per-feature statistics, the condition's
  // column; labels are held anyway), then the draws that pick items.
  const pass = startShift(ds, spec, { immutable, exportNan: true });
  if (pass.needsInputs) for await (const c of ds.chunks(chunkItems)) pass.update(c.x);
  const stream = pass.finish(drawRng());
  const items = stream.size;

  // The arrays of the output, in the order the whole-set verb wrote them; 'x' is streamed.
  const placeholder = new Float32Array(0);
  let arrays: Record<string, NpyArrayLike>;
  if (stream.indices) {
    const idx = stream.indices;
    const meta = resampleMeta(ds, idx);
    arrays = datasetToArrays({ ...ds, x: placeholder, size: items, labels: meta.labels, ids: meta.ids, extras: {}, metadata: null } as unknown as Dataset);
    // keep per-item extras of the kept items; drop extras that are not per item
    for (const [key, e] of Object.entries(ds.extras)) {
      if (e.shape.length === 0 || e.shape[0] !== ds.size) continue;
      const rest = e.shape.slice(1).reduce((a, b) => a * b, 1);
      const src = e.data;
      const data = Array.from({ length: idx.length * rest }, (_, k) => src[idx[Math.floor(k / rest)]! * rest + (k % rest)]!);
      arrays[key] = { dtype: e.dtype, shape: [idx.length, ...e.shape.slice(1)], data };
    }
    arrays.source_index = { dtype: '<i4', shape: [idx.length], data: idx };
  } else {
    arrays = datasetToArrays({ ...ds, x: placeholder, metadata: null } as unknown as Dataset);
    if (stream.weights) arrays.weights = { dtype: '<f8', shape: [stream.weights.length], data: stream.weights };
  }
  const missing = spec.shift === 'missing';
  if (missing) arrays.missing_mask = { dtype: '|u1', shape: [ds.size, ...ds.itemShape], data: [] };

  // What the distances need: for images the rows the MMD keeps (up to 500 a side); for tabular
  // data every row (per-feature KS and PSI compare whole columns).
  const distance = rng.fork('distance');
  const doMmd = image && permutations > 0 && Math.min(ds.size, items) >= 2;
  const picked = doMmd ? mmdPickedRows(ds.size, items, distance) : { ref: null, cur: null };
  const reweightRows = stream.weights ? weightedRows(stream.weights, ds.size, rng.fork('reweight')) : null;
  // A reweighted set is measured on its weighted resample: the clean rows it draws, in draw order.
  let curFromClean: { at: Int32Array; rows: Int32Array } | null = null;
  if (reweightRows && (doMmd || !image)) {
    const want = picked.cur ? Int32Array.from(picked.cur as ArrayLike<number>, (k) => reweightRows[k]!) : reweightRows;
    const at = Int32Array.from(want.keys()).sort((a, b) => want[a]! - want[b]! || a - b);
    curFromClean = { at, rows: Int32Array.from(at, (k) => want[k]!) };
  }
  const keep = doMmd || !image;
  const refRows = keep ? new RowGatherer(picked.ref, ds.size, per) : null;
  const curRows = keep && !curFromClean ? new RowGatherer(picked.cur, items, per) : null;
  const curDrawn = curFromClean ? new RowGatherer(curFromClean.rows, curFromClean.rows.length, per) : null;
  let curHasNaN = false;

  const hasher = new DatasetHasher(ds.size, ds.itemShape, ds.labels !== null);
  // Ctrl-C: exit at once (130/143), removing the unfinished temporary output; nothing was written.
  const stop = onInterrupt((sig) => `gauntlet: shift interrupted (${sig}); nothing was written`, 0);
  try {
    await withNpzWriter(out, async (w) => {
      for (const [key, arr] of Object.entries(arrays)) {
        if (key === 'x') {
          await w.begin('x', '<f4', [items, ...ds.itemShape]);
          let at = 0;
          for await (const c of ds.chunks(chunkItems)) {
            hasher.update(c.x);
            refRows?.add(c.x, c.start);
            curDrawn?.add(c.x, c.start);
            const x = stream.map(c.x, c.start);
            if (!curHasNaN) for (let i = 0; i < x.length && !curHasNaN; i++) curHasNaN = Number.isNaN(x[i]!);
            curRows?.add(x, at);
            at += x.length / per;
            await w.write(x);
          }
          await w.end();
        } else if (key === 'missing_mask') {
          // After x: the same draws again (a fresh generator of the same name), compared chunk by chunk.
          const again = pass.finish(drawRng());
          await w.begin(key, '|u1', [ds.size, ...ds.itemShape]);
          for await (const c of ds.chunks(chunkItems)) {
            const x = again.map(c.x, c.start);
            const mask = new Uint8Array(x.length);
            for (let i = 0; i < mask.length; i++) mask[i] = x[i] !== c.x[i] ? 1 : 0;
            await w.write(mask);
          }
          await w.end();
        } else await w.array(key, arr);
      }
    });
  } finally {
    stop.dispose();
  }
  const description = stream.description();
  let cur: Float32Array | null = curRows?.x ?? null;
  if (curDrawn && curFromClean) {
    cur = new Float32Array(curDrawn.x.length);
    curFromClean.at.forEach((k, t) => cur!.set(curDrawn.x.subarray(t * per, (t + 1) * per), k * per));
  }
  let dist: ShiftDistances;
  if (image) {
    const mmd = doMmd && !curHasNaN ? mmdTest(refRows!.x, cur!, per, distance, { permutations, onProgress: phasedReporter('mmd') }) : null;
    dist = { kind: 'image', features: null, ksMax: null, ksMean: null, psiMax: null, psiMean: null, mmd };
  } else {
    const ref = { name: ds.name, itemShape: ds.itemShape, featureNames: ds.featureNames, x: refRows!.x } as unknown as Dataset;
    dist = datasetDistances(ref, { itemShape: ds.itemShape, x: cur! }, distance, { permutations, mmd: permutations > 0, units: mmdUnits as MmdUnits | undefined, onProgress: phasedReporter('mmd') });
  }
  const mmd = dist.mmd;

  const result = {
    data: ds.name,
    data_sha256: hasher.digest(ds.labels),
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
