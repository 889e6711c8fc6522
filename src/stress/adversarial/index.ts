/**
 * Adversarial stress: the entry point campaigns, stream segments and the `attack` CLI verb share.
 *
 * Example:
 *   const model = await Model.open('model.onnx');
 *   const spec = parseAttackSpec({ attack: 'pgd', norm: 'linf', eps: [0.05, 0.1], steps: 20 }, 'attacks[0]');
 *   const r = await runAttack(model, ds.x, ds.size, ds.labels!, spec, new Rng(0));
 *   r.perEps.map((e) => e.aggregate.robustAccuracy); r.flags;
 */
import type { Classifier } from '../../engine/classifier.js';
import { DataError, UsageError } from '../../errors.js';
import type { Rng } from '../../rng.js';
import { getAttack } from './registry.js';
import { AttackRun, EngineCache } from './runner.js';
import { parseAttackSpec, resolveAttackSpec } from './spec.js';
import type { AttackResult, AttackSpec, AttackSummary, Constraints, EpsResult, EpsUnits, Norm } from './types.js';
import { featureStd, InputScale } from './units.js';

export * from './types.js';
export { parseAttackSpec, resolveAttackSpec } from './spec.js';
export { attacks, attackNames, getAttack, listAttacks, type AttackListing } from './registry.js';
export { EngineCache } from './runner.js';
export { tabularConstraints, type TabularConstraintOptions } from './constraints.js';
export { EPS_UNITS, featureStd } from './units.js';
export { AUTOATTACK_PRESETS } from './attacks/autoattack.js';

export interface RunAttackOptions {
  /** Items per ORT run (default 256); a partial batch is padded to the next 2^k or 3·2^k (few gradient graphs, little waste). */
  batchSize?: number;
  /** Per-feature bounds and immutable features (see `tabularConstraints`). */
  constraints?: Constraints;
  /** Explicit per-sample targets: success becomes "classified as the target" (targeted criterion). */
  targets?: Int32Array;
  /** Gradient graphs to reuse across calls on the same model (closed by the caller). */
  engines?: EngineCache;
  /** Progress in samples × ε done of samples × ε. */
  onProgress?: (done: number, total: number) => void;
  /** Shape of one item (default: the model's); flat items `[d]` are tabular data. */
  itemShape?: readonly number[];
  /**
   * σ per item element for ε in std units: the clean data's standard deviations (default: those of
   * `x`). Campaigns pass the clean set's, so an attack on drifted inputs keeps the same units.
   */
  featureStd?: ArrayLike<number>;
  /** Index of item 0 in a larger set attacked chunk by chunk (see `AttackRun`'s `indexOffset`, chunked.ts). */
  indexOffset?: number;
}

/** True when items are flat (tabular data): `itemShape` [d], or a model whose input is [N, d]. */
export function isTabularItem(model: Classifier, itemShape?: readonly number[]): boolean {
  return (itemShape ?? model.itemShape ?? []).length === 1;
}

/**
 * The data-domain bounds an attack keeps every element in: the declared bounds, or, for tabular
 * data without declared bounds, none (per-feature bounds come from the constraints, which
 * `tabularConstraints` takes from the observed range of each feature). The [0, 1] default is an
 * image convention; applied to tabular rows it would clip age 40 to 1.
 */
export function attackBounds(model: Classifier, tabular: boolean): [number, number] {
  return tabular && !model.decl.boundsDeclared ? [-Infinity, Infinity] : model.decl.bounds;
}

/**
 * The largest meaningful ε for a norm on a model's data bounds (the diameter of the box; Infinity
 * when unbounded). With `std` (σ per element), in std units over the elements that can move.
 */
export function maxEps(model: Classifier, norm: Norm, itemSize: number, opts: { tabular?: boolean; std?: ArrayLike<number> | null } = {}): number {
  const [lo, hi] = attackBounds(model, opts.tabular ?? isTabularItem(model));
  const w = hi - lo;
  if (!Number.isFinite(w)) return Infinity;
  if (!opts.std) return norm === 'linf' ? w : w * Math.sqrt(itemSize);
  let m = 0;
  let ss = 0;
  for (let j = 0; j < opts.std.length; j++) {
    const s = opts.std[j]!;
    if (!(s > 0)) continue;
    m = Math.max(m, w / s);
    ss += (w / s) ** 2;
  }
  // No element can move (all constant): every ε is the identity, none is too large.
  if (m === 0) return Infinity;
  return norm === 'linf' ? m : Math.sqrt(ss);
}

