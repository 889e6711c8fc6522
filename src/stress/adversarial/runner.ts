/**
 * The state of one `runAttack` call and the machinery every attack shares: clean predictions,
 * fixed-size packed batches (one gradient graph per loss and batch size, reused across batches),
 * per-sample random streams, write-back of the strongest result per point, the final verification
 * forward pass, per-ε snapshots and the gradient-masking diagnostics.
 *
 * An attack (one file under `attacks/`) sees an `AttackRun`: it asks `robust()` for the points
 * still standing and hands batches of them to `forBatches`, which packs, pads, runs and records.
 */
import { GradientEngine } from '../../autodiff/gradient.js';
import type { LossKind } from '../../autodiff/loss.js';
import type { GradientOptions } from '../../autodiff/options.js';
import type { Classifier } from '../../engine/classifier.js';
import type { Model } from '../../engine/model.js';
import { UnsupportedOpError } from '../../errors.js';
import { Rng } from '../../rng.js';
import { buildBox, perturbationNorms, type BallBatch } from './norms.js';
import { argmaxRow } from './scores.js';
import type { AttackAggregate, AttackDiagnostics, Constraints, EpsResult, MemberSummary, Norm, SampleResults } from './types.js';
import type { InputScale } from './units.js';

/**
 * What building a gradient graph costs (probe run, graph construction, ORT session), in runs of a
 * full batch: about 5 on a ResNet-18 at batch 128 (1.1 s against 0.21 s), more on small models.
 * The lower figure keeps padding from costing more than the graph it saves.
 */
const GRAPH_BUILD_RUNS = 4;

/** Gradient engines of one model, one per loss head, shared across batches (and, if passed in, calls). */
export class EngineCache {
  private readonly engines = new Map<string, GradientEngine>();
  constructor(
    readonly model: Classifier,
    /** The gradient rules' options (`GRADIENT_OPTIONS`) for every engine. */
    readonly gradient: Partial<GradientOptions> = {},
  ) {}

  get(kind: LossKind, targeted: boolean): GradientEngine {
    const key = `${kind}:${targeted}`;
    let e = this.engines.get(key);
    if (!e) {
      // A deployed model has no graph to differentiate: the same refusal as an op without a rule, so
      // AutoAttack falls back to Square and every other attack names it.
      if (this.model.source !== 'onnx') throw new UnsupportedOpError([], `${this.model.label} is an endpoint, a black-box model`);
      e = new GradientEngine(this.model as Model, { kind, targeted }, this.gradient);
      this.engines.set(key, e);
    }
    return e;
  }

  /** Batch sizes some engine of the cache has built a gradient graph for. */
  builtSizes(): Set<number> {
    return new Set([...this.engines.values()].flatMap((e) => e.builtSizes()));
  }

  async close(): Promise<void> {
    for (const e of this.engines.values()) await e.close();
    this.engines.clear();
  }
}

/** A packed batch: `n` real rows (sample indices `idx`) padded to `size` by repeating the last row. */
export interface PackedBatch extends BallBatch {
  readonly idx: Int32Array;
  readonly n: number;
  readonly norm: Norm;
  readonly labels: Int32Array;
  /** Criterion targets (explicit targeted attack), or null for misclassification. */
  readonly targets: Int32Array | null;
}

/** What an attack returns for a batch (arrays sized to the padded batch; only real rows are read). */
export interface BatchOutcome {
  adv: Float32Array;
  success: Uint8Array;
  /** The attacker's objective at `adv` (higher is stronger); compared only within one member. */
  loss: Float32Array;
  iterations: Int32Array;
  queries: Int32Array;
  /**
   * Per row, the class a plain forward pass (`AttackRun.forward`) gave for exactly `adv`'s row, or
   * −1 where `adv` was judged from other scores (a gradient run's); `finishEps` then need not run
   * that row again.
   */
  verified?: Int32Array;
}

