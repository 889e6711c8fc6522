/**
 * A challenger next to the champion (the upstream) in `gauntlet monitor`: what each model answered,
 * how fast, how often it failed, how often the two agree, how accurate each is on the delayed labels,
 * and the promotion rule's verdict. No I/O here: the proxy feeds it and reads `verdict()`.
 *
 * Shadow: every inference request is mirrored to the challenger; the user gets the champion's answer.
 * Canary: a fraction of requests (chosen by a seeded hash of the request's arrival number) is served
 * by the challenger; a failed challenger answer falls back to the champion (counted as an error).
 *
 * The rule, after `minLabelled` labelled challenger items (and as many champion ones):
 *   - challenger error rate above `maxErrorRate`           → rollback
 *   - challenger p95 latency above `maxLatencyRatio` × the champion's → rollback
 *   - accuracy difference (challenger − champion), CI at `confidence` (normal approximation; paired
 *     per item in shadow mode, two independent proportions in canary mode):
 *       upper bound below −maxAccuracyDrop  → rollback (clearly worse)
 *       lower bound at or above −maxAccuracyDrop → promote (not worse by more than the margin)
 *       otherwise undecided (more labels needed).
 * The verdict is re-evaluated as labels arrive; repeated looks are not corrected for, so a strict
 * deployment should raise `minLabelled` or the confidence.
 *
 * Example:
 *   const book = new ChallengerBook('shadow', { minLabelled: 2, maxAccuracyDrop: 0.01, maxLatencyRatio: 2, maxErrorRate: 0.05, confidence: 0.95 });
 *   book.champion(0, 3); book.challenger(0, 3); book.label(0, 3); book.verdict().decision; // 'undecided'
 */
import { Rng } from '../rng.js';
import { percentile } from '../stream/serving.js';

export type ChallengerMode = 'shadow' | 'canary';
export type Decision = 'promote' | 'rollback' | 'undecided';

export interface ChallengerRule {
  /** Labelled items of each model before a decision. */
  minLabelled: number;
  /** Accuracy the challenger may lose against the champion. */
  maxAccuracyDrop: number;
  /** Challenger p95 latency allowed, as a multiple of the champion's. */
  maxLatencyRatio: number;
  /** Share of challenger requests allowed to fail (connection errors, timeouts, non-200 answers). */
  maxErrorRate: number;
  /** Two-sided confidence of the accuracy difference's interval, in (0, 1). */
  confidence: number;
}

export interface Verdict {
  decision: Decision;
  reason: string;
  /** Labelled items of each model, and their accuracy (null without labels). */
  labelled: { champion: number; challenger: number };
  accuracy: { champion: number | null; challenger: number | null };
  /** Challenger minus champion accuracy with its interval (null before both have labels). */
  difference: number | null;
  ci: [number, number] | null;
}

/** What one model did on the requests sent to it. */
interface Side {
  requests: number;
  errors: number;
  /** The last `LATENCY_KEEP` latencies, ms (a ring). */
  latency: Float64Array;
  latencyCount: number;
  labelled: number;
  right: number;
}

const LATENCY_KEEP = 10_000;

function side(): Side {
  return { requests: 0, errors: 0, latency: new Float64Array(LATENCY_KEEP), latencyCount: 0, labelled: 0, right: 0 };
}

/** z of a two-sided normal interval at confidence c (Acklam's inverse normal, |error| < 1e-8 here). */
export function zOf(confidence: number): number {
  const p = 1 - (1 - confidence) / 2;
  // Rational approximation of the normal quantile for p in (0.5, 1).
  const a = [-3.969683028665376e1, 2.209460984245205e2, -2.759285104469687e2, 1.38357751867269e2, -3.066479806614716e1, 2.506628277459239];
  const b = [-5.447609879822406e1, 1.615858368580409e2, -1.556989798598866e2, 6.680131188771972e1, -1.328068155288572e1];
  const c = [-7.784894002430293e-3, -3.223964580411365e-1, -2.400758277161838, -2.549732539343734, 4.374664141464968, 2.938163982698783];
  const d = [7.784695709041462e-3, 3.224671290700398e-1, 2.445134137142996, 3.754408661907416];
  if (p > 0.97575) {
    const q = Math.sqrt(-2 * Math.log(1 - p));
    return -(((((c[0]! * q + c[1]!) * q + c[2]!) * q + c[3]!) * q + c[4]!) * q + c[5]!) / ((((d[0]! * q + d[1]!) * q + d[2]!) * q + d[3]!) * q + 1);
  }
  const q = p - 0.5;
  const r = q * q;
  return ((((((a[0]! * r + a[1]!) * r + a[2]!) * r + a[3]!) * r + a[4]!) * r + a[5]!) * q) / (((((b[0]! * r + b[1]!) * r + b[2]!) * r + b[3]!) * r + b[4]!) * r + 1);
}

