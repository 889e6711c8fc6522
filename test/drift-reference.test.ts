/**
 * Corruptions against references: Pillow's output (JPEG, BOX pixelate) and skimage's HSV formulas
 * (brightness, saturate) stored as fixtures by scripts/make_drift_fixtures.py, closed forms
 * (contrast, grayscale brightness, Gaussian blur of a point), and the published parameter tables.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { Rng } from '../src/rng.js';
import { readNpz } from '../src/data/npz.js';
import { getCorruption, jpegRoundTrip } from '../src/stress/drift/index.js';
import { CONTRAST } from '../src/stress/drift/corruptions/contrast.js';
import { BRIGHTNESS } from '../src/stress/drift/corruptions/brightness.js';
import { GAUSSIAN_NOISE_SIGMA } from '../src/stress/drift/corruptions/gaussian_noise.js';
import { SHOT_NOISE_LAMBDA } from '../src/stress/drift/corruptions/shot_noise.js';
import { IMPULSE_NOISE_AMOUNT } from '../src/stress/drift/corruptions/impulse_noise.js';
import { JPEG_QUALITY } from '../src/stress/drift/corruptions/jpeg_compression.js';
import { PIXELATE } from '../src/stress/drift/corruptions/pixelate.js';
import { ZOOM_BLUR, zoomFactors } from '../src/stress/drift/corruptions/zoom_blur.js';
import { diskKernel } from '../src/stress/drift/corruptions/defocus_blur.js';
import { GAUSSIAN_BLUR_SIGMA } from '../src/stress/drift/corruptions/gaussian_blur.js';
import { scaledQuantTable, LUMA_QUANT } from '../src/stress/drift/jpeg.js';
import { fixture } from './helpers.js';
import { testImages } from './drift-helpers.js';

const ref = readNpz(fs.readFileSync(fixture('drift', 'reference.npz')), 'reference.npz');
const H = 11;
const W = 9;
const u8 = (key: string): Uint8Array => ref[key]!.data as Uint8Array;
const toUnit = (a: ArrayLike<number>): Float32Array => Float32Array.from(a, (v) => v / 255);

function maxDiff255(got: Float32Array, want: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < want.length; i++) m = Math.max(m, Math.abs(got[i]! * 255 - want[i]!));
  return m;
}

test('fixture shapes are what the script writes', () => {
  assert.deepEqual(ref.gray_in!.shape, [H, W]);
  assert.deepEqual(ref.rgb_in!.shape, [3, H, W]);
  assert.deepEqual(Array.from(ref.jpeg_qualities!.data as Int32Array), [80, 65, 58, 50, 40, 10]);
});

test('jpeg_compression equals Pillow (libjpeg) bit for bit, grayscale and RGB 4:2:0, odd sizes', () => {
  const qualities = Array.from(ref.jpeg_qualities!.data as Int32Array);
  qualities.forEach((q, k) => {
    const g = jpegRoundTrip(u8('gray_in'), 1, H, W, q);
    assert.deepEqual(Array.from(g), Array.from(u8('jpeg_gray').subarray(k * H * W, (k + 1) * H * W)), `gray q${q}`);
    const c = jpegRoundTrip(u8('rgb_in'), 3, H, W, q);
    assert.deepEqual(Array.from(c), Array.from(u8('jpeg_rgb').subarray(k * 3 * H * W, (k + 1) * 3 * H * W)), `rgb q${q}`);
  });
  // through the corruption (CIFAR-10-C qualities 80, 65, 58, 50, 40 at severities 1-5)
  const c = getCorruption('jpeg_compression');
  for (let s = 1 as 1 | 2 | 3 | 4 | 5; s <= 5; s++) {
    const y = c.apply(toUnit(u8('rgb_in')), [1, 3, H, W], s, new Rng(0));
    assert.ok(maxDiff255(y, u8('jpeg_rgb').subarray((s - 1) * 3 * H * W, s * 3 * H * W)) < 1e-3, `severity ${s}`);
  }
});

test('IJG quantisation tables scale as jpeg_set_quality does', () => {
  assert.deepEqual(Array.from(scaledQuantTable(LUMA_QUANT, 50)), [...LUMA_QUANT]);
  assert.equal(scaledQuantTable(LUMA_QUANT, 80)[0], 6); // (16·40 + 50)/100
  assert.equal(scaledQuantTable(LUMA_QUANT, 10)[63], 255); // 99·500/100 clamped to baseline
  assert.equal(scaledQuantTable(LUMA_QUANT, 100)[0], 1);
});

for (const [name, key, C] of [
  ['pixelate', 'pixelate_gray', 1],
  ['pixelate', 'pixelate_rgb', 3],
  ['brightness', 'brightness_rgb', 3],
  ['saturate', 'saturate_rgb', 3],
] as const) {
  test(`${name} (${C === 1 ? 'gray' : 'RGB'}) within 1/255 of the reference at every severity`, () => {
    const x = toUnit(u8(C === 1 ? 'gray_in' : 'rgb_in'));
    const per = C * H * W;
    for (let s = 1 as 1 | 2 | 3 | 4 | 5; s <= 5; s++) {
      const y = getCorruption(name).apply(x, [1, C, H, W], s, new Rng(0));
      // Pillow rounds to 8 bits after each resize pass; the generator truncates HSV results to 8 bits
      assert.ok(maxDiff255(y, u8(key).subarray((s - 1) * per, s * per)) <= 1 + 1e-4, `severity ${s}`);
    }
  });
}

test('contrast is (x - channel mean)·c + mean, clipped', () => {
  const x = testImages(2, 3, 6, 5, 1);
  const plane = 30;
  for (let s = 1 as 1 | 2 | 3 | 4 | 5; s <= 5; s++) {
    const c = CONTRAST.cifar[s - 1];
    const y = getCorruption('contrast').apply(x, [2, 3, 6, 5], s, new Rng(0));
    for (let img = 0; img < 2; img++) {
      for (let ch = 0; ch < 3; ch++) {
        const o = img * 90 + ch * plane;
        let mean = 0;
        for (let i = 0; i < plane; i++) mean += x[o + i]!;
        mean /= plane;
        for (let i = 0; i < plane; i++) {
          const want = Math.min(1, Math.max(0, (x[o + i]! - mean) * c + mean));
          assert.ok(Math.abs(y[o + i]! - want) < 1e-6);
        }
      }
    }
  }
  assert.deepEqual([...CONTRAST.cifar], [0.75, 0.5, 0.4, 0.3, 0.15]);
  assert.deepEqual([...CONTRAST.imagenet], [0.4, 0.3, 0.2, 0.1, 0.05]);
});

test('brightness on grayscale is min(x + c, 1) (HSV value of a gray pixel is the pixel)', () => {
  const x = testImages(1, 1, 8, 8, 2);
  const y = getCorruption('brightness').apply(x, [1, 1, 8, 8], 5, new Rng(0));
  for (let i = 0; i < x.length; i++) assert.ok(Math.abs(y[i]! - Math.min(1, x[i]! + BRIGHTNESS.cifar[4])) < 1e-6);
});

test('gaussian_blur of a point is the outer product of scipy-style kernels (radius int(4σ + 0.5))', () => {
  const n = 15;
  const x = new Float32Array(n * n);
  x[7 * n + 7] = 1;
  for (let s = 1 as 1 | 2 | 3 | 4 | 5; s <= 5; s++) {
    const sigma = GAUSSIAN_BLUR_SIGMA.cifar[s - 1];
    const r = Math.floor(4 * sigma + 0.5);
    const k = Array.from({ length: 2 * r + 1 }, (_, i) => Math.exp(-((i - r) ** 2) / (2 * sigma * sigma)));
    const sum = k.reduce((a, b) => a + b, 0);
    const y = getCorruption('gaussian_blur').apply(x, [1, 1, n, n], s, new Rng(0));
    for (let dy = -r; dy <= r; dy++) {
      for (let dx = -r; dx <= r; dx++) {
        assert.ok(Math.abs(y[(7 + dy) * n + 7 + dx]! - (k[dy + r]! * k[dx + r]!) / (sum * sum)) < 1e-6);
      }
    }
    assert.equal(y[0], 0);
  }
});

test('defocus disk kernels sum to 1, and an aliased disk of radius 1.5 covers the 3×3 square', () => {
  for (const [r, a] of [[0.3, 0.4], [1, 0.2], [1.5, 0.1], [3, 0.1], [8, 0.5], [10, 0.5]] as const) {
    const { k, size } = diskKernel(r, a);
    assert.equal(size, r <= 8 ? 17 : 21);
    const sum = k.reduce((s, v) => s + v, 0);
    // disks that touch the grid's edge (r = 8, 10) gain ~1 % mass from the anti-aliasing blur's
    // reflected border, as in the generator (OpenCV GaussianBlur, BORDER_REFLECT_101)
    if (r < 8) assert.ok(Math.abs(sum - 1) < 1e-6, `r ${r}: ${sum}`);
    else assert.ok(sum > 1.005 && sum < 1.02, `r ${r}: ${sum}`);
  }
  const { k } = diskKernel(1.5, 0.1);
  assert.ok(Math.abs(k[8 * 17 + 8]! - 1 / 9) < 1e-4 && Math.abs(k[7 * 17 + 7]! - 1 / 9) < 1e-4);
  // a constant image stays constant
  const y = getCorruption('defocus_blur').apply(new Float32Array(100).fill(0.3), [1, 1, 10, 10], 5, new Rng(0));
  for (const v of y) assert.ok(Math.abs(v - 0.3) < 1e-6);
});

test('zoom_blur factor lists follow np.arange, float rounding included', () => {
  assert.deepEqual(ZOOM_BLUR.cifar.map(([stop, step]) => zoomFactors(stop, step).length), [7, 12, 16, 21, 26]);
  assert.deepEqual(ZOOM_BLUR.imagenet.map(([stop, step]) => zoomFactors(stop, step).length), [12, 16, 11, 13, 11]);
  assert.ok(Math.abs(zoomFactors(1.06, 0.01)[6]! - 1.06) < 1e-12);
});

test('published CIFAR-10-C / ImageNet-C tables', () => {
  assert.deepEqual([...GAUSSIAN_NOISE_SIGMA.cifar], [0.04, 0.06, 0.08, 0.09, 0.1]);
  assert.deepEqual([...GAUSSIAN_NOISE_SIGMA.imagenet], [0.08, 0.12, 0.18, 0.26, 0.38]);
  assert.deepEqual([...SHOT_NOISE_LAMBDA.cifar], [500, 250, 100, 75, 50]);
  assert.deepEqual([...IMPULSE_NOISE_AMOUNT.imagenet], [0.03, 0.06, 0.09, 0.17, 0.27]);
  assert.deepEqual([...JPEG_QUALITY.cifar], [80, 65, 58, 50, 40]);
  assert.deepEqual([...JPEG_QUALITY.imagenet], [25, 18, 15, 10, 7]);
  assert.deepEqual([...PIXELATE.cifar], [0.95, 0.9, 0.85, 0.75, 0.65]);
});

test('noise corruptions have the published statistics on a flat image', () => {
  const n = 40 * 40;
  const x = new Float32Array(n).fill(0.5);
  const stats = (y: Float32Array): { mean: number; sd: number; changed: number } => {
    let m = 0;
    let c = 0;
    for (const v of y) (m += v), (c += v !== 0.5 ? 1 : 0);
    m /= y.length;
    let s = 0;
    for (const v of y) s += (v - m) ** 2;
    return { mean: m, sd: Math.sqrt(s / y.length), changed: c / y.length };
  };
  const g = stats(getCorruption('gaussian_noise').apply(x, [1, 1, 40, 40], 5, new Rng(1)));
  assert.ok(Math.abs(g.sd - 0.1) < 0.006 && Math.abs(g.mean - 0.5) < 0.01, `gaussian sd ${g.sd}`);
  const sh = stats(getCorruption('shot_noise').apply(x, [1, 1, 40, 40], 5, new Rng(1)));
  assert.ok(Math.abs(sh.sd - Math.sqrt(0.5 / 50)) < 0.01 && Math.abs(sh.mean - 0.5) < 0.01, `shot sd ${sh.sd}`);
  const imp = stats(getCorruption('impulse_noise').apply(x, [1, 1, 40, 40], 5, new Rng(1)));
  assert.ok(Math.abs(imp.changed - 0.07) < 0.02, `impulse share ${imp.changed}`);
  const sp = stats(getCorruption('speckle_noise').apply(x, [1, 1, 40, 40], 5, new Rng(1)));
  assert.ok(Math.abs(sp.sd - 0.1) < 0.008, `speckle sd ${sp.sd}`);
});