export interface RunInit {
  batchSize: number;
  constraints?: Constraints;
  targets?: Int32Array;
  onProgress?: (done: number, total: number) => void;
  engines: EngineCache;
  epsCount: number;
  /** Data-domain bounds of every element (default: the model's declared bounds). */
  bounds?: readonly [number, number];
  /** ε in standardised units: the attack runs on x/σ (see `units.ts`). */
  scale?: InputScale;
  /**
   * Index of this call's first item in a larger set attacked chunk by chunk (default 0): sample
   * i draws from the stream of item `indexOffset + i`, so a chunked attack draws what a whole one
   * does; the randomised-output check (the first batch run twice) runs only on the chunk at 0.
   */
  indexOffset?: number;
}

/** The reliability flags (AutoAttack's checks, plus Gauntlet's verification), `code: explanation`. */
export function flagsOf(d: AttackDiagnostics, whiteBox: boolean): string[] {
  const out: string[] = [];
  if (d.randomisedDiff > 0) {
    out.push(
      `randomised-outputs: two identical forward passes differ (max |Δscore| ${d.randomisedDiff.toPrecision(3)}); ` +
        'the model looks stochastic, so single-sample gradients and verdicts are unreliable (use expectation over transformation)',
    );
  }
  if (whiteBox && d.zeroGrad + d.nonFinite > 0) {
    out.push(
      `zero-or-nan-gradients: ${d.zeroGrad} of ${d.attacked} attacked points had an all-zero input gradient at a run's start and ${d.nonFinite} a non-finite one; ` +
        'gradient attacks cannot move them, so their robustness may be overstated (gradient masking)',
    );
  }
  const logitLosses = d.lossesUsed.filter((l) => l !== 'ce');
  if (d.probabilities && logitLosses.length > 0) {
    out.push(
      `probability-outputs: the model outputs probabilities but the attack uses ${logitLosses.join(', ')} loss, which is meant for logits; ` +
        'Gauntlet uses log-probabilities, which saturate — export the model without its final softmax for a reliable evaluation',
    );
  }
  if (d.mismatchLost + d.mismatchGained > 0) {
    out.push(
      `unstable-verdicts: ${d.mismatchLost} point(s) the attack counted as broken are classified correctly by a plain forward pass ` +
        `(counted robust) and ${d.mismatchGained} the other way (counted broken); scores differ between runs or sit on the decision boundary`,
    );
  }
  if (d.blackBoxWins.length > 0) {
    out.push(
      `black-box-beat-white-box: Square broke points that the gradient attacks left robust (${d.blackBoxWins.map((w) => `${w.broke} at ε = ${w.eps}`).join(', ')}); ` +
        'gradient attacks should dominate a black-box one, so gradients may be masked or obfuscated',
    );
  }
  for (const [, v] of d.other) out.push(v);
  return out;
}

export class AttackRun {
  readonly per: number;
  /** Index of item 0 in the whole set (chunked attacks), for the per-sample streams. */
  private readonly offset: number;
  /**
   * The clean inputs the attack works on: the data-domain inputs, or x/σ when ε is in standardised
   * units. Everything an attack sees (batches, boxes, `adv`) is in these units; `forward`/`grad`
   * map back to the data domain, and `finishEps` returns data-domain adversarial inputs.
   */
  readonly x: Float32Array;
  private readonly scale: InputScale | null;
  /** The box in the data domain (before any scaling), for mapping results back. */
  private readonly rawLo: Float32Array;
  private readonly rawHi: Float32Array;
  /** Item geometry [C, H, W] for images; [1, 1, per] for flat (tabular) items. */
  readonly geometry: readonly [number, number, number];
  k = 0;
  readonly itemLo: Float32Array;
  readonly itemHi: Float32Array;
  readonly batchSize: number;
  readonly criterionTargets: Int32Array | null;
  cleanScores = new Float32Array(0);
  cleanPred: Int32Array;
  /**
   * Per item, the class a plain forward pass gave for exactly its current `adv`, or −1 when none
   * did: `finishEps` verifies only the −1 items (the others already were, by the same forward).
   */
  private readonly advPred: Int32Array;
  /** Clean-correct points the criterion can be met on (explicit targets equal to the label are not). */
  attackable: Uint8Array;
  probabilities = false;
  /** Set when the gradient engine cannot differentiate the model (ensembles fall back to Square). */
  gradientError: Error | null = null;
  // State at the current ε.
  eps = 0;
  epsIndex = 0;
  readonly adv: Float32Array;
  readonly success: Uint8Array;
  readonly iterations: Int32Array;
  readonly queries: Int32Array;
  private readonly bestLoss: Float32Array;
  // Diagnostics.
  readonly zeroGrad: Uint8Array;
  readonly nonFinite: Uint8Array;
  readonly lossesUsed = new Set<string>();
  private readonly flagMap = new Map<string, string>();
  private readonly memberMap = new Map<string, MemberSummary>();
  /** ORT runs so far: forward+gradient and forward-only. */
  gradientBatches = 0;
  forwardBatches = 0;
  /** Milliseconds spent awaiting ONNX Runtime (gradient-graph builds included). */
  ortMs = 0;
  private randomisedDiff = 0;
  private readonly blackBoxWins: { eps: number; broke: number }[] = [];
  private mismatchLost = 0;
  private mismatchGained = 0;
  // Progress.
  private stages = 1;
  private stageIndex = 0;
  /** Where the batch in progress lies in its stage: [start, width] as fractions of the stage. */
  private batchSpan: [number, number] = [0, 0];
  private lastDone = -1;

