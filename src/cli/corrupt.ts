import { DatasetHasher, makeDataset, type Dataset } from '../data/dataset.js';
import { openChunked, type Chunk, type ChunkedData } from '../data/chunked.js';
import { datasetToArrays } from '../data/npz.js';
import { withNpzWriter } from '../data/npz-writer.js';
import { UsageError } from '../errors.js';
import { Rng } from '../rng.js';
import { applyDrift, corruptionGallery, corruptionNames, getCorruption, imageBatchShape, mmdPickedRows, mmdTest, writeGalleryPng, type Severity } from '../stress/drift/index.js';
import { numberOpt, parse, progressReporter, required } from './args.js';
import { onInterrupt } from './interrupt.js';
import { guardOutputs } from './outputs.js';
import { phasedReporter } from './progress.js';
import { chunkFlags, chunkHelp, chunkItemsOpt, fmt } from './common.js';

export const help = `gauntlet corrupt --data D.npz --corruption NAME --severity S [--seed N] --out O.npz [--gallery G.png] [--json]

Applies one image corruption of the ImageNet-C family (Hendrycks & Dietterich 2019) at a severity
1-5 to every image and writes O.npz: 'x' (float32 in [0, 1], same shape as the input) and every
other array of the input unchanged. Images up to 64 px a side use the CIFAR-10-C parameters,
larger ones the ImageNet-C parameters. Reports the mean absolute change and the MMD between the
clean and corrupted images (RBF kernel, median heuristic, permutation p-value; up to 500 images a
side). Outputs are written atomically.

Corruptions: ${corruptionNames.join(', ')}
(gauntlet list corruptions describes each.)

Options:
  --data D            images [N, C, H, W] (C = 1 or 3) or [N, H, W], values in [0, 1]:
                      .npz/.npy, IDX, an image folder or a .jsonl manifest
  --corruption NAME   the corruption (required)
  --severity S        severity, an integer in [1, 5] (required)
  --seed N            seed for every random draw (default 0)
  --out O.npz         output file (required)
  --gallery G.png     also write a PNG of the first 8 images clean and at severities 1-5
  --limit N           corrupt only the first N items
${chunkHelp.replace('N    ', 'N     ')}
  --permutations P    MMD permutations (default 200; 0 skips the MMD)
  --json              print one JSON object as the last stdout line
`;

/** Parses --severity: an integer in [1, 5]. */
export function severityOpt(raw: string | undefined): Severity {
  const v = raw === undefined || raw.trim() === '' ? NaN : Number(raw);
  if (!(Number.isInteger(v) && v >= 1 && v <= 5)) throw new UsageError(`'--severity' must be an integer in [1, 5], got ${raw === undefined ? 'nothing' : raw}`);
  return v as Severity;
}

