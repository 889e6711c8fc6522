/**
 * A folder of images, one sub-folder per class (the torchvision `ImageFolder` layout):
 *
 *     root/cat/001.png
 *     root/dog/a.jpg
 *
 * Classes are the sub-folder names sorted by code point (as Python's `sorted`), and a class's
 * label is its index in that order, so the labels match `ImageFolder`'s. Within a class, files are
 * sorted the same way. `.png`, `.jpg` and `.jpeg` files (any case) are read; hidden entries and
 * other files are ignored. An empty class folder still takes its place in `classNames`.
 *
 * Items are NCHW `[C, H, W]` in [0, 1]; all images must share one size (no resizing). Item ids are
 * the paths relative to `root` with `/` separators (`cat/001.png`).
 */
import fs from 'node:fs/promises';
import type { Dirent } from 'node:fs';
import path from 'node:path';
import { DataError } from '../errors.js';
import { makeDataset, type Dataset } from './dataset.js';
import { decodeImageFiles, type ImageFile } from './decode.js';
import { compareCodePoints, fileError } from './util.js';

/** Options for `loadImageFolder`. */
export interface ImageFolderOptions {
  /** Output channels: 1 (gray) or 3 (RGB). Default: 1 when every image is grayscale, else 3. */
  readonly channels?: 1 | 3;
  /** Keep only the first `limit` images (in class, then file-name order). */
  readonly limit?: number;
}

const IMAGE_FILE = /\.(png|jpe?g)$/i;

/** Loads an image-folder dataset (see the module comment for the layout). */
export async function loadImageFolder(root: string, options: ImageFolderOptions = {}): Promise<Dataset> {
  const top = await listDir(root);
  const classes = (await filterKind(root, top, 'dir')).sort(compareCodePoints);
  if (classes.length === 0) {
    const loose = (await filterKind(root, top, 'file')).some((f) => IMAGE_FILE.test(f));
    throw new DataError(
      `${root}: no class folders` + (loose ? ' (images lie directly in it; expected <root>/<class>/<image>)' : '; expected <root>/<class>/<image>'),
    );
  }
  const files: ImageFile[] = [];
  const ids: string[] = [];
  const labels: number[] = [];
  for (let c = 0; c < classes.length; c++) {
    const dir = path.join(root, classes[c]!);
    const names = (await filterKind(dir, await listDir(dir), 'file')).filter((f) => IMAGE_FILE.test(f)).sort(compareCodePoints);
    for (const name of names) {
      files.push({ path: path.join(dir, name), label: path.join(dir, name) });
      ids.push(`${classes[c]}/${name}`);
      labels.push(c);
    }
  }
  if (files.length === 0) throw new DataError(`${root}: no .png, .jpg or .jpeg images in its ${classes.length} class folders`);
  const n = Math.min(files.length, options.limit ?? files.length);
  const { x, itemShape } = await decodeImageFiles(files.slice(0, n), { channels: options.channels });
  return makeDataset({
    name: path.basename(path.resolve(root)),
    itemShape,
    x,
    labels: Int32Array.from(labels.slice(0, n)),
    classNames: classes,
    ids: ids.slice(0, n),
  });
}

async function listDir(dir: string): Promise<Dirent[]> {
  try {
    return await fs.readdir(dir, { withFileTypes: true });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOTDIR') throw new DataError(`${dir}: not a directory`);
    throw fileError(dir, err);
  }
}

/** Names of the non-hidden entries that are (or link to) directories or regular files. */
async function filterKind(dir: string, entries: readonly Dirent[], kind: 'dir' | 'file'): Promise<string[]> {
  const out: string[] = [];
  for (const e of entries) {
    if (e.name.startsWith('.')) continue;
    let isDir = e.isDirectory();
    let isFile = e.isFile();
    if (e.isSymbolicLink()) {
      const st = await fs.stat(path.join(dir, e.name)).catch(() => null);
      isDir = !!st?.isDirectory();
      isFile = !!st?.isFile();
    }
    if (kind === 'dir' ? isDir : isFile) out.push(e.name);
  }
  return out;
}