  constructor(
    readonly model: Classifier,
    readonly rawX: Float32Array,
    readonly n: number,
    readonly labels: Int32Array,
    readonly norm: Norm,
    readonly rng: Rng,
    private readonly init: RunInit,
  ) {
    this.per = n > 0 ? rawX.length / n : 0;
    this.offset = init.indexOffset ?? 0;
    this.scale = init.scale ?? null;
    this.x = this.scale ? this.scale.toInternal(rawX) : rawX;
    const shape = model.itemShape?.every((d) => typeof d === 'number') ? (model.itemShape as number[]) : null;
    const prod = shape ? shape.reduce((a, b) => a * b, 1) : -1;
    this.geometry =
      shape && prod === this.per && shape.length === 3
        ? [shape[0]!, shape[1]!, shape[2]!]
        : shape && prod === this.per && shape.length === 2
          ? [1, shape[0]!, shape[1]!]
          : [1, 1, this.per];
    this.batchSize = model.fixedBatch ?? init.batchSize;
    this.criterionTargets = init.targets ?? null;
    const [lo, hi] = init.bounds ?? model.decl.bounds;
    this.itemLo = new Float32Array(this.per).fill(lo);
    this.itemHi = new Float32Array(this.per).fill(hi);
    const c = init.constraints;
    const sc = this.scale;
    for (let j = 0; j < this.per; j++) {
      if (c?.lower) this.itemLo[j] = Math.max(lo, c.lower[j]!);
      if (c?.upper) this.itemHi[j] = Math.min(hi, c.upper[j]!);
      if ((c?.mask && c.mask[j] === 0) || sc?.pinned[j]) {
        // Pinned: an empty box, widened to the clean value by buildBox.
        this.itemLo[j] = Infinity;
        this.itemHi[j] = -Infinity;
      }
    }
    this.rawLo = this.itemLo.slice();
    this.rawHi = this.itemHi.slice();
    if (sc) {
      for (let j = 0; j < this.per; j++) {
        if (this.itemLo[j]! <= this.itemHi[j]!) {
          this.itemLo[j] = sc.bound(this.itemLo[j]!, j);
          this.itemHi[j] = sc.bound(this.itemHi[j]!, j);
        }
      }
    }
    this.cleanPred = new Int32Array(n);
    this.advPred = new Int32Array(n).fill(-1);
    this.attackable = new Uint8Array(n);
    this.adv = this.x.slice();
    this.success = new Uint8Array(n);
    this.iterations = new Int32Array(n);
    this.queries = new Int32Array(n);
    this.bestLoss = new Float32Array(n).fill(-Infinity);
    this.zeroGrad = new Uint8Array(n);
    this.nonFinite = new Uint8Array(n);
  }

  get engines(): EngineCache {
    return this.init.engines;
  }

