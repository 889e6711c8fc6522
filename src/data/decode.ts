/**
 * PNG and JPEG decoding into one preallocated NCHW Float32Array, shared by the image-folder and
 * JSONL loaders.
 *
 * Two passes: the first reads only each file's header (PNG IHDR, JPEG SOF) to learn sizes and
 * whether every image is grayscale, so mismatched sizes are reported before any decoding and the
 * output is allocated once; the second decodes each file straight into its slot. Values are scaled
 * to [0, 1] by the format's maximum (255, or 65535 for 16-bit PNG). Alpha is dropped. Colour →
 * gray uses ITU-R BT.601 luma (0.299 R + 0.587 G + 0.114 B); gray → colour repeats the channel.
 * The format is detected from the bytes, not the file name.
 */
import fs from 'node:fs/promises';
import pngjs from 'pngjs';
import jpeg from 'jpeg-js';
import { DataError } from '../errors.js';
import { fileError } from './util.js';

/** An image file to decode; `label` is how error messages name it. */
export interface ImageFile {
  readonly path: string;
  readonly label: string;
}

/** What an image's header says. */
export interface ImageHeader {
  readonly format: 'png' | 'jpeg';
  readonly width: number;
  readonly height: number;
  /** True for grayscale PNG (colour types 0, 4) and single-component JPEG. */
  readonly gray: boolean;
}

/** A decoded image: interleaved samples (`stride` per pixel: RGB or RGBA) with maximum `max`. */
export interface DecodedImage extends ImageHeader {
  readonly data: Uint8Array | Uint16Array;
  readonly stride: number;
  readonly max: number;
}

/** Images decoded into one array. */
export interface DecodedImages {
  /** NCHW values in [0, 1]. */
  readonly x: Float32Array;
  /** `[C, H, W]`. */
  readonly itemShape: [number, number, number];
}

const PNG_MAGIC = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
const PROBE_BYTES = 64 * 1024;
const PROBE_CONCURRENCY = 16;
const READ_AHEAD = 8;

/**
 * Reads an image's header from its first bytes. Returns null when more bytes are needed (a JPEG
 * whose frame header lies beyond them); throws DataError when the bytes are not PNG or JPEG.
 */
export function probeImage(bytes: Uint8Array, label: string): ImageHeader | null {
  if (PNG_MAGIC.every((b, i) => bytes[i] === b)) {
    if (bytes.length < 26) return null;
    if (String.fromCharCode(...bytes.subarray(12, 16)) !== 'IHDR') throw new DataError(`${label}: not a valid PNG (the first chunk is not IHDR)`);
    const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const width = dv.getUint32(16, false);
    const height = dv.getUint32(20, false);
    if (width === 0 || height === 0) throw new DataError(`${label}: not a valid PNG (its size is ${width}x${height})`);
    const colorType = bytes[25]!;
    return { format: 'png', width, height, gray: colorType === 0 || colorType === 4 };
  }
  if (bytes[0] === 0xff && bytes[1] === 0xd8) {
    const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    let p = 2;
    while (p + 4 <= bytes.length) {
      if (bytes[p] !== 0xff) throw new DataError(`${label}: not a valid JPEG (no marker at byte ${p})`);
      const marker = bytes[p + 1]!;
      if (marker === 0xff) {
        p++;
        continue;
      }
      if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) {
        p += 2;
        continue;
      }
      if (marker === 0xda || marker === 0xd9) break;
      const len = dv.getUint16(p + 2, false);
      const isFrame = marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc;
      if (isFrame) {
        if (p + 10 > bytes.length) return null;
        const height = dv.getUint16(p + 5, false);
        const width = dv.getUint16(p + 7, false);
        if (height === 0 || width === 0) throw new DataError(`${label}: JPEG frame header gives a ${width}x${height} size, which is not supported`);
        return { format: 'jpeg', width, height, gray: bytes[p + 9] === 1 };
      }
      p += 2 + len;
    }
    if (p + 4 > bytes.length) return null;
    throw new DataError(`${label}: not a valid JPEG (no frame header before the image data)`);
  }
  throw new DataError(`${label}: not a PNG or JPEG image`);
}

/** Decodes a whole PNG or JPEG file. Throws DataError naming `label` when it cannot. */
export function decodeImage(bytes: Uint8Array, label: string): DecodedImage {
  const header = probeImage(bytes, label);
  if (!header) throw new DataError(`${label}: truncated image header`);
  if (header.format === 'png') {
    try {
      const png = pngjs.PNG.sync.read(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), { skipRescale: true });
      const data = png.data as unknown as Uint8Array | Uint16Array;
      const max = png.colorType === (3 as number) ? 255 : 2 ** png.depth - 1;
      return { ...header, width: png.width, height: png.height, data, stride: 4, max };
    } catch (err) {
      throw new DataError(`${label}: not a valid PNG (${(err as Error).message})`);
    }
  }
  try {
    const img = jpeg.decode(bytes, { useTArray: true, formatAsRGBA: false, maxMemoryUsageInMB: 2048 });
    return { ...header, width: img.width, height: img.height, data: img.data, stride: 3, max: 255 };
  } catch (err) {
    throw new DataError(`${label}: not a valid JPEG (${(err as Error).message})`);
  }
}

