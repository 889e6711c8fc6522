/**
 * TRADES (Zhang et al. 2019, "Theoretically Principled Trade-off between Robustness and
 * Accuracy", ICML), as the authors' `trades_loss`:
 *
 * 1. Inner maximisation, model in inference mode: x' starts at x + 0.001·N(0, 1) and takes `steps`
 *    sign-gradient steps of `step_size` on KL(p(x) ‖ p(x')), each projected onto the ε-ball ∩ the
 *    data bounds. The KL's gradient in x' is that of cross-entropy against the soft target p(x)
 *    (Σ p = 1), so the attack is the adversarial-training attack step with p(x) as its targets.
 * 2. Outer loss, model in training mode: CE(f(x), y) + β·(1/B)·Σ_i KL(p(x_i) ‖ p(x'_i)), with the
 *    gradient through both forwards. Each forward is a separate train-mode pass (BatchNorm on its
 *    own batch's statistics, as the authors' separate model() calls); their scores give the loss
 *    and its gradients dL/dz (float64, here), and one backward per forward (`givenSeed` head) gives
 *    the parameters' gradient, summed. BatchNorm running statistics are updated in the authors'
 *    order, natural → adversarial → natural (three updates per step).
 *
 * With Dropout, each forward draws its own mask (the natural forward's is shared by its CE and
 * KL terms, where the authors' code draws one per call).
 */
import ort from 'onnxruntime-node';
import { createSession } from '../engine/session.js';
import type { ModelP } from '../onnx/proto.js';
import { attrFloat } from '../onnx/graph.js';
import type { Rng } from '../rng.js';
import type { AdversarialTrainingSpec, EpochAttack, TrainingAttack } from './adversarial.js';
import { buildTrainingGraph, dropoutMask, feedRunningStats, runningStats, runTrainingGraph, type StepGraphInit, type TrainingGraph, type TrainingRun } from './graph.js';
import { givenSeed } from './loss.js';

export type TradesInit = StepGraphInit;

export interface TradesStepResult {
  /** d loss / d parameter, summed over both forwards. */
  grads: Map<string, Float32Array>;
  /** Batch loss: mean CE + β·mean KL. */
  loss: number;
  /** Natural inputs' train-mode scores (for the epoch's train accuracy). */
  scores: Float32Array;
  /** New BatchNorm running statistics by initializer name. */
  running: Map<string, Float32Array>;
}

type Session = { tg: TrainingGraph; session: ort.InferenceSession };

export class TradesStep {
  private forward = new Map<number, Promise<Session>>();
  private backward = new Map<number, Promise<Session>>();
  /** BatchNorm running-statistic initializer → the node's ONNX momentum (weight of the old value). */
  private readonly momentum = new Map<string, number>();

  constructor(private readonly prepared: ModelP, private readonly init: TradesInit, private readonly attack: TrainingAttack) {
    for (const n of prepared.graph.node) if (n.op_type === 'BatchNormalization') for (const s of [n.input[3]!, n.input[4]!]) this.momentum.set(s, attrFloat(n, 'momentum', 0.9));
  }

  private graph(cache: Map<number, Promise<Session>>, size: number, paramGrads: boolean): Promise<Session> {
    let g = cache.get(size);
    if (!g) {
      const i = this.init;
      g = (async () => {
        const tg = await buildTrainingGraph(this.prepared, { gradient: i.gradient, input: i.input, output: i.output, outputKind: i.outputKind, params: i.params, trainMode: true, freezeBn: i.freezeBn, paramGrads, inputGrad: false, batch: size, itemShape: i.itemShape, loss: givenSeed, label: i.label });
        feedRunningStats(tg);
        return { tg, session: await createSession(tg.model, i.label, { threads: i.threads, memPattern: false }) };
      })();
      cache.set(size, g);
    }
    return g;
  }

  /** One TRADES step on the batch `x` with one-hot (or soft) targets `t` ([size, K]). */
  async step(x: Float32Array, size: number, k: number, t: Float32Array, values: ReadonlyMap<string, Float32Array>, a: EpochAttack, spec: AdversarialTrainingSpec & { beta: number }, rng: Rng, dropRng: Rng, given: { xAdv?: Float32Array } = {}): Promise<TradesStepResult> {
    // 1. x' maximising KL(p(x) ‖ p(x')) with the model in inference mode (or given, for checks).
    let xAdv = given.xAdv;
    if (!xAdv) {
      const evalScores = await this.attack.scores(x, size, k, values);
      const pClean = softmaxRows(evalScores, size, k, this.init.outputKind);
      xAdv = await this.attack.perturb(x, size, Float32Array.from(pClean), values, a, spec, rng, { normalStart: 0.001 });
    }

    // 2. Train-mode forwards of x and x' (separate batches, separate BatchNorm statistics).
    const fwd = await this.graph(this.forward, size, false);
    const masks = (tg: TrainingGraph) => tg.feeds.dropout.map((d) => dropoutMask(dropRng, d.shape, d.p));
    const maskNat = masks(fwd.tg);
    const maskAdv = masks(fwd.tg);
    const zero = new Float32Array(size * k);
    const nat = await runTrainingGraph(fwd.session, fwd.tg, { x, targets: zero, params: values, dropoutMasks: maskNat });
    // The adversarial forward sees the running statistics the natural one left (the authors' call order).
    const afterNat = new Map([...values, ...runningStats(fwd.tg, nat)]);
    const adv = await runTrainingGraph(fwd.session, fwd.tg, { x: xAdv, targets: zero, params: afterNat, dropoutMasks: maskAdv });

    // 3. Loss and its gradients in the scores (float64), then one backward per forward.
    const { loss, seedNat, seedAdv } = tradesSeeds(nat.scores, adv.scores, t, size, k, spec.beta, this.init.outputKind);
    const bwd = await this.graph(this.backward, size, true);
    const gNat = await runTrainingGraph(bwd.session, bwd.tg, { x, targets: seedNat, params: values, dropoutMasks: maskNat });
    const gAdv = await runTrainingGraph(bwd.session, bwd.tg, { x: xAdv, targets: seedAdv, params: afterNat, dropoutMasks: maskAdv });
    const grads = new Map<string, Float32Array>();
    for (const [p, g] of gNat.grads) {
      const h = gAdv.grads.get(p)!;
      grads.set(p, Float32Array.from(g, (v, j) => v + h[j]!));
    }
    return { grads, loss, scores: nat.scores, running: this.running(fwd.tg, values, nat, adv) };
  }

