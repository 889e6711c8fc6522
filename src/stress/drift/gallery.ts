/**
 * Gallery PNGs for reports: a grid with one row per image and one column per version of it (clean,
 * severity 1 … 5), each column headed by its label in a small pixel font. Written atomically.
 *
 * Example: `await writeGalleryPng('fog.png', corruptionGallery(x, shape, getCorruption('fog'), new Rng(0)), shape)`.
 */
import { PNG } from 'pngjs';
import { UsageError } from '../../errors.js';
import type { Rng } from '../../rng.js';
import { writeFileAtomic } from '../../data/util.js';
import { checkBatch } from './base.js';
import { SEVERITIES, type BatchShape, type Corruption } from './types.js';

/** One column of the grid: a label and a batch with the gallery's shape. */
export interface GalleryColumn {
  readonly label: string;
  readonly x: Float32Array;
}

export interface GalleryOptions {
  /** Integer upscaling of each image (default: enough for tiles of about 96 px, at most 8). */
  readonly scale?: number;
  /** Show at most this many images (rows; default 8). */
  readonly maxRows?: number;
}

// 3×5 pixel glyphs, rows top to bottom, '#' lit.
const GLYPHS: Record<string, string> = {
  A: '.#.#.#####.##.#', B: '##.#.###.#.###.', C: '.###..#..#...##', D: '##.#.##.##.###.', E: '####..##.#..###',
  F: '####..##.#..#..', G: '.###..#.##.#.##', H: '#.##.#####.##.#', I: '###.#..#..#.###', J: '..#..#..##.#.#.',
  K: '#.##.###.#.##.#', L: '#..#..#..#..###', M: '#.########.##.#', N: '##.#.##.##.##.#', O: '.#.#.##.##.#.#.',
  P: '##.#.###.#..#..', Q: '.#.#.##.####.##', R: '##.#.###.#.##.#', S: '.###...#...###.', T: '###.#..#..#..#.',
  U: '#.##.##.##.####', V: '#.##.##.##.#.#.', W: '#.##.########.#', X: '#.##.#.#.#.##.#', Y: '#.##.#.#..#..#.',
  Z: '###..#.#.#..###', '0': '####.##.##.####', '1': '.#.##..#..#.###', '2': '##...#.#.#..###', '3': '##...#.#...###.',
  '4': '#.##.####..#..#', '5': '####..##...###.', '6': '.###..####.####', '7': '###..#.#..#..#.', '8': '####.#####.####',
  '9': '####.####..###.', '_': '............###', '-': '......###......', '.': '.............#.', ':': '....#.....#....',
  '=': '...###...###...', ' ': '...............',
};

function glyph(ch: string): string {
  return GLYPHS[ch.toUpperCase()] ?? GLYPHS['-']!;
}

/** Renders the gallery as PNG bytes. */
export function renderGallery(columns: readonly GalleryColumn[], shape: BatchShape, opts: GalleryOptions = {}): Uint8Array {
  if (columns.length === 0) throw new UsageError('a gallery needs at least one column');
  for (const col of columns) checkBatch(`gallery column '${col.label}'`, col.x, shape, 1);
  const [n, C, H, W] = shape;
  const rows = Math.min(n, opts.maxRows ?? 8);
  const scale = opts.scale ?? Math.min(8, Math.max(1, Math.floor(96 / Math.max(H, W))));
  if (!(Number.isInteger(scale) && scale >= 1 && scale <= 64)) throw new UsageError(`'scale' must be an integer in [1, 64], got ${scale}`);
  const tw = W * scale;
  const th = H * scale;
  const gap = 2;
  const font = Math.max(1, Math.min(3, Math.floor(tw / 48)));
  const header = 5 * font + 2 * gap;
  const width = columns.length * (tw + gap) + gap;
  const height = header + rows * (th + gap) + gap;
  const png = new PNG({ width, height });
  const px = png.data;
  for (let i = 0; i < width * height; i++) {
    px[4 * i] = 40;
    px[4 * i + 1] = 40;
    px[4 * i + 2] = 40;
    px[4 * i + 3] = 255;
  }
  const set = (x: number, y: number, r: number, g: number, b: number): void => {
    if (x < 0 || y < 0 || x >= width || y >= height) return;
    const o = 4 * (y * width + x);
    px[o] = r;
    px[o + 1] = g;
    px[o + 2] = b;
  };
  columns.forEach((col, ci) => {
    const x0 = gap + ci * (tw + gap);
    // label, cut to the tile width
    const maxChars = Math.floor((tw + font) / (4 * font));
    [...col.label.slice(0, maxChars)].forEach((ch, k) => {
      const g = glyph(ch);
      for (let gy = 0; gy < 5; gy++) {
        for (let gx = 0; gx < 3; gx++) {
          if (g[gy * 3 + gx] !== '#') continue;
          for (let a = 0; a < font; a++) for (let b = 0; b < font; b++) set(x0 + k * 4 * font + gx * font + b, gap + gy * font + a, 230, 230, 230);
        }
      }
    });
    for (let r = 0; r < rows; r++) {
      const y0 = header + r * (th + gap);
      const off = r * C * H * W;
      for (let y = 0; y < th; y++) {
        for (let x = 0; x < tw; x++) {
          const p = Math.floor(y / scale) * W + Math.floor(x / scale);
          const v = (ch: number): number => Math.round(Math.min(1, Math.max(0, col.x[off + ch * H * W + p]!)) * 255);
          if (C === 1) set(x0 + x, y0 + y, v(0), v(0), v(0));
          else set(x0 + x, y0 + y, v(0), v(1), v(2));
        }
      }
    }
  });
  return PNG.sync.write(png);
}

/** Writes the gallery PNG atomically (temporary file, then rename). */
export async function writeGalleryPng(file: string, columns: readonly GalleryColumn[], shape: BatchShape, opts: GalleryOptions = {}): Promise<void> {
  await writeFileAtomic(file, renderGallery(columns, shape, opts));
}

/**
 * The columns of a corruption's gallery: the first `rows` images clean and at severities 1–5
 * (each severity drawing from its own fork of `rng`).
 */
export function corruptionGallery(x: Float32Array, shape: BatchShape, corruption: Corruption, rng: Rng, rows = 8): { columns: GalleryColumn[]; shape: BatchShape } {
  const [n, C, H, W] = shape;
  const k = Math.min(n, rows);
  const head = x.subarray(0, k * C * H * W);
  const s: BatchShape = [k, C, H, W];
  const columns: GalleryColumn[] = [{ label: 'clean', x: head }];
  for (const sev of SEVERITIES) columns.push({ label: `s${sev}`, x: corruption.apply(head, s, sev, rng.fork(`gallery:${corruption.name}:${sev}`)) });
  return { columns, shape: s };
}