  /** Forward+gradient of a loss on a packed batch in the attack's units (counted once it has run). */
  async grad(engine: GradientEngine, x: Float32Array, size: number, labels: Int32Array, targets: Int32Array | null): ReturnType<GradientEngine['run']> {
    const t0 = performance.now();
    try {
      const res = await engine.run(this.scale ? this.scale.toRaw(x) : x, size, labels, targets ?? undefined);
      this.gradientBatches++;
      if (this.scale) this.scale.gradToInternal(res.grad);
      return res;
    } finally {
      this.ortMs += performance.now() - t0;
    }
  }

  /** Forward pass of `m` rows in the attack's units (counted). */
  async forward(x: Float32Array, m: number): ReturnType<Classifier['predictBatch']> {
    return this.forwardRaw(this.scale ? this.scale.toRaw(x) : x, m);
  }

  /** Forward pass of `m` data-domain rows (counted). */
  private async forwardRaw(x: Float32Array, m: number): ReturnType<Classifier['predictBatch']> {
    this.forwardBatches++;
    const t0 = performance.now();
    try {
      return await this.model.predictBatch(x, m);
    } finally {
      this.ortMs += performance.now() - t0;
    }
  }

  /** Clean forward pass (and the randomised-output check: the first batch is run twice). */
  async clean(): Promise<void> {
    const B = this.batchSize;
    for (let s = 0; s < this.n; s += B) {
      const m = Math.min(B, this.n - s);
      const xs = this.rawX.subarray(s * this.per, (s + m) * this.per);
      const r = await this.forwardRaw(xs, m);
      if (s === 0) {
        this.k = r.numClasses;
        this.cleanScores = new Float32Array(this.n * this.k);
      }
      if (s === 0 && this.offset === 0) {
        const again = await this.forwardRaw(xs, m);
        for (let j = 0; j < r.scores.length; j++) {
          const d = Math.abs(r.scores[j]! - again.scores[j]!);
          if (!(d <= 1e-5 * (1 + Math.abs(r.scores[j]!)))) this.randomisedDiff = Math.max(this.randomisedDiff, d || Infinity);
        }
      }
      this.cleanScores.set(r.scores, s * this.k);
    }
    this.probabilities = this.model.outputKind === 'probabilities';
    for (let i = 0; i < this.n; i++) {
      const p = argmaxRow(this.cleanScores, i, this.k);
      this.cleanPred[i] = p;
      this.advPred[i] = p;
      const ok = p === this.labels[i];
      this.attackable[i] = ok && (!this.criterionTargets || this.criterionTargets[i] !== this.labels[i]) ? 1 : 0;
    }
  }

  /** Is class `pred` adversarial for sample i under the criterion? */
  isAdversarial(i: number, pred: number): boolean {
    return this.criterionTargets ? pred === this.criterionTargets[i] : pred !== this.labels[i];
  }

  /** Starts an ε: points already broken (at a smaller ε, whose ball this one contains) stay broken. */
  beginEps(eps: number, index: number, stages: number): void {
    this.eps = eps;
    this.epsIndex = index;
    this.stages = Math.max(1, stages);
    this.stageIndex = 0;
    this.bestLoss.fill(-Infinity);
    for (let i = 0; i < this.n; i++) {
      if (this.attackable[i] && !this.success[i]) {
        this.iterations[i] = 0;
        this.queries[i] = 0;
      }
    }
  }

  /** Points of `set` (default: all) that are attackable and not yet broken. */
  robust(set?: Int32Array): Int32Array {
    const out: number[] = [];
    if (set) {
      for (const i of set) if (this.attackable[i] && !this.success[i]) out.push(i);
    } else {
      for (let i = 0; i < this.n; i++) if (this.attackable[i] && !this.success[i]) out.push(i);
    }
    return Int32Array.from(out);
  }

  /**
   * Runs `body` as one named member (stage) of the attack, recording what it attacked and broke.
   * A member that throws is not recorded: AutoAttack goes on without a gradient member the
   * engine cannot build (UnsupportedOpError), and lists only the members that ran.
   */
  async member(name: string, body: () => Promise<void>): Promise<void> {
    const before = this.robust().length;
    const t0 = performance.now();
    this.bestLoss.fill(-Infinity);
    await body();
    const m = this.memberMap.get(name) ?? { name, attacked: 0, broken: 0, seconds: 0 };
    m.attacked += before;
    m.broken += before - this.robust().length;
    m.seconds += (performance.now() - t0) / 1000;
    this.memberMap.set(name, m);
  }