export async function corruptVerb(argv: string[]): Promise<number> {
  const { values } = parse('corrupt', argv, {
    data: { type: 'string' },
    corruption: { type: 'string' },
    severity: { type: 'string' },
    seed: { type: 'string' },
    out: { type: 'string' },
    gallery: { type: 'string' },
    limit: { type: 'string' },
    permutations: { type: 'string' },
    ...chunkFlags,
  });
  if (values.help) return (process.stdout.write(help), 0);
  const dataPath = required('corrupt', 'data', values.data);
  const corruption = getCorruption(required('corrupt', 'corruption', values.corruption));
  const severity = severityOpt(required('corrupt', 'severity', values.severity));
  const out = required('corrupt', 'out', values.out);
  if (!out.endsWith('.npz')) throw new UsageError(`'--out' must name an .npz file, got '${out}'`);
  guardOutputs('corrupt', [{ name: '--out', path: out }, { name: '--gallery', path: values.gallery }], [{ name: '--data', path: dataPath }]);
  const seed = numberOpt('seed', values.seed, 0, { min: 0, max: Number.MAX_SAFE_INTEGER, integer: true });
  const limit = values.limit === undefined ? undefined : numberOpt('limit', values.limit, 0, { min: 1, integer: true });
  const permutations = numberOpt('permutations', values.permutations, 200, { min: 0, max: 100000, integer: true });

  const ds = await openChunked({ path: dataPath, limit });
  const shape = imageBatchShape(ds);
  const chunkItems = chunkItemsOpt(values['chunk-items'], ds.itemShape);
  const per = shape[1] * shape[2] * shape[3];
  const rng = new Rng(seed);
  const drng = rng.fork(`corrupt:${corruption.name}:${severity}`);
  const distance = rng.fork('distance');
  const doMmd = permutations > 0 && ds.size >= 2;
  // The rows the MMD keeps (up to 500 a side), gathered as the chunks pass.
  const picked = doMmd ? mmdPickedRows(ds.size, ds.size, distance) : { ref: null, cur: null };
  const refRows = doMmd ? new Float32Array((picked.ref?.length ?? ds.size) * per) : null;
  const curRows = doMmd ? new Float32Array((picked.cur?.length ?? ds.size) * per) : null;
  const gather = (rows: ArrayLike<number> | null, into: Float32Array, c: Chunk, x: Float32Array): void => {
    if (!rows) return into.set(x, c.start * per);
    for (let k = lowerBound(rows, c.start); k < rows.length && rows[k]! < c.start + c.size; k++) into.set(x.subarray((rows[k]! - c.start) * per, (rows[k]! - c.start + 1) * per), k * per);
  };
  const galleryHead = new Float32Array(Math.min(ds.size, 8) * per);
  const hasher = new DatasetHasher(ds.size, ds.itemShape, ds.labels !== null);
  const onProgress = progressReporter('corrupt');
  let seconds = 0;
  let change = 0;
  let nValues = 0;
  // The chunks go through the corruption in order with one generator, so every draw comes in the
  // order the whole set would draw it: the same bytes as corrupting the set at once.
  // Ctrl-C: exit at once (130/143), removing the unfinished temporary output; nothing was written.
  const stop = onInterrupt((sig) => `gauntlet: corrupt interrupted (${sig}); nothing was written`, 0);
  try {
    await withNpzWriter(out, async (w) => {
      const arrays = datasetToArrays({ ...ds, x: new Float32Array(0), metadata: null, size: ds.size } as unknown as Dataset);
      for (const [key, arr] of Object.entries(arrays)) {
        if (key !== 'x') {
          await w.array(key, arr);
          continue;
        }
        await w.begin('x', '<f4', [ds.size, ...ds.itemShape]);
        for await (const c of ds.chunks(chunkItems)) {
          hasher.update(c.x);
          if (c.start < galleryHead.length / per) galleryHead.set(c.x.subarray(0, Math.min(c.x.length, galleryHead.length - c.start * per)), c.start * per);
          const t0 = performance.now();
          const x = applyDrift(chunkDataset(ds, c), { corruption: corruption.name, severity }, drng, { onProgress: onProgress ? (done) => onProgress(c.start + done, ds.size) : undefined }).dataset.x;
          seconds += (performance.now() - t0) / 1000;
          for (let i = 0; i < x.length; i++) change += Math.abs(x[i]! - c.x[i]!);
          nValues += x.length;
          if (refRows && curRows) {
            gather(picked.ref, refRows, c, c.x);
            gather(picked.cur, curRows, c, x);
          }
          await w.write(x);
        }
        await w.end();
      }
    });
  } finally {
    stop.dispose();
  }
  change /= Math.max(nValues, 1);
  const dataSha256 = hasher.digest(ds.labels);
  if (values.gallery !== undefined) {
    const g = corruptionGallery(galleryHead, [galleryHead.length / per, shape[1], shape[2], shape[3]], corruption, rng);
    await writeGalleryPng(values.gallery, g.columns, g.shape);
  }
  const mmd = refRows && curRows ? mmdTest(refRows, curRows, per, distance, { permutations, onProgress: phasedReporter('mmd') }) : null;

  const result = {
    data: ds.name,
    data_sha256: dataSha256,
    corruption: corruption.name,
    severity,
    seed,
    items: ds.size,
    item_shape: ds.itemShape,
    mean_abs_change: change,
    mmd_units: mmd?.units ?? null,
    mmd2: mmd?.mmd2 ?? null,
    mmd_p_value: mmd?.pValue ?? null,
    mmd_bandwidth: mmd?.bandwidth ?? null,
    mmd_items: mmd ? [mmd.nRef, mmd.nCur] : null,
    mmd_permutations: mmd?.permutations ?? null,
    out,
    gallery: values.gallery ?? null,
    seconds,
  };
  if (values.json) {
    process.stdout.write(JSON.stringify(result) + '\n');
    return 0;
  }
  const lines = [
    `data        ${ds.name}  sha256 ${result.data_sha256.slice(0, 16)}…  ${ds.size} images [${ds.itemShape.join(', ')}]`,
    `corruption  ${corruption.name} severity ${severity}  (seed ${seed}, ${fmt(seconds, 2)} s)`,
    `change      mean |Δx| ${fmt(change)}`,
  ];
  if (mmd) lines.push(`distance    MMD² ${fmt(mmd.mmd2, 5)}  p = ${fmt(mmd.pValue)}  (${mmd.permutations} permutations, ${mmd.nRef} vs ${mmd.nCur} images, σ ${fmt(mmd.bandwidth, 3)}, raw units)`);
  lines.push(`out         ${out}`);
  if (values.gallery !== undefined) lines.push(`gallery     ${values.gallery}`);
  process.stdout.write(lines.join('\n') + '\n');
  return 0;
}

/** The items of one chunk as a Dataset (inputs only; the corruption looks at nothing else). */
function chunkDataset(d: ChunkedData, c: Chunk): Dataset {
  return makeDataset({ name: d.name, itemShape: d.itemShape, x: c.x });
}

/** First index k with rows[k] >= v (rows sorted ascending). */
function lowerBound(rows: ArrayLike<number>, v: number): number {
  let lo = 0;
  let hi = rows.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (rows[mid]! < v) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