/** The units ε is in for this spec and data: the spec's `epsUnits`, else std for tabular data and raw for images. */
export function resolveEpsUnits(spec: Pick<AttackSpec, 'epsUnits'>, tabular: boolean): EpsUnits {
  const units = spec.epsUnits ?? (tabular ? 'std' : 'raw');
  if (units === 'std' && !tabular) throw new UsageError(`'eps_units: std' applies to tabular data (flat items); images keep data-domain units (eps_units: raw)`);
  return units;
}

/**
 * Attacks `n` inputs (row-major in `x`, data domain) with true `labels`. Returns a NEW array of
 * adversarial inputs per ε, per-sample results, aggregates and reliability flags; `x` is never
 * mutated. Same seed (`rng`), same bytes.
 *
 * ε values run in increasing order. A point broken at ε keeps its adversarial example at every
 * larger ε (the balls are nested, so it is still inside), re-verified by a forward pass there;
 * a point not yet broken is attacked afresh at each ε. Nothing else is assumed monotone.
 */
export async function runAttack(model: Classifier, x: Float32Array, n: number, labels: Int32Array, spec: AttackSpec, rng: Rng, opts: RunAttackOptions = {}): Promise<AttackResult> {
  const t0 = performance.now();
  const resolved = resolveAttackSpec(parseAttackSpec(spec, 'spec', { camelCase: true }));
  const def = getAttack(resolved.attack);
  if (!(Number.isInteger(n) && n >= 0)) throw new UsageError(`'n' must be a non-negative integer, got ${n}`);
  if (n > 0 && x.length % n !== 0) throw new DataError(`${x.length} input values do not divide into ${n} items`);
  if (labels.length !== n) throw new DataError(`${labels.length} labels for ${n} inputs`);
  const per = n > 0 ? x.length / n : 0;
  const batchSize = opts.batchSize ?? 256;
  if (!(Number.isInteger(batchSize) && batchSize >= 1 && batchSize <= 65536)) throw new UsageError(`'batchSize' must be an integer in [1, 65536], got ${batchSize}`);
  const c = opts.constraints;
  for (const [k, a] of [['lower', c?.lower], ['upper', c?.upper], ['mask', c?.mask]] as const) {
    if (a && a.length !== per) throw new UsageError(`'constraints.${k}' must have ${per} values (one per item element), got ${a.length}`);
  }
  if (opts.targets && opts.targets.length !== n) throw new UsageError(`'targets' must have ${n} values (one per sample), got ${opts.targets.length}`);
  if (model.decl.ids) {
    throw new UsageError(model.decl.wrt === 'embedding'
      ? `${model.label}: declared 'wrt: embedding': attack its embeddings with runEmbeddingAttack (gauntlet attack), not its token ids`
      : `${model.label}: input ${model.decl.inputName} holds integer token ids (${model.decl.ids}), which cannot be perturbed continuously; declare 'wrt: embedding' (--model-wrt embedding) to attack in embedding space with a projection back to real tokens`);
  }
  const tabular = isTabularItem(model, opts.itemShape);
  const epsUnits = resolveEpsUnits(resolved, tabular);
  let std: Float32Array | null = null;
  if (epsUnits === 'std') {
    std = opts.featureStd ? Float32Array.from(opts.featureStd) : featureStd(x, n, per);
    if (std.length !== per) throw new UsageError(`'featureStd' must have ${per} values (one per item element), got ${std.length}`);
  }
  const bounds = attackBounds(model, tabular);
  const top = maxEps(model, resolved.norm, per, { tabular, std });
  for (const e of resolved.eps) {
    if (e > top + 1e-12) throw new UsageError(`'eps' must be in [0, ${+top.toPrecision(6)}] for ${resolved.norm}${std ? ' in std units' : ''} on data bounds [${bounds.join(', ')}], got ${e}`);
  }
  const engines = opts.engines ?? new EngineCache(model);
  const run = new AttackRun(model, x, n, labels, resolved.norm, rng, {
    batchSize,
    constraints: c,
    targets: opts.targets,
    onProgress: opts.onProgress,
    engines,
    epsCount: resolved.eps.length,
    bounds,
    scale: std ? new InputScale(std) : undefined,
    indexOffset: opts.indexOffset,
  });
  try {
    const perEps: EpsResult[] = [];
    if (n > 0) {
      await run.clean();
      for (let i = 0; i < n; i++) {
        if (labels[i]! >= run.k) throw new DataError(`label ${labels[i]} of item ${i} is outside the model's ${run.k} classes [0, ${run.k - 1}]`);
        if (opts.targets && !(opts.targets[i]! >= 0 && opts.targets[i]! < run.k)) throw new UsageError(`'targets' must be classes in [0, ${run.k - 1}], got ${opts.targets[i]} for item ${i}`);
      }
      const need = def.minClasses(resolved);
      if (run.k < need) throw new UsageError(`attack '${def.name}' with these settings needs at least ${need} classes; the model has ${run.k}`);
    }
    for (let e = 0; e < resolved.eps.length; e++) {
      const te = performance.now();
      const eps = resolved.eps[e]!;
      run.beginEps(eps, e, n > 0 ? def.stages(resolved, run.k) : 1);
      if (eps > 0 && run.robust().length > 0) await def.run(run, resolved);
      run.endEps();
      perEps.push(await run.finishEps((performance.now() - te) / 1000));
    }
    const last = perEps[perEps.length - 1]!;
    const minEps = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      if (!last.samples.cleanCorrect[i]) continue;
      const hit = perEps.find((p) => p.samples.success[i]);
      minEps[i] = hit ? hit.eps : Infinity;
    }
    const result: Omit<AttackResult, 'summary'> = {
      spec: { ...resolved, epsUnits },
      epsUnits,
      featureStd: std,
      eps: resolved.eps,
      adversarial: last.adversarial,
      samples: last.samples,
      minEps,
      aggregate: last.aggregate,
      perEps,
      members: run.members,
      flags: run.flags(true),
      gradientBatches: run.gradientBatches,
      forwardBatches: run.forwardBatches,
      ortSeconds: run.ortMs / 1000,
      seconds: (performance.now() - t0) / 1000,
      attackable: run.attackable.slice(),
      diagnostics: run.diagnostics(),
    };
    return { ...result, summary: summarizeAttack(result) };
  } finally {
    if (!opts.engines) await engines.close();
  }
}

