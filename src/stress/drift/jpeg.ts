/**
 * The lossy half of a baseline JPEG encode/decode round trip, computed as libjpeg(-turbo) with
 * Pillow's defaults computes it (`img.save(f, 'JPEG', quality=q)` then `Image.open(f)`):
 *
 * - RGB → YCbCr with libjpeg's 16-bit fixed-point tables; grayscale images are one component.
 * - 4:2:0 chroma subsampling for RGB (Pillow's default): 2×2 means with libjpeg's alternating
 *   1, 2 rounding bias; image edges padded by repeating the last column / row, as libjpeg does.
 * - 8×8 integer DCT (libjpeg's `jfdctint`, the LL&M "islow" method), quantisation by the IJG
 *   tables (ITU T.81 Annex K) scaled for the quality exactly as `jpeg_set_quality(q, TRUE)` does
 *   (scale 5000/q below 50, 200 − 2q above, entries (t·scale + 50)/100 clamped to [1, 255]),
 *   rounding half away from zero.
 * - Dequantisation, the integer inverse DCT (`jidctint`), "fancy" triangular chroma upsampling
 *   (`h2v2_fancy_upsample`), YCbCr → RGB with libjpeg's tables, clamped to 0–255.
 *
 * Huffman coding is lossless, so it is skipped: the decoded pixels are those of a real file.
 * `test/drift-jpeg.test.ts` checks this against Pillow's output (fixtures made by
 * `scripts/make_drift_fixtures.py`).
 */

/** IJG luminance quantisation table (quality 50), natural (row-major) order. */
export const LUMA_QUANT = [
  16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55, 14, 13, 16, 24, 40, 57, 69, 56, 14, 17, 22, 29, 51, 87, 80, 62, 18, 22,
  37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92, 49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99,
] as const;

/** IJG chrominance quantisation table (quality 50), natural order. */
export const CHROMA_QUANT = [
  17, 18, 24, 47, 99, 99, 99, 99, 18, 21, 26, 66, 99, 99, 99, 99, 24, 26, 56, 99, 99, 99, 99, 99, 47, 66, 99, 99, 99, 99, 99, 99, 99, 99,
  99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99,
] as const;

/** A quantisation table scaled for `quality` (1–100) as libjpeg's `jpeg_set_quality(q, force_baseline=TRUE)`. */
export function scaledQuantTable(base: readonly number[], quality: number): Int32Array {
  const q = Math.min(100, Math.max(1, Math.round(quality)));
  const scale = q < 50 ? Math.floor(5000 / q) : 200 - 2 * q;
  return Int32Array.from(base, (t) => Math.min(255, Math.max(1, Math.floor((t * scale + 50) / 100))));
}

const CONST_BITS = 13;
const PASS1_BITS = 2;
const F0_298 = 2446;
const F0_390 = 3196;
const F0_541 = 4433;
const F0_765 = 6270;
const F0_899 = 7373;
const F1_175 = 9633;
const F1_501 = 12299;
const F1_847 = 15137;
const F1_961 = 16069;
const F2_053 = 16819;
const F2_562 = 20995;
const F3_072 = 25172;

/** libjpeg's DESCALE: x / 2^n rounded half up (an arithmetic shift after adding 2^(n−1)). */
function descale(x: number, n: number): number {
  return Math.floor((x + POW2[n - 1]!) / POW2[n]!);
}

const POW2 = Array.from({ length: 32 }, (_, i) => 2 ** i);

