/**
 * Adversarial training: each step trains on adversarial examples of the batch, found by the
 * attack library's own per-norm hooks (`hooksFor`: random start, sign or L2 step, projection onto
 * the ε-ball ∩ the data bounds) on a gradient graph of the model *being trained* — its current
 * weights and BatchNorm statistics are fed each step.
 *
 * - `pgd` — PGD-AT (Madry et al. 2018): `steps` iterations of size `step_size` (default 2.5·ε/steps)
 *   from a uniform random start in the ball (`random_start`, default true); the model trains on
 *   the final iterate only.
 * - `trades` — TRADES (Zhang et al. 2019): CE on the clean batch + β·KL(p(x) ‖ p(x′)) with x′ from its
 *   own KL maximisation (`trades.ts`); `beta` default 6, the authors'.
 * - `fgsm_rs` — "fast" adversarial training (Wong, Rice & Kolter 2020): a uniform random start and
 *   one step of size `step_size` (default 1.25·ε). Prone to catastrophic overfitting: with `--val`,
 *   PGD accuracy on the validation data is measured after every epoch, and a drop of more than
 *   `co_drop` below its best stops training and keeps the best epoch (`catastrophic_overfitting`
 *   in the history).
 *
 * The attack runs the model in **inference mode** (BatchNorm on its running statistics, Dropout
 * off), as ART's and most published trainers do, so crafting examples does not move the running
 * statistics; the training step that follows is in training mode. The attacker maximises the
 * training loss's cross-entropy against the training targets (the observed labels).
 *
 * **Curriculum**: `curriculum: { eps: [a, b], steps: [a, b], severity: [a, b], epochs: E }` ramps ε,
 * the step count and the augmentation's upper severity linearly from a (first epoch) to b (epoch
 * E and after); without a key that quantity stays fixed. The step size scales with ε (declared
 * `step_size`·ε_e/ε, or 2.5·ε_e/steps_e by default).
 */
import ort from 'onnxruntime-node';
import { createSession } from '../engine/session.js';
import { ConfigError } from '../errors.js';
import type { ModelP } from '../onnx/proto.js';
import { fail, keyPath, opt, parseOptions, type OptionMap, type OptionsOf, type ParseContext } from '../options/schema.js';
import type { Rng } from '../rng.js';
import { buildBox, hooksFor, type BallBatch } from '../stress/adversarial/norms.js';
import { buildTrainingGraph, runTrainingGraph, type TrainingGraph } from './graph.js';
import type { GradientOptions } from '../autodiff/options.js';

const ramp = (what: string, integer: boolean) =>
  opt.list((integer ? opt.integer : opt.number)({ min: 0, doc: what }), { minLength: 2, maxLength: 2, doc: `${what}: [first epoch, epoch E]` });

export const CURRICULUM_OPTIONS = {
  eps: ramp('ε', false),
  steps: ramp('attack steps', true),
  severity: ramp('upper augmentation severity', true),
  epochs: opt.integer({ min: 1, default: 1, doc: 'epochs over which the ramps run (E)' }),
} satisfies OptionMap;

const common = {
  norm: opt.choice(['linf', 'l2'] as const, { default: 'linf', doc: 'threat model' }),
  eps: opt.number({ min: 0, minExclusive: true, required: true, doc: 'radius in data-domain units' }),
  curriculum: opt.object(CURRICULUM_OPTIONS, { doc: 'ramp ε, steps and augmentation severity over the first epochs' }),
};

export const ADVERSARIAL_METHODS = {
  pgd: {
    method: opt.choice(['pgd'] as const, { required: true, doc: 'PGD adversarial training (Madry et al. 2018)' }),
    ...common,
    steps: opt.integer({ min: 1, max: 1000, default: 7, doc: 'PGD iterations per training step' }),
    step_size: opt.number({ min: 0, minExclusive: true, defaultText: '2.5·eps/steps', doc: 'step size' }),
    random_start: opt.boolean({ default: true, doc: 'uniform random start in the ball' }),
    co_drop: opt.number({ min: 0, max: 1, default: 0.2, doc: 'PGD validation accuracy drop below its best that stops training (catastrophic overfitting)' }),
  },
  trades: {
    method: opt.choice(['trades'] as const, { required: true, doc: 'TRADES: CE + β·KL(p(x) ‖ p(x′)) with its own KL inner maximisation (Zhang et al. 2019)' }),
    ...common,
    beta: opt.number({ min: 0, default: 6, doc: 'weight of the KL (robustness) term; the authors use 6' }),
    steps: opt.integer({ min: 1, max: 1000, default: 10, doc: 'inner KL-maximisation steps per training step' }),
    step_size: opt.number({ min: 0, minExclusive: true, defaultText: '2.5·eps/steps', doc: 'step size' }),
    co_drop: opt.number({ min: 0, max: 1, default: 0.2, doc: 'PGD validation accuracy drop below its best that stops training (catastrophic overfitting)' }),
  },
  fgsm_rs: {
    method: opt.choice(['fgsm_rs'] as const, { required: true, doc: 'FGSM with random start (Wong et al. 2020)' }),
    ...common,
    step_size: opt.number({ min: 0, minExclusive: true, defaultText: '1.25·eps', doc: 'step size' }),
    co_drop: opt.number({ min: 0, max: 1, default: 0.2, doc: 'PGD validation accuracy drop below its best that stops training (catastrophic overfitting)' }),
  },
} satisfies Record<string, OptionMap>;