  /** A generator for sample i in a named stage at the current ε (independent of batching). */
  rowRng(stage: string, i: number): Rng {
    return this.rng.fork(`${stage}/eps=${this.eps}/${this.offset + i}`);
  }

  /**
   * Batch size (padded) for `m` real rows: the full size, or the smallest 2^k or 3·2^k at least
   * `m` (padding wastes at most a third; few distinct sizes, so few gradient graphs to build).
   * When that size has no gradient graph yet but a larger one does, the larger one is used if its
   * padded rows cost less than building a graph: (padding × `runs`, the gradient runs a row gets)
   * at most GRAPH_BUILD_RUNS full batches. Padded rows change no real row's result (each row's
   * loss depends on its own input only), so the choice changes the time, not the answers.
   */
  bucket(m: number, runs = 1): number {
    if (this.model.fixedBatch !== null) return this.model.fixedBatch;
    const B = this.batchSize;
    if (m >= B) return B;
    let best = B;
    for (let p = 1; p < B; p *= 2) {
      if (p >= m && p < best) best = p;
      if (p > 1 && p * 1.5 >= m && p * 1.5 < best) best = p * 1.5;
    }
    const built = this.engines.builtSizes();
    if (built.has(best)) return best;
    const larger = [...built].filter((s) => s > m && s <= B).sort((a, b) => a - b)[0];
    return larger !== undefined && (larger - m) * runs <= GRAPH_BUILD_RUNS * larger ? larger : best;
  }

  /**
   * Packs the points of `set` into batches (padded to a bucket size unless `pad` is false), runs
   * `fn` on each and writes back: successes always, failures when their loss beats this member's
   * best so far for the point. Counts as one progress stage.
   */
  async forBatches(stage: string, set: Int32Array, fn: (b: PackedBatch) => Promise<BatchOutcome>, opts: { pad?: boolean; runs?: number } = {}): Promise<void> {
    const pad = opts.pad ?? true;
    const per = this.per;
    const B = this.batchSize;
    for (let s = 0; s < set.length; s += B) {
      const m = Math.min(B, set.length - s);
      const size = pad ? this.bucket(m, opts.runs ?? 1) : m;
      const idx = set.subarray(s, s + m);
      const x = new Float32Array(size * per);
      const labels = new Int32Array(size);
      const targets = this.criterionTargets ? new Int32Array(size) : null;
      const rngs: Rng[] = [];
      const padRng = size > m ? this.rng.fork(`${stage}/eps=${this.eps}/pad`) : null;
      for (let r = 0; r < size; r++) {
        const i = idx[Math.min(r, m - 1)]!;
        x.set(this.x.subarray(i * per, (i + 1) * per), r * per);
        labels[r] = this.labels[i]!;
        if (targets) targets[r] = this.criterionTargets![i]!;
        rngs.push(r < m ? this.rowRng(stage, i) : padRng!);
      }
      const lo = new Float32Array(size * per);
      const hi = new Float32Array(size * per);
      buildBox(x, size, per, this.itemLo, this.itemHi, this.norm, this.eps, lo, hi);
      this.batchSpan = [s / set.length, m / set.length];
      const out = await fn({ idx, n: m, size, per, eps: this.eps, norm: this.norm, x, lo, hi, rngs, labels, targets });
      for (let r = 0; r < m; r++) {
        const i = idx[r]!;
        this.iterations[i] += out.iterations[r]!;
        this.queries[i] += out.queries[r]!;
        if (out.success[r]) {
          this.success[i] = 1;
          this.adv.set(out.adv.subarray(r * per, (r + 1) * per), i * per);
          this.advPred[i] = out.verified?.[r] ?? -1;
        } else if (out.loss[r]! > this.bestLoss[i]!) {
          this.bestLoss[i] = out.loss[r]!;
          this.adv.set(out.adv.subarray(r * per, (r + 1) * per), i * per);
          this.advPred[i] = out.verified?.[r] ?? -1;
        }
      }
      this.reportProgress((s + m) / set.length);
    }
    this.stageIndex++;
    this.reportProgress(0);
  }

