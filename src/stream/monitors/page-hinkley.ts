/**
 * Page–Hinkley test (Page 1954) for an increase of the mean, as River computes it: with x̄ the
 * running mean since the last reset,
 *
 *   S ← max(0, α · S + (x − x̄ − δ)),  alert when S ≥ λ (after `minInstances` values),
 *
 * then the test resets (S, x̄ and the count start afresh). δ is the magnitude of change tolerated
 * and λ the evidence needed; α < 1 slowly forgets old evidence.
 *
 * Feed it a performance signal, e.g. 1 for a wrong prediction and 0 for a right one.
 *
 * Defaults: delta 0.03, threshold λ 12, minInstances 30, alpha 0.9999 — sized for a 0/1 error
 * stream: a rise of the error rate from 0.1 to 0.3 gives an alert after a median of about 65 values
 * (90 % within about 100), while a stable 7.5 % error rate gives about 0.04 false alarms per 10,000 values
 * (measured over 200 seeded streams). River's λ = 50 and δ = 0.005 need about 260 values for that change.
 *
 * Example: a Bernoulli error stream, p = 0.1 then 0.3 from item 1000
 *   const ph = new PageHinkley();
 *   const rng = new Rng(0);
 *   for (let i = 0; i < 2000; i++) if (ph.update(rng.uniform() < (i < 1000 ? 0.1 : 0.3) ? 1 : 0).driftDetected) console.log(i);
 *   // first alert at 1047
 */
import { count, defaultsOf, kindOpt, probabilityOpen, resolveOptions } from '../options.js';
import { opt } from '../../options/schema.js';
import { type Monitor, type MonitorKind } from '../types.js';

export interface PageHinkleyOptions {
  kind?: MonitorKind;
  /** Change magnitude tolerated (δ). */
  delta?: number;
  /** Evidence needed for an alert (λ). */
  threshold?: number;
  minInstances?: number;
  /** Forgetting factor α on the cumulative sum. */
  alpha?: number;
}

export const PH_OPTIONS = {
  kind: kindOpt('performance'),
  delta: opt.number({ doc: 'change magnitude tolerated (delta)', min: 0, default: 0.03 }),
  threshold: opt.number({ doc: 'evidence needed for an alert (lambda)', min: 0, minExclusive: true, default: 12 }),
  min_instances: count('values seen before an alert', 30, 1),
  alpha: opt.number({ doc: 'forgetting factor on the cumulative sum', min: 0, max: 1, minExclusive: true, default: 0.9999 }),
};
export const PH_DEFAULTS = defaultsOf(PH_OPTIONS) as Required<PageHinkleyOptions>;

export class PageHinkley implements Monitor<number> {
  readonly options: Required<PageHinkleyOptions>;
  readonly kind: MonitorKind;
  private n = 0;
  private mean = 0;
  private sum = 0;
  private detected = false;

  constructor(opts: PageHinkleyOptions = {}) {
    this.options = resolveOptions('PageHinkley', PH_OPTIONS, opts);
    this.kind = this.options.kind;
  }

  get driftDetected(): boolean {
    return this.detected;
  }

  /** The cumulative sum S. */
  get statistic(): number {
    return this.sum;
  }

  get threshold(): number {
    return this.options.threshold;
  }

  update(x: number): this {
    if (this.detected) this.reset();
    this.n++;
    this.mean += (x - this.mean) / this.n;
    this.sum = Math.max(0, this.options.alpha * this.sum + (x - this.mean - this.options.delta));
    if (this.n >= this.options.minInstances && this.sum >= this.options.threshold) this.detected = true;
    return this;
  }

  reset(): void {
    this.n = 0;
    this.mean = 0;
    this.sum = 0;
    this.detected = false;
  }
}