export interface AdversarialTrainingSpec {
  method: 'pgd' | 'fgsm_rs' | 'trades';
  /** TRADES: weight of the KL term (null for the other methods). */
  beta: number | null;
  norm: 'linf' | 'l2';
  eps: number;
  steps: number;
  stepSize: number | null;
  randomStart: boolean;
  coDrop: number;
  curriculum: OptionsOf<typeof CURRICULUM_OPTIONS> | null;
}

function parseAdversarial(v: unknown, p: string, ctx: ParseContext): AdversarialTrainingSpec | null {
  if (v === null) return null;
  if (typeof v !== 'object' || Array.isArray(v)) fail(p, { code: 'type', value: v, expected: 'a mapping with method: pgd | trades | fgsm_rs' });
  const m = (v as Record<string, unknown>).method;
  const map = typeof m === 'string' ? ADVERSARIAL_METHODS[m as keyof typeof ADVERSARIAL_METHODS] : undefined;
  if (!map) fail(keyPath(p, 'method'), { code: 'choice', value: m, expected: 'one of pgd, trades, fgsm_rs' });
  const o = parseOptions(map as OptionMap, v, { ...ctx, where: p }) as Record<string, unknown>;
  const spec: AdversarialTrainingSpec = {
    method: o.method as AdversarialTrainingSpec['method'],
    beta: (o.beta as number | undefined) ?? null,
    norm: o.norm as 'linf' | 'l2',
    eps: o.eps as number,
    steps: (o.steps as number | undefined) ?? 1,
    stepSize: (o.stepSize as number | undefined) ?? null,
    randomStart: (o.randomStart as boolean | undefined) ?? true,
    coDrop: o.coDrop as number,
    curriculum: (o.curriculum as AdversarialTrainingSpec['curriculum'] | undefined) ?? null,
  };
  if (spec.method === 'fgsm_rs' && spec.curriculum?.steps) throw new ConfigError(`'${p}.curriculum.steps': fgsm_rs takes one step; use method: pgd to ramp steps`);
  return spec;
}

export const ADVERSARIAL_TRAINING_OPTION = opt.custom<AdversarialTrainingSpec | null, { default: null; doc: string; metavar: string; flag: false }>(
  'null or a mapping with method: pgd | trades | fgsm_rs',
  parseAdversarial,
  { default: null, doc: 'adversarial training: pgd { eps, steps, step_size, random_start } | trades { eps, beta, steps, step_size } | fgsm_rs { eps, step_size }; curriculum', metavar: 'SPEC', flag: false },
);

export const EARLY_STOP_OPTIONS = {
  on: opt.choice(['val_accuracy', 'pgd_val_accuracy'] as const, { default: 'val_accuracy', doc: 'validation metric to watch (pgd_val_accuracy needs adversarial:)' }),
  patience: opt.integer({ min: 1, default: 2, doc: 'epochs without improvement before stopping' }),
  pgd_steps: opt.integer({ min: 1, max: 1000, default: 10, doc: 'PGD steps of the validation attack (ε of adversarial:)' }),
} satisfies OptionMap;
export type EarlyStopSpec = OptionsOf<typeof EARLY_STOP_OPTIONS>;

export const EARLY_STOP_OPTION = opt.custom<EarlyStopSpec | null, { default: null; doc: string; metavar: string; flag: false }>(
  'null or { on: val_accuracy | pgd_val_accuracy, patience, pgd_steps }',
  (v, p, ctx) => (v === null ? null : parseOptions(EARLY_STOP_OPTIONS, v, { ...ctx, where: p })),
  { default: null, doc: 'stop when the validation metric has not improved for `patience` epochs, keeping the best epoch (needs --val)', metavar: 'SPEC', flag: false },
);

/** The attack of one epoch: ε, steps and step size after the curriculum, and the augmentation severity cap. */
export interface EpochAttack {
  eps: number;
  steps: number;
  stepSize: number;
  severityCap: number;
}

function rampAt(r: readonly number[] | undefined, epoch: number, epochs: number, integer: boolean): number | null {
  if (!r) return null;
  const f = epochs <= 1 ? 1 : Math.min(1, epoch / (epochs - 1));
  const v = r[0]! + (r[1]! - r[0]!) * f;
  return integer ? Math.round(v) : v;
}