  /**
   * Running statistics after natural → adversarial → natural updates: with o_n = m·r + N and
   * o_a = m·o_n + A (the two forwards' outputs), the third update is m·o_a + N = m·o_a + o_n − m·r.
   */
  private running(tg: TrainingGraph, values: ReadonlyMap<string, Float32Array>, nat: TrainingRun, adv: TrainingRun): Map<string, Float32Array> {
    const out = new Map<string, Float32Array>();
    tg.outputs.bnRunning.forEach((r, i) => {
      for (const [name, on, oa] of [[r.meanInit, nat.bnRunning[i]!.mean, adv.bnRunning[i]!.mean], [r.varInit, nat.bnRunning[i]!.var, adv.bnRunning[i]!.var]] as const) {
        const m = this.momentum.get(name) ?? 0.9;
        const old = values.get(name)!;
        out.set(name, Float32Array.from(old, (v, j) => m * oa[j]! + on[j]! - m * v));
      }
    });
    return out;
  }

  async close(): Promise<void> {
    for (const c of [this.forward, this.backward]) for (const g of c.values()) await (await g).session.release();
  }
}

/** Row-wise softmax (float64) of logits, or the rows as given for probability outputs. */
function softmaxRows(s: Float32Array, n: number, k: number, kind: 'logits' | 'probabilities'): Float64Array {
  const out = new Float64Array(n * k);
  for (let i = 0; i < n; i++) {
    if (kind === 'probabilities') {
      for (let c = 0; c < k; c++) out[i * k + c] = s[i * k + c]!;
      continue;
    }
    let mx = -Infinity;
    for (let c = 0; c < k; c++) mx = Math.max(mx, s[i * k + c]!);
    let z = 0;
    for (let c = 0; c < k; c++) z += out[i * k + c] = Math.exp(s[i * k + c]! - mx);
    for (let c = 0; c < k; c++) out[i * k + c]! /= z;
  }
  return out;
}

/**
 * L = (1/B)·Σ_i [CE(z_i, t_i) + β·KL(p_i ‖ p'_i)] and its gradients in the natural and adversarial
 * scores: dL/dz'_i = β/B·(p'_i − p_i); dL/dz_i = 1/B·(p_i·Σt_i − t_i) + β/B·p_i ⊙ (g_i − KL_i) with
 * g = log p − log p' (the softmax VJP of the KL's gradient in p, log p − log p' + 1).
 * Scores of probability outputs are treated as log-probabilities (their softmax is the output).
 */
export function tradesSeeds(zNat: Float32Array, zAdv: Float32Array, t: Float32Array, n: number, k: number, beta: number, kind: 'logits' | 'probabilities' = 'logits'): { loss: number; seedNat: Float32Array; seedAdv: Float32Array } {
  const log = (s: Float32Array) => (kind === 'probabilities' ? Float32Array.from(s, (v) => Math.log(Math.max(v, 1e-12))) : s);
  const p = softmaxRows(log(zNat), n, k, 'logits');
  const q = softmaxRows(log(zAdv), n, k, 'logits');
  const seedNat = new Float32Array(n * k);
  const seedAdv = new Float32Array(n * k);
  let loss = 0;
  for (let i = 0; i < n; i++) {
    let ce = 0;
    let kl = 0;
    let tSum = 0;
    for (let c = 0; c < k; c++) {
      const j = i * k + c;
      tSum += t[j]!;
      if (t[j]! > 0) ce -= t[j]! * Math.log(p[j]!);
      if (p[j]! > 0) kl += p[j]! * (Math.log(p[j]!) - Math.log(q[j]!));
    }
    loss += (ce + beta * kl) / n;
    for (let c = 0; c < k; c++) {
      const j = i * k + c;
      const g = p[j]! > 0 ? Math.log(p[j]!) - Math.log(q[j]!) : 0;
      seedNat[j] = (p[j]! * tSum - t[j]! + beta * p[j]! * (g - kl)) / n;
      seedAdv[j] = (beta * (q[j]! - p[j]!)) / n;
    }
  }
  return { loss, seedNat, seedAdv };
}
