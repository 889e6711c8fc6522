/**
 * Learning-rate schedules, evaluated per optimizer step with PyTorch's formulas (the schedulers
 * stepped once per batch, except `step`, which torch users step per epoch):
 *
 * - `constant`: the optimizer's lr.
 * - `step {every, gamma}`: torch.optim.lr_scheduler.StepLR(step_size=every, gamma) stepped per
 *   epoch: lr·gamma^⌊epoch / every⌋.
 * - `cosine`: CosineAnnealingLR(T_max = total steps, eta_min = 0) stepped per batch:
 *   lr·(1 + cos(π·t / T))/2.
 * - `onecycle {max_lr}`: OneCycleLR with its defaults (pct_start 0.3, anneal cos, div_factor 25,
 *   final_div_factor 1e4, three_phase false, cycle_momentum true with base 0.85 / max 0.95 —
 *   SGD's momentum or AdamW's beta1 cycles too, as in torch), stepped per batch.
 * - `warmup_epochs: W` (with constant, step or cosine): a linear warm-up multiplied in, torch's
 *   ChainedScheduler([LinearLR(start_factor = 1/S, end_factor 1, total_iters = S), main]) with
 *   S = W × steps per epoch; the main schedule still spans the whole run.
 */
import { UsageError } from '../errors.js';

export interface ScheduleSpec {
  name: 'constant' | 'step' | 'cosine' | 'onecycle';
  /** step: epochs between decays. */
  every?: number;
  /** step: decay factor (default 0.1, torch's). */
  gamma?: number;
  /** onecycle: the peak lr (default: the optimizer's lr). */
  maxLr?: number;
}

/** Where a step sits in the run. */
export interface StepPlace {
  /** 0-based optimizer step over the whole run. */
  step: number;
  /** 0-based epoch of the step. */
  epoch: number;
}

/** lr (and, for onecycle, the cycled momentum) for each step of a run. */
export interface Schedule {
  lr(place: StepPlace): number;
  momentum(place: StepPlace): number | undefined;
}

export function makeSchedule(spec: ScheduleSpec, baseLr: number, run: { epochs: number; stepsPerEpoch: number; warmupEpochs?: number }): Schedule {
  const total = run.epochs * run.stepsPerEpoch;
  const warm = (run.warmupEpochs ?? 0) * run.stepsPerEpoch;
  if (warm > 0 && spec.name === 'onecycle') throw new UsageError(`'warmup_epochs' does not combine with schedule onecycle (it has its own warm-up phase)`);
  const warmup = (t: number): number => (warm > 0 ? 1 / warm + (1 - 1 / warm) * Math.min(t, warm) / warm : 1);
  switch (spec.name) {
    case 'constant':
      return { lr: ({ step }) => baseLr * warmup(step), momentum: () => undefined };
    case 'step': {
      const every = spec.every ?? 1;
      const gamma = spec.gamma ?? 0.1;
      return { lr: ({ step, epoch }) => baseLr * gamma ** Math.floor(epoch / every) * warmup(step), momentum: () => undefined };
    }
    case 'cosine':
      return { lr: ({ step }) => baseLr * ((1 + Math.cos((Math.PI * step) / total)) / 2) * warmup(step), momentum: () => undefined };
    case 'onecycle': {
      const maxLr = spec.maxLr ?? baseLr;
      const initial = maxLr / 25;
      const min = initial / 1e4;
      const end1 = 0.3 * total - 1;
      const end2 = total - 1;
      const cos = (start: number, end: number, pct: number): number => end + ((start - end) / 2) * (Math.cos(Math.PI * pct) + 1);
      const phase = (t: number, a: [number, number], b: [number, number]): number =>
        t <= end1 ? cos(a[0], a[1], t / end1) : cos(b[0], b[1], (t - end1) / (end2 - end1));
      return {
        lr: ({ step }) => phase(step, [initial, maxLr], [maxLr, min]),
        momentum: ({ step }) => phase(step, [0.95, 0.85], [0.85, 0.95]),
      };
    }
  }
}