/** ε, steps, step size and severity cap at `epoch` (0-based), see the file comment. */
export function epochAttack(spec: AdversarialTrainingSpec | null, epoch: number): EpochAttack | null {
  if (!spec) return null;
  const c = spec.curriculum;
  const eps = rampAt(c?.eps, epoch, c?.epochs ?? 1, false) ?? spec.eps;
  const steps = spec.method === 'fgsm_rs' ? 1 : Math.max(1, rampAt(c?.steps, epoch, c?.epochs ?? 1, true) ?? spec.steps);
  const stepSize = spec.stepSize !== null ? (spec.stepSize * eps) / spec.eps : spec.method === 'fgsm_rs' ? 1.25 * eps : (2.5 * eps) / steps;
  return { eps, steps, stepSize, severityCap: rampAt(c?.severity, epoch, c?.epochs ?? 1, true) ?? 5 };
}

export interface TrainingAttackInit {
  input: string;
  output: string;
  outputKind: 'logits' | 'probabilities';
  /** Trainable parameters and the BatchNorm statistics: all fed each run. */
  params: string[];
  fed: string[];
  itemShape: number[];
  bounds: readonly [number, number];
  threads: number;
  label: string;
  /** The gradient rules' options (the recipe's `maxpool_ties`; default first maximum). */
  gradient?: Partial<GradientOptions>;
}

/**
 * The attack of an adversarial-training step: an inference-mode gradient graph (d loss / d x) of
 * the model whose weights are fed each run, one per batch size, and the attack library's hooks.
 */
export class TrainingAttack {
  private graphs = new Map<number, Promise<{ tg: TrainingGraph; session: ort.InferenceSession }>>();
  constructor(private readonly prepared: ModelP, private readonly init: TrainingAttackInit) {}

  private graphFor(size: number) {
    let g = this.graphs.get(size);
    if (!g) {
      const i = this.init;
      g = (async () => {
        const tg = await buildTrainingGraph(this.prepared, { gradient: i.gradient, input: i.input, output: i.output, outputKind: i.outputKind, params: i.params, fedConstants: i.fed, trainMode: false, paramGrads: false, inputGrad: true, batch: size, itemShape: i.itemShape, label: i.label });
        return { tg, session: await createSession(tg.model, i.label, { threads: i.threads, memPattern: false }) };
      })();
      this.graphs.set(size, g);
    }
    return g;
  }

  /**
   * Adversarial examples of `x` ([size, ...item]) against `targets` for the weights in `values`:
   * a new array (`x` is not changed). `rng` draws the random start, one sub-stream per row.
   */
  async perturb(x: Float32Array, size: number, targets: Float32Array, values: ReadonlyMap<string, Float32Array>, a: EpochAttack, spec: AdversarialTrainingSpec, rng: Rng, o: { normalStart?: number } = {}): Promise<Float32Array> {
    if (a.eps === 0 || a.steps === 0) return x.slice();
    const per = x.length / size;
    const { tg, session } = await this.graphFor(size);
    const lo = new Float32Array(x.length);
    const hi = new Float32Array(x.length);
    const itemLo = new Float32Array(per).fill(this.init.bounds[0]);
    const itemHi = new Float32Array(per).fill(this.init.bounds[1]);
    buildBox(x, size, per, itemLo, itemHi, spec.norm, a.eps, lo, hi);
    const ball: BallBatch = { size, per, eps: a.eps, x, lo, hi, rngs: Array.from({ length: size }, (_, r) => rng.fork(`row:${r}`)) };
    const hooks = hooksFor(spec.norm);
    const xa = x.slice();
    if (o.normalStart !== undefined) {
      // TRADES: x + σ·N(0, 1), not projected before the first step.
      for (let r = 0; r < size; r++) for (let j = r * per; j < (r + 1) * per; j++) xa[j] = x[j]! + o.normalStart * ball.rngs[r]!.normal();
    } else if (spec.method === 'fgsm_rs' || spec.randomStart) hooks.randomStart(ball, xa);
    for (let s = 0; s < a.steps; s++) {
      const r = await runTrainingGraph(session, tg, { x: xa, targets, params: values });
      const g = r.inputGrad!;
      for (let j = 0; j < g.length; j++) if (g[j] !== g[j]) g[j] = 0;
      hooks.step(ball, xa, g, a.stepSize);
    }
    return xa;
  }

  /** The model's scores on `x` in inference mode for the weights in `values` (one run of the attack graph). */
  async scores(x: Float32Array, size: number, k: number, values: ReadonlyMap<string, Float32Array>): Promise<Float32Array> {
    const { tg, session } = await this.graphFor(size);
    return (await runTrainingGraph(session, tg, { x, targets: new Float32Array(size * k), params: values })).scores;
  }

  async close(): Promise<void> {
    for (const g of this.graphs.values()) await (await g).session.release();
    this.graphs.clear();
  }
}
