/**
 * An attack on a set too large to hold whole: `runAttackChunked` attacks it chunk by chunk with
 * `runAttack` and merges what the chunks return into the result of one attack on the whole set —
 * the same adversarial inputs, per-sample results, aggregates, members and flags — while only one
 * chunk's inputs are in memory. Every sample draws from its own stream, named by its index in the
 * whole set (`indexOffset`), so no draw depends on the chunking; the aggregates are taken over the
 * per-sample results in item order, as `finishEps` takes them. What does depend on the chunking is
 * the accounting: a chunk ends with a partial batch, so `gradientBatches`/`forwardBatches` (and the
 * times) count the batches that actually ran.
 *
 * Example (what a campaign cell does):
 *   const r = await runAttackChunked(model, n, labels, spec, rng.fork('adversarial|…'), {
 *     chunkItems: 1024,
 *     read: (start, end) => inputs.subarray(start * per, end * per),
 *     write: (start, adv) => predictAndForget(start, adv),
 *   });
 */
import type { Classifier } from '../../engine/classifier.js';
import { UsageError } from '../../errors.js';
import type { Rng } from '../../rng.js';
import { runAttack, summarizeAttack, type RunAttackOptions } from './index.js';
import { aggregateOf, EngineCache, flagsOf } from './runner.js';
import type { AttackDiagnostics, AttackResult, AttackSpec, EpsResult, MemberSummary, SampleResults } from './types.js';

/** A chunked attack's result: an `AttackResult` without the adversarial inputs (they went to `write`). */
export type ChunkedAttackResult = Omit<AttackResult, 'adversarial' | 'perEps'> & { perEps: Omit<EpsResult, 'adversarial'>[] };

export interface ChunkSource {
  /** Items per chunk (≥ 1). */
  chunkItems: number;
  /** The data-domain inputs of items [start, end), called once per chunk in order. */
  read(start: number, end: number): Float32Array | Promise<Float32Array>;
  /** Receives the adversarial inputs (largest ε) of the chunk at `start`, in order. */
  write(start: number, adversarial: Float32Array): void | Promise<void>;
}

/** `runAttack` on `n` items read and written chunk by chunk; see the file comment for what is identical. */
export async function runAttackChunked(model: Classifier, n: number, labels: Int32Array, spec: AttackSpec, rng: Rng, opts: Omit<RunAttackOptions, 'indexOffset'>, src: ChunkSource): Promise<ChunkedAttackResult> {
  const t0 = performance.now();
  if (!(Number.isInteger(src.chunkItems) && src.chunkItems >= 1)) throw new UsageError(`'chunkItems' must be a positive integer, got ${src.chunkItems}`);
  if (labels.length !== n) throw new UsageError(`${labels.length} labels for ${n} inputs`);
  const engines = opts.engines ?? new EngineCache(model);
  const parts: AttackResult[] = [];
  try {
    for (let s = 0; s < n || (n === 0 && parts.length === 0); s += src.chunkItems) {
      const e = Math.min(n, s + src.chunkItems);
      const x = await src.read(s, e);
      const progress = opts.onProgress;
      const r = await runAttack(model, x, e - s, labels.subarray(s, e), spec, rng, {
        ...opts,
        engines,
        indexOffset: s,
        onProgress: progress ? (done, total) => progress(s * (total / Math.max(1, e - s)) + done, n * (total / Math.max(1, e - s))) : undefined,
      });
      await src.write(s, r.adversarial);
      // Keep what the merge needs, not the chunk's inputs.
      parts.push({ ...r, adversarial: new Float32Array(0), perEps: r.perEps.map((p) => ({ ...p, adversarial: new Float32Array(0) })) });
      if (n === 0) break;
    }
  } finally {
    if (!opts.engines) await engines.close();
  }
  return mergeChunks(parts, labels, (performance.now() - t0) / 1000);
}