/** One 1-D pass of libjpeg `jpeg_fdct_islow` over 8 values at d[b], d[b + st], …; `last` is the column pass. */
function fdct1d(d: Float64Array, b: number, st: number, last: boolean): void {
  const i0 = b, i1 = b + st, i2 = b + 2 * st, i3 = b + 3 * st, i4 = b + 4 * st, i5 = b + 5 * st, i6 = b + 6 * st, i7 = b + 7 * st;
  const tmp0 = d[i0]! + d[i7]!;
  const tmp7 = d[i0]! - d[i7]!;
  const tmp1 = d[i1]! + d[i6]!;
  const tmp6 = d[i1]! - d[i6]!;
  const tmp2 = d[i2]! + d[i5]!;
  const tmp5 = d[i2]! - d[i5]!;
  const tmp3 = d[i3]! + d[i4]!;
  const tmp4 = d[i3]! - d[i4]!;
  const tmp10 = tmp0 + tmp3;
  const tmp13 = tmp0 - tmp3;
  const tmp11 = tmp1 + tmp2;
  const tmp12 = tmp1 - tmp2;
  const sh = last ? CONST_BITS + PASS1_BITS : CONST_BITS - PASS1_BITS;
  if (last) {
    d[i0] = descale(tmp10 + tmp11, PASS1_BITS);
    d[i4] = descale(tmp10 - tmp11, PASS1_BITS);
  } else {
    d[i0] = (tmp10 + tmp11) * 4;
    d[i4] = (tmp10 - tmp11) * 4;
  }
  const z1 = (tmp12 + tmp13) * F0_541;
  d[i2] = descale(z1 + tmp13 * F0_765, sh);
  d[i6] = descale(z1 - tmp12 * F1_847, sh);
  const z5 = (tmp4 + tmp6 + tmp5 + tmp7) * F1_175;
  const za = (tmp4 + tmp7) * -F0_899;
  const zb = (tmp5 + tmp6) * -F2_562;
  const zc = (tmp4 + tmp6) * -F1_961 + z5;
  const zd = (tmp5 + tmp7) * -F0_390 + z5;
  d[i7] = descale(tmp4 * F0_298 + za + zc, sh);
  d[i5] = descale(tmp5 * F2_053 + zb + zd, sh);
  d[i3] = descale(tmp6 * F3_072 + zb + zc, sh);
  d[i1] = descale(tmp7 * F1_501 + za + zd, sh);
}

/** libjpeg `jpeg_fdct_islow` in place on level-shifted samples; output is 8× the orthonormal DCT. */
function fdct(d: Float64Array): void {
  for (let k = 0; k < 8; k++) fdct1d(d, k * 8, 1, false);
  for (let k = 0; k < 8; k++) fdct1d(d, k, 8, true);
}

/**
 * One 1-D pass of libjpeg `jpeg_idct_islow`: 8 values from src[b], src[b + st], … into dst at the
 * same places; the row pass (`last`) descales by 3 more bits, adds 128 and clamps to 0–255.
 */
function idct1d(src: Float64Array, dst: Float64Array, b: number, st: number, last: boolean): void {
  const i0 = b, i1 = b + st, i2 = b + 2 * st, i3 = b + 3 * st, i4 = b + 4 * st, i5 = b + 5 * st, i6 = b + 6 * st, i7 = b + 7 * st;
  const z2 = src[i2]!;
  const z3 = src[i6]!;
  const z1 = (z2 + z3) * F0_541;
  const e2 = z1 - z3 * F1_847;
  const e3 = z1 + z2 * F0_765;
  const e0 = (src[i0]! + src[i4]!) * 8192;
  const e1 = (src[i0]! - src[i4]!) * 8192;
  const tmp10 = e0 + e3;
  const tmp13 = e0 - e3;
  const tmp11 = e1 + e2;
  const tmp12 = e1 - e2;
  const t0 = src[i7]!;
  const t1 = src[i5]!;
  const t2 = src[i3]!;
  const t3 = src[i1]!;
  const z5 = (t0 + t2 + t1 + t3) * F1_175;
  const za = (t0 + t3) * -F0_899;
  const zb = (t1 + t2) * -F2_562;
  const zc = (t0 + t2) * -F1_961 + z5;
  const zd = (t1 + t3) * -F0_390 + z5;
  const o0 = t0 * F0_298 + za + zc;
  const o1 = t1 * F2_053 + zb + zd;
  const o2 = t2 * F3_072 + zb + zc;
  const o3 = t3 * F1_501 + za + zd;
  if (!last) {
    const sh = CONST_BITS - PASS1_BITS;
    dst[i0] = descale(tmp10 + o3, sh);
    dst[i7] = descale(tmp10 - o3, sh);
    dst[i1] = descale(tmp11 + o2, sh);
    dst[i6] = descale(tmp11 - o2, sh);
    dst[i2] = descale(tmp12 + o1, sh);
    dst[i5] = descale(tmp12 - o1, sh);
    dst[i3] = descale(tmp13 + o0, sh);
    dst[i4] = descale(tmp13 - o0, sh);
    return;
  }
  const sh = CONST_BITS + PASS1_BITS + 3;
  dst[i0] = clamp255(descale(tmp10 + o3, sh) + 128);
  dst[i7] = clamp255(descale(tmp10 - o3, sh) + 128);
  dst[i1] = clamp255(descale(tmp11 + o2, sh) + 128);
  dst[i6] = clamp255(descale(tmp11 - o2, sh) + 128);
  dst[i2] = clamp255(descale(tmp12 + o1, sh) + 128);
  dst[i5] = clamp255(descale(tmp12 - o1, sh) + 128);
  dst[i3] = clamp255(descale(tmp13 + o0, sh) + 128);
  dst[i4] = clamp255(descale(tmp13 - o0, sh) + 128);
}