  /**
   * Records the gradient diagnostics of the real rows (`first`: the run's first gradient) and
   * zeroes non-finite entries in place, so one bad point cannot poison a step.
   */
  checkGradient(b: PackedBatch, g: Float32Array, first: boolean): void {
    const per = b.per;
    for (let r = 0; r < b.size; r++) {
      let abs = 0;
      for (let j = r * per, e = j + per; j < e; j++) abs += Math.abs(g[j]!);
      if (Number.isFinite(abs)) {
        if (first && abs === 0 && r < b.n) this.zeroGrad[b.idx[r]!] = 1;
        continue;
      }
      if (r < b.n) this.nonFinite[b.idx[r]!] = 1;
      for (let j = r * per, e = j + per; j < e; j++) if (!Number.isFinite(g[j]!)) g[j] = 0;
    }
  }

  /** Records points a score-based member broke after the gradient members failed on them. */
  noteBlackBoxWins(broke: number): void {
    if (broke > 0) this.blackBoxWins.push({ eps: this.eps, broke });
  }

  flag(code: string, text: string): void {
    if (!this.flagMap.has(code)) this.flagMap.set(code, text);
  }

  /**
   * Verifies every returned input with a plain forward pass and snapshots the results at this ε.
   * An input a plain forward pass already classified (`advPred`: the clean inputs, and the final
   * iterates the gradient loop checks) keeps that verdict; the others run now, in batches. With ε
   * in standardised units every input runs, as its data-domain bytes are only made here.
   */
  async finishEps(seconds: number): Promise<EpsResult> {
    const n = this.n;
    const per = this.per;
    const predicted = new Int32Array(n);
    const B = this.batchSize;
    const out = this.scale ? this.rawAdversarial() : this.adv.slice();
    const todo: number[] = [];
    for (let i = 0; i < n; i++) {
      if (this.scale || this.advPred[i]! < 0) todo.push(i);
      else predicted[i] = this.advPred[i]!;
    }
    for (let s = 0; s < todo.length; s += B) {
      const m = Math.min(B, todo.length - s);
      const xs = new Float32Array(m * per);
      for (let q = 0; q < m; q++) xs.set(out.subarray(todo[s + q]! * per, (todo[s + q]! + 1) * per), q * per);
      const r = await this.forwardRaw(xs, m);
      for (let q = 0; q < m; q++) predicted[todo[s + q]!] = argmaxRow(r.scores, q, r.numClasses);
    }
    const norms = { linf: new Float64Array(n), l2: new Float64Array(n) };
    for (let i = 0; i < n; i++) {
      const nm = perturbationNorms(this.adv, this.x, i * per, per);
      norms.linf[i] = nm.linf;
      norms.l2[i] = nm.l2;
      if (!this.attackable[i]) continue;
      const verified = this.isAdversarial(i, predicted[i]!);
      if (this.success[i] && !verified) this.mismatchLost++;
      if (!this.success[i] && verified) this.mismatchGained++;
      this.success[i] = verified ? 1 : 0;
    }
    const samples: SampleResults = {
      cleanCorrect: Uint8Array.from(this.cleanPred, (p, i) => (p === this.labels[i] ? 1 : 0)),
      success: this.success.slice(),
      predicted,
      linf: Float32Array.from(norms.linf),
      l2: Float32Array.from(norms.l2),
      iterations: this.iterations.slice(),
      queries: this.queries.slice(),
    };
    const aggregate = aggregateOf(this.eps, samples, norms, this.labels, this.attackable, seconds);
    return { eps: this.eps, adversarial: out, samples, norms, aggregate };
  }

