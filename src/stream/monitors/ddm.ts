/**
 * DDM, the drift detection method (Gama, Medas, Castillo & Rodrigues 2004, "Learning with Drift
 * Detection", SBIA), on a 0/1 error stream: with p the error rate since the last reset and
 * s = sqrt(p(1 − p)/n), it remembers the (p_min, s_min) at which p + s was smallest and warns when
 * p + s > p_min + 2·s_min, alerts when p + s > p_min + 3·s_min; after an alert it resets.
 *
 * Defaults: warmStart 500 (River uses 30: with a low error rate a lucky start makes p_min + s_min
 * too small, and a stable 7.5 % error rate then gives 0.7 false alarms per 10,000 values; after 500
 * it is 0.25, and a rise from 0.1 to 0.3 is found after a median of about 85 values), warningThreshold 2,
 * driftThreshold 3. DDM is blind for `warmStart` values after each reset.
 *
 * Example: a Bernoulli error stream, p = 0.1 then 0.3 from item 1000
 *   const ddm = new DDM();
 *   const rng = new Rng(0);
 *   for (let i = 0; i < 2000; i++) if (ddm.update(rng.uniform() < (i < 1000 ? 0.1 : 0.3) ? 1 : 0).driftDetected) console.log(i);
 *   // first alert at 1049
 */
import { count, defaultsOf, kindOpt, probabilityOpen, resolveOptions } from '../options.js';
import { opt } from '../../options/schema.js';
import { type Monitor, type MonitorKind } from '../types.js';

export interface DDMOptions {
  kind?: MonitorKind;
  warmStart?: number;
  warningThreshold?: number;
  driftThreshold?: number;
}

export const DDM_OPTIONS = {
  kind: kindOpt('performance'),
  warm_start: count('errors seen before testing', 500, 1),
  warning_threshold: opt.number({ doc: 'standard deviations above the minimum for a warning', min: 0, minExclusive: true, default: 2 }),
  drift_threshold: opt.number({ doc: 'standard deviations above the minimum for an alert', min: 0, minExclusive: true, default: 3 }),
};
export const DDM_DEFAULTS = defaultsOf(DDM_OPTIONS) as Required<DDMOptions>;

export class DDM implements Monitor<number> {
  readonly options: Required<DDMOptions>;
  readonly kind: MonitorKind;
  private n = 0;
  private errors = 0;
  private pMin = Infinity;
  private sMin = Infinity;
  private detected = false;
  private warning = false;
  private stat = NaN;

  constructor(opts: DDMOptions = {}) {
    this.options = resolveOptions('DDM', DDM_OPTIONS, opts);
    this.kind = this.options.kind;
  }

  get driftDetected(): boolean {
    return this.detected;
  }

  /** True while p + s is above the warning level. */
  get warningDetected(): boolean {
    return this.warning;
  }

  /** (p + s − p_min) / s_min: the alert level in units of s_min. */
  get statistic(): number {
    return this.stat;
  }

  get threshold(): number {
    return this.options.driftThreshold;
  }

  update(x: number): this {
    if (this.detected) this.reset();
    this.n++;
    this.errors += x;
    const p = this.errors / this.n;
    const s = Math.sqrt((p * (1 - p)) / this.n);
    if (this.n <= this.options.warmStart) return this;
    if (p + s <= this.pMin + this.sMin) {
      this.pMin = p;
      this.sMin = s;
    }
    this.stat = this.sMin > 0 ? (p + s - this.pMin) / this.sMin : p + s > this.pMin ? Infinity : 0;
    this.warning = p + s > this.pMin + this.options.warningThreshold * this.sMin;
    if (p + s > this.pMin + this.options.driftThreshold * this.sMin) {
      this.detected = true;
      this.warning = false;
    }
    return this;
  }

  reset(): void {
    this.n = 0;
    this.errors = 0;
    this.pMin = Infinity;
    this.sMin = Infinity;
    this.detected = false;
    this.warning = false;
    this.stat = NaN;
  }
}