/**
 * Writes one decoded image into `out` at `offset` as `channels` planes of H×W values in [0, 1].
 */
export function fillPlanes(img: DecodedImage, channels: 1 | 3, out: Float32Array, offset: number): void {
  const { data, stride, max } = img;
  const hw = img.width * img.height;
  if (channels === 1 && img.gray) {
    for (let p = 0; p < hw; p++) out[offset + p] = data[p * stride]! / max;
  } else if (channels === 1) {
    for (let p = 0, s = 0; p < hw; p++, s += stride) {
      out[offset + p] = (0.299 * data[s]! + 0.587 * data[s + 1]! + 0.114 * data[s + 2]!) / max;
    }
  } else {
    // Gray sources are already replicated into R, G and B by both decoders.
    for (let c = 0; c < 3; c++) {
      const plane = offset + c * hw;
      for (let p = 0, s = c; p < hw; p++, s += stride) out[plane + p] = data[s]! / max;
    }
  }
}

/** Options for `decodeImageFiles`. */
export interface DecodeOptions {
  /** Output channels; default 1 when every image is grayscale, else 3. */
  readonly channels?: 1 | 3;
}

/**
 * Decodes image files, all of one size, into one NCHW Float32Array in [0, 1]. Throws DataError
 * naming the first file whose size differs from the first image's, or any file that is missing
 * or not a valid PNG/JPEG.
 */
export async function decodeImageFiles(files: readonly ImageFile[], options: DecodeOptions = {}): Promise<DecodedImages> {
  if (files.length === 0) throw new DataError('decodeImageFiles: no image files given');
  const headers = await mapPool(files, PROBE_CONCURRENCY, readHeader);
  const first = headers[0]!;
  for (let i = 1; i < files.length; i++) {
    const h = headers[i]!;
    if (h.width !== first.width || h.height !== first.height) {
      throw new DataError(
        `${files[i]!.label}: image is ${h.width}x${h.height} (width x height) but ${files[0]!.label} is ${first.width}x${first.height}; ` +
          'all images must share one size (images are not resized)',
      );
    }
  }
  const channels = options.channels ?? (headers.every((h) => h.gray) ? 1 : 3);
  const per = channels * first.width * first.height;
  let x: Float32Array;
  try {
    x = new Float32Array(files.length * per);
  } catch (err) {
    throw new DataError(`${files[0]!.label}: ${files.length} images of ${per} values are too many to hold in memory (${(err as Error).message})`);
  }

  // Read a few files ahead while decoding, in order.
  const pending = new Map<number, Promise<Buffer>>();
  let next = 0;
  for (let i = 0; i < files.length; i++) {
    while (next < files.length && next < i + READ_AHEAD) {
      const p = fs.readFile(files[next]!.path);
      p.catch(() => undefined); // observed below, in order; avoid unhandled rejections meanwhile
      pending.set(next++, p);
    }
    let bytes: Buffer;
    try {
      bytes = await pending.get(i)!;
    } catch (err) {
      throw fileError(files[i]!.label, err);
    }
    pending.delete(i);
    const img = decodeImage(bytes, files[i]!.label);
    if (img.width !== first.width || img.height !== first.height) {
      throw new DataError(`${files[i]!.label}: decodes to ${img.width}x${img.height} although its header says ${first.width}x${first.height}`);
    }
    fillPlanes(img, channels, x, i * per);
  }
  return { x, itemShape: [channels, first.height, first.width] };
}

async function readHeader(file: ImageFile): Promise<ImageHeader> {
  let head: Uint8Array;
  try {
    const fh = await fs.open(file.path, 'r');
    try {
      const buf = Buffer.alloc(PROBE_BYTES);
      const { bytesRead } = await fh.read(buf, 0, PROBE_BYTES, 0);
      head = buf.subarray(0, bytesRead);
    } finally {
      await fh.close();
    }
  } catch (err) {
    throw fileError(file.label, err);
  }
  const header = probeImage(head, file.label);
  if (header) return header;
  if (head.length === PROBE_BYTES) {
    const whole = await fs.readFile(file.path).catch((err: unknown) => {
      throw fileError(file.label, err);
    });
    const h = probeImage(whole, file.label);
    if (h) return h;
  }
  throw new DataError(`${file.label}: truncated image header`);
}

/**
 * Maps `fn` over `items` with at most `limit` calls in flight; results in input order. On failure,
 * stops starting new calls and throws the error of the lowest-index item that failed.
 */
async function mapPool<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  const errors = new Map<number, unknown>();
  let next = 0;
  const worker = async (): Promise<void> => {
    while (errors.size === 0 && next < items.length) {
      const i = next++;
      try {
        out[i] = await fn(items[i]!);
      } catch (err) {
        errors.set(i, err);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (errors.size > 0) throw errors.get(Math.min(...errors.keys()));
  return out;
}