function clamp255(v: number): number {
  return v < 0 ? 0 : v > 255 ? 255 : v;
}

/** libjpeg `jpeg_idct_islow` on dequantised coefficients (columns, then rows); writes samples 0–255 into `out`. */
function idct(c: Float64Array, ws: Float64Array, out: Float64Array): void {
  for (let k = 0; k < 8; k++) idct1d(c, ws, k, 8, false);
  for (let k = 0; k < 8; k++) idct1d(ws, out, k * 8, 1, true);
}

/**
 * Round-trips one component plane (`bh·8 × bw·8`, already padded) through DCT, quantisation by
 * `table` and inverse DCT, in place.
 */
function codePlane(plane: Float64Array, bh: number, bw: number, table: Int32Array): void {
  const W = bw * 8;
  const blk = new Float64Array(64);
  const ws = new Float64Array(64);
  const out = new Float64Array(64);
  for (let by = 0; by < bh; by++) {
    for (let bx = 0; bx < bw; bx++) {
      const o = by * 8 * W + bx * 8;
      for (let y = 0; y < 8; y++) for (let x = 0; x < 8; x++) blk[y * 8 + x] = plane[o + y * W + x]! - 128;
      fdct(blk);
      for (let i = 0; i < 64; i++) {
        const q = table[i]! * 8;
        const v = blk[i]!;
        const level = v < 0 ? -Math.floor((-v + (q >> 1)) / q) : Math.floor((v + (q >> 1)) / q);
        blk[i] = level * table[i]!;
      }
      idct(blk, ws, out);
      for (let y = 0; y < 8; y++) for (let x = 0; x < 8; x++) plane[o + y * W + x] = out[y * 8 + x]!;
    }
  }
}

/** Copies an `h × w` plane into a `ph × pw` one, repeating the last column and row. */
function padPlane(src: ArrayLike<number>, h: number, w: number, ph: number, pw: number): Float64Array {
  const out = new Float64Array(ph * pw);
  for (let y = 0; y < ph; y++) {
    const sy = Math.min(y, h - 1) * w;
    for (let x = 0; x < pw; x++) out[y * pw + x] = src[sy + Math.min(x, w - 1)]!;
  }
  return out;
}

const FIX = (x: number): number => Math.floor(x * 65536 + 0.5);
const HALF = 1 << 15;

/**
 * JPEG round trip of one image given as 8-bit planes (values 0–255, `C × H × W`, C = 1 or 3) at
 * `quality` (1–100). Returns the decoded planes in the same layout.
 */