  /**
   * The current adversarial inputs in the data domain: unchanged elements are the clean bytes,
   * the others z·σ kept inside the data-domain box (float32 rounding cannot leave it).
   */
  private rawAdversarial(): Float32Array {
    const s = this.scale!.s;
    const per = this.per;
    const z = this.adv;
    const out = new Float32Array(z.length);
    for (let k = 0; k < z.length; k++) {
      const x0 = this.rawX[k]!;
      if (z[k] === this.x[k]) {
        out[k] = x0;
        continue;
      }
      const j = k % per;
      const v = z[k]! * s[j]!;
      const lo = Math.min(this.rawLo[j]!, x0);
      const hi = Math.max(this.rawHi[j]!, x0);
      out[k] = v < lo ? lo : v > hi ? hi : v;
    }
    return out;
  }

  get members(): MemberSummary[] {
    return [...this.memberMap.values()];
  }

  /** The reliability flags (AutoAttack's checks, plus Gauntlet's verification), `code: explanation`. */
  flags(whiteBox: boolean): string[] {
    return flagsOf(this.diagnostics(), whiteBox);
  }

  /** The counts behind the flags (copies). */
  diagnostics(): AttackDiagnostics {
    return {
      attacked: this.attackable.reduce((a, b) => a + b, 0),
      randomisedDiff: this.randomisedDiff,
      zeroGrad: this.zeroGrad.reduce((a, b) => a + b, 0),
      nonFinite: this.nonFinite.reduce((a, b) => a + b, 0),
      lossesUsed: [...this.lossesUsed],
      probabilities: this.probabilities,
      mismatchLost: this.mismatchLost,
      mismatchGained: this.mismatchGained,
      blackBoxWins: this.blackBoxWins.map((w) => ({ ...w })),
      other: [...this.flagMap.entries()],
    };
  }

  private reportProgress(frac: number): void {
    const cb = this.init.onProgress;
    if (!cb) return;
    const total = this.n * this.init.epsCount;
    const stage = Math.min(this.stageIndex + frac, this.stages);
    const done = Math.min(total, Math.floor(this.n * (this.epsIndex + stage / this.stages)));
    if (done !== this.lastDone) {
      this.lastDone = done;
      cb(done, total);
    }
  }

  /** An attack's iteration `done` of `total` on the batch in progress (for progress within long batches). */
  iterationDone(done: number, total: number): void {
    const [start, width] = this.batchSpan;
    this.reportProgress(start + width * Math.min(1, done / Math.max(total, 1)));
  }

  /** Marks every remaining stage of this ε as done (for progress). */
  endEps(): void {
    this.stageIndex = this.stages;
    this.reportProgress(0);
  }
}

/**
 * The aggregates at one ε from the per-sample results (verified: `success` is the plain forward
 * pass's verdict on the attacked points); norms and queries over the attacked (`attackable`) points.
 */
export function aggregateOf(eps: number, samples: SampleResults, norms: EpsResult['norms'], labels: ArrayLike<number>, attackable: ArrayLike<number>, seconds: number): AttackAggregate {
  const n = labels.length;
  let correct = 0;
  let attacked = 0;
  let broken = 0;
  let queries = 0;
  let cleanCorrect = 0;
  const okLinf: number[] = [];
  const okL2: number[] = [];
  for (let i = 0; i < n; i++) {
    cleanCorrect += samples.cleanCorrect[i]!;
    if (samples.predicted[i] === labels[i]) correct++;
    if (!attackable[i]) continue;
    attacked++;
    queries += samples.queries[i]!;
    if (samples.success[i]) {
      broken++;
      okLinf.push(norms.linf[i]!);
      okL2.push(norms.l2[i]!);
    }
  }
  return {
    eps,
    samples: n,
    cleanAccuracy: n ? cleanCorrect / n : NaN,
    robustAccuracy: n ? correct / n : NaN,
    attackSuccessRate: attacked ? broken / attacked : NaN,
    meanLinf: mean(okLinf),
    medianLinf: median(okLinf),
    meanL2: mean(okL2),
    medianL2: median(okL2),
    meanQueries: attacked ? queries / attacked : NaN,
    seconds,
  };
}

function mean(a: number[]): number {
  return a.length ? a.reduce((s, v) => s + v, 0) / a.length : NaN;
}

function median(a: number[]): number {
  if (!a.length) return NaN;
  const s = [...a].sort((x, y) => x - y);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}
