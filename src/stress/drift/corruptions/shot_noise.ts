/**
 * shot_noise: Poisson photon noise, Poisson(x·λ)/λ per value, clipped (Hendrycks & Dietterich
 * 2019). Smaller λ is noisier. Poisson draws are exact: Knuth's method (`Rng.poisson`) below mean
 * 10, Hörmann's transformed rejection (PTRS, as NumPy uses) from 10 up.
 */
import type { Rng } from '../../../rng.js';
import { defineCorruption, pick, type SeverityTable } from '../base.js';

/** Photon count λ at full intensity (CIFAR-10-C / ImageNet-C tables). */
export const SHOT_NOISE_LAMBDA: SeverityTable<number> = {
  cifar: [500, 250, 100, 75, 50],
  imagenet: [60, 25, 12, 5, 3],
};

const LOG_FACT = Array.from({ length: 64 }, (_, k) => {
  let s = 0;
  for (let i = 2; i <= k; i++) s += Math.log(i);
  return s;
});

/** ln k! (a table below 64, Stirling's series with three correction terms above). */
function logFactorial(k: number): number {
  if (k < 64) return LOG_FACT[k]!;
  const z = k + 1;
  return (z - 0.5) * Math.log(z) - z + 0.5 * Math.log(2 * Math.PI) + 1 / (12 * z) - 1 / (360 * z ** 3) + 1 / (1260 * z ** 5);
}

/** An exact Poisson(λ) draw: Knuth below 10, PTRS (Hörmann 1993) from 10. */
export function poisson(lam: number, rng: Rng): number {
  if (lam < 10) return rng.poisson(lam);
  const slam = Math.sqrt(lam);
  const loglam = Math.log(lam);
  const b = 0.931 + 2.53 * slam;
  const a = -0.059 + 0.02483 * b;
  const invalpha = 1.1239 + 1.1328 / (b - 3.4);
  const vr = 0.9277 - 3.6224 / (b - 2);
  for (;;) {
    const U = rng.uniform() - 0.5;
    const V = rng.uniform();
    const us = 0.5 - Math.abs(U);
    const k = Math.floor(((2 * a) / us + b) * U + lam + 0.43);
    if (us >= 0.07 && V <= vr) return k;
    if (k < 0 || (us < 0.013 && V > us)) continue;
    if (Math.log(V) + Math.log(invalpha) - Math.log(a / (us * us) + b) <= -lam + k * loglam - logFactorial(k)) return k;
  }
}

export const shotNoise = defineCorruption({
  name: 'shot_noise',
  summary: 'Poisson (photon) noise, Poisson(x*lambda)/lambda (lambda 500-50 small, 60-3 large)',
  deterministic: false,
  run({ x, out, h, w, severity, rng }) {
    const lam = pick(SHOT_NOISE_LAMBDA, h, w, severity);
    for (let i = 0; i < x.length; i++) out[i] = poisson(Math.max(0, x[i]!) * lam, rng) / lam;
  },
});