const num = (v: number): number | null => (Number.isFinite(v) ? v : null);

/** The JSON-ready digest of a result (what `gauntlet attack --json` prints and campaigns store). */
export function summarizeAttack(r: Pick<AttackResult, 'spec' | 'epsUnits' | 'aggregate' | 'members' | 'flags' | 'gradientBatches' | 'forwardBatches' | 'ortSeconds' | 'seconds'> & { perEps: readonly Pick<EpsResult, 'eps' | 'aggregate'>[] }): AttackSummary {
  const a = r.aggregate;
  return {
    attack: r.spec.attack,
    norm: r.spec.norm,
    eps_units: r.epsUnits,
    spec: r.spec,
    samples: a.samples,
    clean_accuracy: a.cleanAccuracy,
    robust_accuracy: a.robustAccuracy,
    attack_success_rate: a.attackSuccessRate,
    mean_linf: num(a.meanLinf),
    median_linf: num(a.medianLinf),
    mean_l2: num(a.meanL2),
    median_l2: num(a.medianL2),
    mean_queries: num(a.meanQueries),
    curve: r.perEps.map((e) => ({ eps: e.eps, robust_accuracy: e.aggregate.robustAccuracy, attack_success_rate: e.aggregate.attackSuccessRate, seconds: e.aggregate.seconds })),
    members: r.members,
    flags: r.flags,
    gradient_batches: r.gradientBatches,
    forward_batches: r.forwardBatches,
    ort_seconds: r.ortSeconds,
    seconds: r.seconds,
  };
}
