/**
 * Abstention in `gauntlet monitor`: a rule that turns an answer into a deferral marker when the model
 * is unsure — its top probability is below a confidence floor, or its split-conformal prediction set
 * (q̂ from `gauntlet conformal --json`) has more than `maxSetSize` classes. A client asks for it per
 * request (header `Gauntlet-Abstain: 1`); the proxy then answers, instead of the scores,
 *   outputs: [ { name: "prediction", datatype: "INT64", shape: [n], data: [class or -1 (deferred)] },
 *              { name: "confidence", datatype: "FP32",  shape: [n], data: [top probability] } ]
 * (plus `set_size` INT64 [n] with a conformal rule).
 *
 * Example:
 *   const rule = abstainRule({ confidence: 0.6 });
 *   rule.decide(Float64Array.of(0.5, 0.3, 0.2), 3);   // → { prediction: [-1], confidence: [0.5], deferred: 1 }
 */
import fs from 'node:fs';
import { ConfigError } from '../errors.js';
import { Rng } from '../rng.js';
import { CONFORMAL_SCORES, predictionSets, type ConformalCalibration, type ConformalScore } from '../uncertainty/conformal.js';

export interface AbstainOptions {
  /** Defer when the top probability is below this. */
  confidence?: number;
  /** A split-conformal calibration: defer when the prediction set has more than `maxSetSize` classes. */
  conformal?: ConformalCalibration;
  maxSetSize?: number;
  /** Seed of randomised APS sets. */
  seed?: number;
}

export interface AbstainDecision {
  prediction: number[];
  confidence: number[];
  setSize: number[] | null;
  deferred: number;
}

export interface AbstainRule {
  readonly description: string;
  decide(probs: Float64Array, numClasses: number): AbstainDecision;
}

export function abstainRule(o: AbstainOptions): AbstainRule {
  const rng = new Rng(o.seed ?? 0).fork('abstain');
  const maxSet = o.maxSetSize ?? 1;
  const parts: string[] = [];
  if (o.confidence !== undefined) parts.push(`confidence < ${o.confidence}`);
  if (o.conformal) parts.push(`${o.conformal.score} conformal set (alpha ${o.conformal.alpha}) larger than ${maxSet}`);
  return {
    description: parts.join(' or '),
    decide(probs, K) {
      const n = probs.length / K;
      const sets = o.conformal ? predictionSets(o.conformal, probs, K, rng).sizes : null;
      const prediction: number[] = [];
      const confidence: number[] = [];
      let deferred = 0;
      for (let i = 0; i < n; i++) {
        let best = 0;
        for (let k = 1; k < K; k++) if (probs[i * K + k]! > probs[i * K + best]!) best = k;
        const c = probs[i * K + best]!;
        const defer = (o.confidence !== undefined && c < o.confidence) || (sets !== null && sets[i]! > maxSet);
        if (defer) deferred++;
        prediction.push(defer ? -1 : best);
        confidence.push(c);
      }
      return { prediction, confidence, setSize: sets ? Array.from(sets) : null, deferred };
    },
  };
}

/** Reads the calibration `gauntlet conformal --json` prints (its last JSON line, or the whole file). */
export function readConformalCalibration(file: string): ConformalCalibration {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new ConfigError(`cannot read the conformal calibration ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  const lines = text.trim().split('\n').filter((l) => l.trim().startsWith('{'));
  let j: Record<string, unknown> | null = null;
  for (const l of [text, ...lines.reverse()]) {
    try {
      j = JSON.parse(l) as Record<string, unknown>;
      break;
    } catch {
      /* next candidate */
    }
  }
  const expected = "the JSON 'gauntlet conformal --json' prints (alpha, score, randomized, qhat, calibration_items)";
  if (!j || typeof j !== 'object') throw new ConfigError(`${file}: not ${expected}`);
  const { alpha, score, randomized, qhat, calibration_items: n } = j as { alpha: unknown; score: unknown; randomized: unknown; qhat: unknown; calibration_items: unknown };
  if (typeof alpha !== 'number' || !(alpha > 0 && alpha < 1) || typeof qhat !== 'number' || !CONFORMAL_SCORES.includes(score as ConformalScore) || typeof randomized !== 'boolean') {
    throw new ConfigError(`${file}: not ${expected}`);
  }
  return { alpha, score: score as ConformalScore, randomized, qhat, n: typeof n === 'number' ? n : 0, rank: 0 };
}