/** Item bookkeeping: each model's prediction (−1: none yet). */
interface Entry {
  p: number;
  c: number;
}

export class ChallengerBook {
  readonly mode: ChallengerMode;
  readonly rule: ChallengerRule;
  private readonly champ = side();
  private readonly chal = side();
  private readonly items = new Map<number, Entry>();
  private agree = 0;
  private compared = 0;
  /** Shadow, paired: Σd and Σd² of d = challenger right − champion right over items with both. */
  private pairs = 0;
  private dSum = 0;
  private dSq = 0;
  private readonly z: number;
  private readonly keep: number;

  constructor(mode: ChallengerMode, rule: ChallengerRule, keepItems = 100_000) {
    this.mode = mode;
    this.rule = rule;
    this.z = zOf(rule.confidence);
    this.keep = keepItems;
  }

  /** A request to one model: its latency (ms) or a failure. */
  request(who: 'champion' | 'challenger', latencyMs: number | null): void {
    const s = who === 'champion' ? this.champ : this.chal;
    s.requests++;
    if (latencyMs === null) {
      s.errors++;
      return;
    }
    s.latency[s.latencyCount % LATENCY_KEEP] = latencyMs;
    s.latencyCount++;
  }

  private entry(id: number): Entry {
    let e = this.items.get(id);
    if (!e) {
      e = { p: -1, c: -1 };
      this.items.set(id, e);
      if (this.items.size > this.keep) this.items.delete(this.items.keys().next().value!);
    }
    return e;
  }

  /** The champion's predicted class of item `id`. */
  champion(id: number, predicted: number): void {
    const e = this.entry(id);
    e.p = predicted;
    if (e.c >= 0) this.compare(e);
  }

  /** The challenger's predicted class of item `id`. */
  challenger(id: number, predicted: number): void {
    const e = this.entry(id);
    e.c = predicted;
    if (e.p >= 0) this.compare(e);
  }

  private compare(e: Entry): void {
    this.compared++;
    if (e.p === e.c) this.agree++;
  }

  /** A delayed label for item `id`: scores whichever models predicted it. */
  label(id: number, y: number): void {
    const e = this.items.get(id);
    if (!e) return;
    this.items.delete(id);
    if (e.p >= 0) (this.champ.labelled++, (this.champ.right += e.p === y ? 1 : 0));
    if (e.c >= 0) (this.chal.labelled++, (this.chal.right += e.c === y ? 1 : 0));
    if (e.p >= 0 && e.c >= 0) {
      const d = (e.c === y ? 1 : 0) - (e.p === y ? 1 : 0);
      this.pairs++;
      this.dSum += d;
      this.dSq += d * d;
    }
  }

  private p95(s: Side): number {
    const n = Math.min(s.latencyCount, LATENCY_KEEP);
    return n === 0 ? NaN : percentile(s.latency.subarray(0, n), 0.95);
  }
  private p50(s: Side): number {
    const n = Math.min(s.latencyCount, LATENCY_KEEP);
    return n === 0 ? NaN : percentile(s.latency.subarray(0, n), 0.5);
  }