export function jpegRoundTrip(src: ArrayLike<number>, C: 1 | 3, H: number, W: number, quality: number): Float64Array {
  const luma = scaledQuantTable(LUMA_QUANT, quality);
  const plane = H * W;
  if (C === 1) {
    const bh = Math.ceil(H / 8);
    const bw = Math.ceil(W / 8);
    const p = padPlane(src, H, W, bh * 8, bw * 8);
    codePlane(p, bh, bw, luma);
    const out = new Float64Array(plane);
    for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) out[y * W + x] = p[y * bw * 8 + x]!;
    return out;
  }
  const chroma = scaledQuantTable(CHROMA_QUANT, quality);
  // colour conversion (jccolor.c)
  const Y = new Float64Array(plane);
  const Cb = new Float64Array(plane);
  const Cr = new Float64Array(plane);
  for (let i = 0; i < plane; i++) {
    const r = src[i]!;
    const g = src[plane + i]!;
    const b = src[2 * plane + i]!;
    Y[i] = Math.floor((FIX(0.299) * r + FIX(0.587) * g + FIX(0.114) * b + HALF) / 65536);
    Cb[i] = Math.floor((-FIX(0.16874) * r - FIX(0.33126) * g + FIX(0.5) * b + (128 << 16) + HALF - 1) / 65536);
    Cr[i] = Math.floor((FIX(0.5) * r - FIX(0.41869) * g - FIX(0.08131) * b + (128 << 16) + HALF - 1) / 65536);
  }
  // luma: blocks of the full-resolution plane
  const ybh = Math.ceil(H / 8);
  const ybw = Math.ceil(W / 8);
  const yp = padPlane(Y, H, W, ybh * 8, ybw * 8);
  codePlane(yp, ybh, ybw, luma);
  // chroma: pad full resolution to 16·ceil(W/16) columns and an even row count, 2×2 means, pad rows
  const cbw = Math.ceil(W / 16);
  const cbh = Math.ceil(H / 16);
  const dsW = Math.ceil(W / 2);
  const dsH = Math.ceil(H / 2);
  const chromaOut: Float64Array[] = [];
  for (const full of [Cb, Cr]) {
    const ext = padPlane(full, H, W, 2 * dsH, cbw * 16);
    const cw = cbw * 8;
    const down = new Float64Array(cbh * 8 * cw);
    for (let y = 0; y < dsH; y++) {
      let bias = 1;
      for (let x = 0; x < cw; x++) {
        const a = 2 * y * (cbw * 16) + 2 * x;
        const s = ext[a]! + ext[a + 1]! + ext[a + cbw * 16]! + ext[a + cbw * 16 + 1]!;
        down[y * cw + x] = Math.floor((s + bias) / 4);
        bias ^= 3;
      }
    }
    for (let y = dsH; y < cbh * 8; y++) down.copyWithin(y * cw, (dsH - 1) * cw, dsH * cw);
    codePlane(down, cbh, cbw, chroma);
    chromaOut.push(upsampleFancy(down, cw, dsH, dsW, H, W));
  }
  // colour conversion back (jdcolor.c)
  const out = new Float64Array(3 * plane);
  const [cbUp, crUp] = chromaOut as [Float64Array, Float64Array];
  const clamp = (v: number): number => (v < 0 ? 0 : v > 255 ? 255 : v);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const i = y * W + x;
      const yy = yp[y * ybw * 8 + x]!;
      const cb = cbUp[i]! - 128;
      const cr = crUp[i]! - 128;
      out[i] = clamp(yy + Math.floor((FIX(1.402) * cr + HALF) / 65536));
      out[plane + i] = clamp(yy + Math.floor((-FIX(0.34414) * cb + HALF - FIX(0.71414) * cr) / 65536));
      out[2 * plane + i] = clamp(yy + Math.floor((FIX(1.772) * cb + HALF) / 65536));
    }
  }
  return out;
}

/**
 * libjpeg's h2v2 "fancy" upsampling of a decoded chroma plane (row stride `stride`, real size
 * `dsH × dsW`) to `H × W`: each output is 9/16, 3/16, 3/16, 1/16 of its four nearest inputs,
 * with libjpeg's rounding (8 and 7 alternately) and edge rows/columns repeated. Planes 2 samples
 * wide or less are upsampled by repetition, as libjpeg does.
 */
function upsampleFancy(src: Float64Array, stride: number, dsH: number, dsW: number, H: number, W: number): Float64Array {
  const out = new Float64Array(H * W);
  const row = new Float64Array(2 * dsW);
  const colsum = new Float64Array(dsW);
  for (let oy = 0; oy < 2 * dsH; oy++) {
    if (oy >= H) break;
    const iy = oy >> 1;
    if (dsW <= 2) {
      for (let x = 0; x < W; x++) out[oy * W + x] = src[iy * stride + (x >> 1)]!;
      continue;
    }
    const ny = oy % 2 === 0 ? Math.max(iy - 1, 0) : Math.min(iy + 1, dsH - 1);
    for (let x = 0; x < dsW; x++) colsum[x] = 3 * src[iy * stride + x]! + src[ny * stride + x]!;
    row[0] = Math.floor((colsum[0]! * 4 + 8) / 16);
    row[1] = Math.floor((colsum[0]! * 3 + colsum[1]! + 7) / 16);
    for (let x = 1; x < dsW - 1; x++) {
      row[2 * x] = Math.floor((colsum[x]! * 3 + colsum[x - 1]! + 8) / 16);
      row[2 * x + 1] = Math.floor((colsum[x]! * 3 + colsum[x + 1]! + 7) / 16);
    }
    const l = dsW - 1;
    row[2 * l] = Math.floor((colsum[l]! * 3 + colsum[l - 1]! + 8) / 16);
    row[2 * l + 1] = Math.floor((colsum[l]! * 4 + 7) / 16);
    for (let x = 0; x < W; x++) out[oy * W + x] = row[x]!;
  }
  return out;
}
