/**
 * Co-teaching (Han et al. 2018, "Co-teaching: Robust Training of Deep Neural Networks with
 * Extremely Noisy Labels", NeurIPS), as the authors' code: two networks, differently initialised,
 * see the same batch; each keeps the (1 − R(e)) share of items with the smallest loss under its
 * own predictions, and its *peer* learns from those items (mean cross-entropy over them, through
 * the whole batch's train-mode forward). The forget rate R(e) rises linearly from 0 to
 * `forget_rate`^`exponent` over the first `warmup_epochs` epochs (the authors' `num_gradual`,
 * default 10) and stays at `forget_rate` after. The forget rate is the label-noise rate — given,
 * or `audit`: estimated by the confident-learning audit on cross-fitted probabilities (as
 * `clean_labels`). The trained model is network A (the recipe's seed); network B starts from
 * seed + 1, so co-teaching needs `init: reinit`.
 *
 * ```yaml
 * coteaching: { forget_rate: 0.4, warmup_epochs: 10 }      # or forget_rate: audit
 * ```
 */
import ort from 'onnxruntime-node';
import { createSession } from '../engine/session.js';
import type { ModelP } from '../onnx/proto.js';
import { fail, opt, parseOptions, type ParseContext } from '../options/schema.js';
import type { Rng } from '../rng.js';
import { buildTrainingGraph, dropoutMask, feedRunningStats, runningStats, runTrainingGraph, type StepGraphInit, type TrainingGraph } from './graph.js';
import { clipGradNorm, type Optimizer } from './optim.js';

export const COTEACHING_OPTIONS = {
  forget_rate: opt.custom<number | 'audit', { default: 'audit'; doc: string; metavar: string }>(
    "a number in [0, 1) or 'audit'",
    (v, p) => (v === 'audit' || (typeof v === 'number' && v >= 0 && v < 1) ? (v as number | 'audit') : fail(p, { code: 'range', value: v, expected: "a number in [0, 1) or 'audit'" })),
    { default: 'audit', doc: "share of small-loss items each network drops (the noise rate); 'audit' estimates it by cross-fitted confident learning", metavar: 'R|audit' },
  ),
  warmup_epochs: opt.integer({ min: 1, default: 10, doc: 'epochs over which the forget rate ramps up (num_gradual)' }),
  exponent: opt.number({ min: 0, minExclusive: true, default: 1, doc: 'the ramp ends at forget_rate^exponent' }),
  folds: opt.integer({ min: 2, max: 20, default: 4, doc: "cross-fitting folds for forget_rate: audit" }),
};

export interface CoteachingSpec {
  forgetRate: number | 'audit';
  warmupEpochs: number;
  exponent: number;
  folds: number;
}

export const COTEACHING_OPTION = opt.custom<CoteachingSpec | null, { default: null; doc: string; metavar: string; flag: false }>(
  "null or { forget_rate: R | audit, warmup_epochs, exponent, folds }",
  (v: unknown, p: string, ctx: ParseContext) => (v === null ? null : (parseOptions(COTEACHING_OPTIONS, v, { ...ctx, where: p }) as CoteachingSpec)),
  { default: null, doc: 'co-teaching: two networks teach each other on their small-loss items (needs init: reinit)', metavar: 'SPEC', flag: false },
);

/** The forget rate at `epoch` (0-based): the authors' linspace(0, τ^c, T_k) ramp, then τ. */
export function forgetRateAt(tau: number, spec: Pick<CoteachingSpec, 'warmupEpochs' | 'exponent'>, epoch: number): number {
  if (epoch >= spec.warmupEpochs) return tau;
  return spec.warmupEpochs === 1 ? Math.pow(tau, spec.exponent) : (Math.pow(tau, spec.exponent) * epoch) / (spec.warmupEpochs - 1);
}

/** Indices of the `count` smallest losses (ties by index, so the same losses give the same set). */
export function smallLoss(loss: Float32Array, size: number, count: number): Uint8Array {
  const order = Array.from({ length: size }, (_, i) => i).sort((a, b) => loss[a]! - loss[b]! || a - b);
  const keep = new Uint8Array(size);
  for (let i = 0; i < count; i++) keep[order[i]!] = 1;
  return keep;
}

export type PeerInit = StepGraphInit;

type Session = { tg: TrainingGraph; session: ort.InferenceSession };

/** Network B and the per-item-loss forwards both networks need before either updates. */
export class CoTeaching {
  private forward = new Map<number, Promise<Session>>();

  constructor(private readonly prepared: ModelP, private readonly init: PeerInit, readonly peer: Map<string, Float32Array>, readonly peerOptimizer: Optimizer, private readonly clip: number | null) {}

  private fwd(size: number): Promise<Session> {
    let g = this.forward.get(size);
    if (!g) {
      const i = this.init;
      g = (async () => {
        const tg = await buildTrainingGraph(this.prepared, { gradient: i.gradient, input: i.input, output: i.output, outputKind: i.outputKind, params: i.params, trainMode: true, freezeBn: i.freezeBn, paramGrads: false, inputGrad: false, batch: size, itemShape: i.itemShape, label: i.label });
        feedRunningStats(tg);
        return { tg, session: await createSession(tg.model, i.label, { threads: i.threads, memPattern: false }) };
      })();
      this.forward.set(size, g);
    }
    return g;
  }

  /**
   * One co-teaching step: both forwards, the small-loss selections, B's update (here) and A's
   * training run (returned, for the trainer's own update of A). `train` is the trainer's
   * training graph of this batch size.
   */
  async step(x: Float32Array, size: number, targets: Float32Array, values: ReadonlyMap<string, Float32Array>, forgetRate: number, train: Session, dropRng: Rng, lr: number, momentum: number | undefined) {
    const f = await this.fwd(size);
    const masksA = f.tg.feeds.dropout.map((d) => dropoutMask(dropRng, d.shape, d.p));
    const masksB = f.tg.feeds.dropout.map((d) => dropoutMask(dropRng, d.shape, d.p));
    const fA = await runTrainingGraph(f.session, f.tg, { x, targets, params: values, dropoutMasks: masksA });
    const fB = await runTrainingGraph(f.session, f.tg, { x, targets, params: this.peer, dropoutMasks: masksB });
    const remember = Math.floor((1 - forgetRate) * size);
    const byA = smallLoss(fA.perItemLoss, size, remember);
    const byB = smallLoss(fB.perItemLoss, size, remember);
    const w = (sel: Uint8Array) => Float32Array.from(sel);
    // Each network learns from the items its peer finds clean.
    const runA = await runTrainingGraph(train.session, train.tg, { x, targets, weights: w(byB), params: values, dropoutMasks: masksA });
    const runB = await runTrainingGraph(train.session, train.tg, { x, targets, weights: w(byA), params: this.peer, dropoutMasks: masksB });
    if (this.clip !== null) clipGradNorm(runB.grads, this.clip);
    this.peerOptimizer.step(this.peer, runB.grads, lr, momentum);
    for (const [name, v] of runningStats(f.tg, fB)) this.peer.set(name, v);
    return { loss: runA.loss, scores: fA.scores, grads: runA.grads, state: null, running: runningStats(f.tg, fA) };
  }

  async close(): Promise<void> {
    for (const g of this.forward.values()) await (await g).session.release();
  }
}