  /** Challenger − champion accuracy and its interval, or null before both have labels. */
  private difference(): { diff: number; ci: [number, number] } | null {
    const r = this.rule;
    if (this.mode === 'shadow') {
      if (this.pairs === 0) return null;
      const n = this.pairs;
      const mean = this.dSum / n;
      const variance = n > 1 ? Math.max(0, (this.dSq - n * mean * mean) / (n - 1)) : 0;
      const se = Math.sqrt(variance / n);
      return { diff: mean, ci: [mean - this.z * se, mean + this.z * se] };
    }
    if (this.champ.labelled === 0 || this.chal.labelled === 0) return null;
    const aP = this.champ.right / this.champ.labelled;
    const aC = this.chal.right / this.chal.labelled;
    const se = Math.sqrt((aP * (1 - aP)) / this.champ.labelled + (aC * (1 - aC)) / this.chal.labelled);
    void r;
    return { diff: aC - aP, ci: [aC - aP - this.z * se, aC - aP + this.z * se] };
  }

  verdict(): Verdict {
    const r = this.rule;
    const labelled = { champion: this.champ.labelled, challenger: this.chal.labelled };
    const accuracy = { champion: this.champ.labelled ? this.champ.right / this.champ.labelled : null, challenger: this.chal.labelled ? this.chal.right / this.chal.labelled : null };
    const d = this.difference();
    const base = { labelled, accuracy, difference: d ? d.diff : null, ci: d ? d.ci : null };
    const f = (v: number): string => v.toFixed(4);
    const errRate = this.chal.requests ? this.chal.errors / this.chal.requests : 0;
    if (this.chal.requests >= r.minLabelled && errRate > r.maxErrorRate) {
      return { ...base, decision: 'rollback', reason: `challenger error rate ${f(errRate)} (${this.chal.errors} of ${this.chal.requests} requests) exceeds ${r.maxErrorRate}` };
    }
    const n = Math.min(labelled.champion, labelled.challenger);
    if (n < r.minLabelled || !d) {
      return { ...base, decision: 'undecided', reason: `${labelled.challenger} labelled challenger items and ${labelled.champion} champion items; the rule needs ${r.minLabelled} of each` };
    }
    const pC = this.p95(this.chal);
    const pP = this.p95(this.champ);
    if (Number.isFinite(pC) && Number.isFinite(pP) && pC > r.maxLatencyRatio * pP) {
      return { ...base, decision: 'rollback', reason: `challenger p95 latency ${pC.toFixed(2)} ms exceeds ${r.maxLatencyRatio}x champion ${pP.toFixed(2)} ms` };
    }
    const [lo, hi] = d.ci;
    const ci = `${Math.round(r.confidence * 100)} % CI [${f(lo)}, ${f(hi)}]`;
    if (hi < -r.maxAccuracyDrop) return { ...base, decision: 'rollback', reason: `challenger accuracy is worse than champion's by more than ${r.maxAccuracyDrop}: difference ${f(d.diff)}, ${ci}` };
    if (lo >= -r.maxAccuracyDrop) return { ...base, decision: 'promote', reason: `challenger accuracy not worse than champion's by more than ${r.maxAccuracyDrop}: difference ${f(d.diff)}, ${ci}; error rate ${f(errRate)}; p95 latency ${pC.toFixed(2)} vs ${pP.toFixed(2)} ms` };
    return { ...base, decision: 'undecided', reason: `difference ${f(d.diff)}, ${ci} straddles -${r.maxAccuracyDrop}; more labels needed` };
  }

  /** Counts and latency summaries, for GET /status. */
  summary(): Record<string, unknown> {
    const s = (x: Side) => ({ requests: x.requests, errors: x.errors, error_rate: x.requests ? x.errors / x.requests : null, latency_p50_ms: num(this.p50(x)), latency_p95_ms: num(this.p95(x)), labelled: x.labelled, accuracy: x.labelled ? x.right / x.labelled : null });
    return { champion: s(this.champ), challenger: s(this.chal), compared: this.compared, agreement: this.compared ? this.agree / this.compared : null };
  }

  /** Items both models predicted, and how many they agreed on. */
  agreement(): { compared: number; agree: number } {
    return { compared: this.compared, agree: this.agree };
  }
}

function num(v: number): number | null {
  return Number.isFinite(v) ? v : null;
}

/**
 * Canary routing: request `k` (arrival number) goes to the challenger when a uniform drawn from the
 * seeded generator forked for `canary:k` is below `fraction` — the same requests for the same seed,
 * whatever the timing.
 */
export function canaryRoute(seed: number, k: number, fraction: number): boolean {
  return new Rng(seed).fork(`canary:${k}`).uniform() < fraction;
}
