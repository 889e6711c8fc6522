/**
 * Adversarial stress: the entry point campaigns, stream segments and the `attack` CLI verb share.
 *
 * Example:
 *   const model = await Model.open('model.onnx');
 *   const spec = parseAttackSpec({ attack: 'pgd', norm: 'linf', eps: [0.05, 0.1], steps: 20 }, 'attacks[0]');
 *   const r = await runAttack(model, ds.x, ds.size, ds.labels!, spec, new Rng(0));
 *   r.perEps.map((e) => e.aggregate.robustAccuracy); r.flags;
 */
import type { Model } from '../../engine/model.js';
import { DataError, UsageError } from '../../errors.js';
import type { Rng } from '../../rng.js';
import { getAttack } from './registry.js';
import { AttackRun, EngineCache } from './runner.js';
import { parseAttackSpec, resolveAttackSpec } from './spec.js';
import type { AttackResult, AttackSpec, AttackSummary, Constraints, EpsResult } from './types.js';

export * from './types.js';
export { parseAttackSpec, resolveAttackSpec } from './spec.js';
export { attacks, attackNames, getAttack, listAttacks, type AttackListing } from './registry.js';
export { EngineCache } from './runner.js';
export { tabularConstraints, type TabularConstraintOptions } from './constraints.js';
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
}

/** The largest meaningful ε for a norm on a model's data bounds (the diameter of the box). */
export function maxEps(model: Model, norm: 'linf' | 'l2', itemSize: number): number {
  const [lo, hi] = model.decl.bounds;
  return norm === 'linf' ? hi - lo : (hi - lo) * Math.sqrt(itemSize);
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
export async function runAttack(model: Model, x: Float32Array, n: number, labels: Int32Array, spec: AttackSpec, rng: Rng, opts: RunAttackOptions = {}): Promise<AttackResult> {
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
  const top = maxEps(model, resolved.norm, per);
  for (const e of resolved.eps) {
    if (e > top + 1e-12) throw new UsageError(`'eps' must be in [0, ${+top.toPrecision(6)}] for ${resolved.norm} on data bounds [${model.decl.bounds.join(', ')}], got ${e}`);
  }
  const engines = opts.engines ?? new EngineCache(model);
  const run = new AttackRun(model, x, n, labels, resolved.norm, rng, {
    batchSize,
    constraints: c,
    targets: opts.targets,
    onProgress: opts.onProgress,
    engines,
    epsCount: resolved.eps.length,
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
      spec: resolved,
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
    };
    return { ...result, summary: summarizeAttack(result) };
  } finally {
    if (!opts.engines) await engines.close();
  }
}

const num = (v: number): number | null => (Number.isFinite(v) ? v : null);

/** The JSON-ready digest of a result (what `gauntlet attack --json` prints and campaigns store). */
export function summarizeAttack(r: Omit<AttackResult, 'summary'>): AttackSummary {
  const a = r.aggregate;
  return {
    attack: r.spec.attack,
    norm: r.spec.norm,
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