/** One attack's result from its chunks' (in item order). */
export function mergeChunks(parts: readonly AttackResult[], labels: Int32Array, seconds: number): ChunkedAttackResult {
  const first = parts[0]!;
  const attackable = cat(parts.map((p) => p.attackable), Uint8Array);
  const perEps = first.perEps.map((pe, k) => {
    const samples = catSamples(parts.map((p) => p.perEps[k]!.samples));
    const norms = { linf: cat(parts.map((p) => p.perEps[k]!.norms.linf), Float64Array), l2: cat(parts.map((p) => p.perEps[k]!.norms.l2), Float64Array) };
    const secs = parts.reduce((a, p) => a + p.perEps[k]!.aggregate.seconds, 0);
    return { eps: pe.eps, samples, norms, aggregate: aggregateOf(pe.eps, samples, norms, labels, attackable, secs) };
  });
  const members = new Map<string, MemberSummary>();
  for (const p of parts) {
    for (const m of p.members) {
      const t = members.get(m.name);
      members.set(m.name, t ? { name: m.name, attacked: t.attacked + m.attacked, broken: t.broken + m.broken, seconds: t.seconds + m.seconds } : { ...m });
    }
  }
  const diagnostics = mergeDiagnostics(parts.map((p) => p.diagnostics));
  const last = perEps[perEps.length - 1]!;
  const sum = (f: (p: AttackResult) => number) => parts.reduce((a, p) => a + f(p), 0);
  const result = {
    spec: first.spec,
    epsUnits: first.epsUnits,
    featureStd: first.featureStd,
    eps: first.eps,
    samples: last.samples,
    minEps: cat(parts.map((p) => p.minEps), Float64Array),
    aggregate: last.aggregate,
    perEps,
    members: [...members.values()],
    // runAttack reports white-box flags (its `run.flags(true)`).
    flags: flagsOf(diagnostics, true),
    gradientBatches: sum((p) => p.gradientBatches),
    forwardBatches: sum((p) => p.forwardBatches),
    ortSeconds: sum((p) => p.ortSeconds),
    seconds,
    attackable,
    diagnostics,
  };
  return { ...result, summary: summarizeAttack(result) };
}

/** The diagnostics of the whole set from its chunks': counts add, the largest difference wins, flags keep first-raised order. */
export function mergeDiagnostics(ds: readonly AttackDiagnostics[]): AttackDiagnostics {
  const wins = new Map<number, number>();
  for (const d of ds) for (const w of d.blackBoxWins) wins.set(w.eps, (wins.get(w.eps) ?? 0) + w.broke);
  const other = new Map<string, string>();
  for (const d of ds) for (const [k, v] of d.other) if (!other.has(k)) other.set(k, v);
  return {
    attacked: ds.reduce((a, d) => a + d.attacked, 0),
    randomisedDiff: ds.reduce((a, d) => Math.max(a, d.randomisedDiff), 0),
    zeroGrad: ds.reduce((a, d) => a + d.zeroGrad, 0),
    nonFinite: ds.reduce((a, d) => a + d.nonFinite, 0),
    lossesUsed: [...new Set(ds.flatMap((d) => d.lossesUsed))],
    probabilities: ds.some((d) => d.probabilities),
    mismatchLost: ds.reduce((a, d) => a + d.mismatchLost, 0),
    mismatchGained: ds.reduce((a, d) => a + d.mismatchGained, 0),
    blackBoxWins: [...wins.entries()].map(([eps, broke]) => ({ eps, broke })),
    other: [...other.entries()],
  };
}

function catSamples(ss: readonly SampleResults[]): SampleResults {
  return {
    cleanCorrect: cat(ss.map((s) => s.cleanCorrect), Uint8Array),
    success: cat(ss.map((s) => s.success), Uint8Array),
    predicted: cat(ss.map((s) => s.predicted), Int32Array),
    linf: cat(ss.map((s) => s.linf), Float32Array),
    l2: cat(ss.map((s) => s.l2), Float32Array),
    iterations: cat(ss.map((s) => s.iterations), Int32Array),
    queries: cat(ss.map((s) => s.queries), Int32Array),
  };
}

type Typed = Uint8Array | Int32Array | Float32Array | Float64Array;
function cat<T extends Typed>(arrays: readonly T[], Ctor: { new (n: number): T }): T {
  const out = new Ctor(arrays.reduce((a, x) => a + x.length, 0));
  let o = 0;
  for (const a of arrays) {
    (out as unknown as { set(a: ArrayLike<number>, o: number): void }).set(a, o);
    o += a.length;
  }
  return out;
}
