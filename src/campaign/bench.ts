/**
 * What the cells of one campaign share, and the one way a cell is run: a local run's loop
 * (runner.ts) and a queue worker (remote.ts) both call `CellBench.run`, so a cell computes the same
 * bytes wherever it runs. The bench holds the data facts computed once for every model (bootstrap
 * resamples, tabular constraints) and builds each model's context once (clean predictions, the
 * uncertainty section fitted on them).
 */
import { batchAligned, defaultChunkItems } from '../data/chunked.js';
import type { Dataset } from '../data/dataset.js';
import { featureIndices, isTabular } from '../data/features.js';
import type { Classifier } from '../engine/classifier.js';
import { toProbabilities } from '../metrics/classification.js';
import { bootstrapWeights, type ResampleWeights } from '../metrics/suite.js';
import { Rng } from '../rng.js';
import { featureStd, tabularConstraints } from '../stress/adversarial/index.js';
import { prepareUncertainty, type UncertaintyContext } from '../uncertainty/index.js';
import type { Predictions } from '../engine/model.js';
import type { CleanSource } from './source.js';
import { newCellCaches, predictAll, runCell, type CellContext } from './cell.js';
import type { CampaignConfig } from './config.js';
import { isTrainTime } from './config.js';
import { shortHash, type CellPlan, type Plan } from './plan.js';
import { openCellEmbedding } from './text.js';
import type { CellResult } from './types.js';

/** A model trained on a training-time annotation setting's labels, which runs that setting's cells. */
export interface CellArm {
  name: string;
  model: Classifier;
}

export interface ModelContext {
  ctx: CellContext;
  unc: UncertaintyContext | null;
  K: number;
}

export class CellBench {
  readonly root: Rng;
  readonly weights: ResampleWeights[];
  readonly counters = { forwardBatches: 0, gradientBatches: 0 };
  private readonly tabular: CellContext['tabular'];
  private readonly contexts = new Map<Classifier, Promise<ModelContext>>();

  constructor(
    readonly config: CampaignConfig,
    readonly ds: Dataset,
    readonly plan: Plan,
    private readonly phase: (message: string) => void = () => {},
    /** Items per chunk for streamed cells (stream.ts; default about 4 MB of float32 inputs); 0 computes every input set whole. */
    private readonly chunkItems: number = defaultChunkItems(ds.itemShape),
    /** The clean inputs read from the file in chunks (./source.ts); null: `ds.x` holds them. */
    private readonly source: CleanSource | null = null,
  ) {
    this.root = new Rng(config.seed);
    this.weights = bootstrapWeights(ds.size, config.bootstrap, this.root.fork('bootstrap'));
    // Tabular data: the declared immutable features never move (attacks and value-changing shifts),
    // attacks keep integer features frozen and each feature in its observed range (as `gauntlet
    // attack` does), and an ε in std units uses the clean set's σ in every cell, drifted or not.
    // Facts about the data, computed once for every model.
    const tabular = isTabular(ds);
    const immutable = config.data.immutable ? featureIndices(ds, config.data.immutable, 'data.immutable') : [];
    this.tabular = {
      immutable,
      constraints: tabular ? tabularConstraints(ds, { immutable, continuous: config.data.continuous }) : undefined,
      std: tabular ? featureStd(ds.x, ds.size, ds.x.length / Math.max(1, ds.size)) : undefined,
    };
  }

  /**
   * A model's cell as it runs: a variant's (or a training-time) cell has its own id and a hash that
   * includes the model it runs, so a changed model is recomputed. `arms` are the models trained on
   * this model's training-time settings, by setting key.
   */
  cellFor(planned: CellPlan, m: Classifier, variant: string | null, arms: ReadonlyMap<string, CellArm>): { arm: CellArm | null; cell: CellPlan } {
    const arm = planned.annotation && isTrainTime(planned.annotation.spec) ? arms.get(planned.annotation.key)! : null;
    const cellModel = arm ? arm.model : m;
    const id = variant ? `${variant}--${planned.id}` : planned.id;
    return { arm, cell: variant || arm ? { ...planned, id, hash: shortHash(`${cellModel.sha256}|${planned.hash}`) } : planned };
  }

  /** A model's context for cells (built once): its clean predictions and the uncertainty section fitted on them. */
  context(m: Classifier, tag: string | null): Promise<ModelContext> {
    let c = this.contexts.get(m);
    if (!c) this.contexts.set(m, (c = this.buildContext(m, tag)));
    return c;
  }

  /**
   * Runs one planned cell on model `m` (or on its arm, for a training-time setting's cell), compared
   * with `baseline` (the model's baseline cell, null for the baseline itself).
   */
  async run(planned: CellPlan, m: Classifier, variant: string | null, arms: ReadonlyMap<string, CellArm>, baseline: CellResult | null): Promise<CellResult> {
    const { arm, cell } = this.cellFor(planned, m, variant, arms);
    const { ctx } = arm ? await this.context(arm.model, arm.name) : await this.context(m, variant);
    return runCell(ctx, cell, baseline);
  }

  async close(): Promise<void> {
    for (const c of this.contexts.values()) {
      const { unc, ctx } = await c.catch(() => ({ unc: null, ctx: null }));
      await unc?.close();
      await ctx?.embedding?.view.close();
    }
    this.contexts.clear();
  }

  /** Items per chunk of streamed passes: `chunkItems` in whole batches (0: inputs held whole). */
  private get streamChunk(): number {
    return this.chunkItems > 0 ? batchAligned(this.chunkItems, this.config.batchSize) : 0;
  }

  /** The clean predictions from the source chunk by chunk (row by row, so the scores of one pass), each chunk checked against the model. */
  private async predictChunked(m: Classifier): Promise<{ scores: Float32Array; numClasses: number; kind: Predictions['kind']; batchMs: number[] }> {
    const { ds, config } = this;
    const cursor = this.source!.cursor();
    let scores: Float32Array | null = null;
    let K = 0;
    let kind: Predictions['kind'] = 'logits';
    const batchMs: number[] = [];
    const chunk = this.streamChunk;
    for (let s = 0; s < ds.size; s += chunk) {
      const e = Math.min(ds.size, s + chunk);
      const x = await cursor.read(s, e);
      const r = await predictAll(m, x, e - s, ds.itemShape, config.batchSize, this.counters);
      m.checkData({ ...ds, x, size: e - s, labels: ds.labels!.subarray(s, e), ids: null }, r.numClasses);
      scores ??= new Float32Array(ds.size * (K = r.numClasses));
      scores.set(r.scores, s * K);
      kind = r.kind;
      batchMs.push(...r.batchMs);
    }
    await cursor.close();
    return { scores: scores ?? new Float32Array(0), numClasses: K, kind, batchMs };
  }

  private async buildContext(m: Classifier, tag: string | null): Promise<ModelContext> {
    const { config, ds } = this;
    const labels = ds.labels!;
    this.phase(`clean predictions${tag ? ` (${tag})` : ''}`);
    const clean = this.source ? await this.predictChunked(m) : await predictAll(m, ds.x, ds.size, ds.itemShape, config.batchSize, this.counters);
    const K = clean.numClasses;
    if (!this.source) m.checkData(ds, K);
    const cleanProbs = toProbabilities(clean.scores, K, clean.kind);
    let unc: UncertaintyContext | null = null;
    if (config.uncertainty) {
      this.phase(`fitting temperature, conformal quantile and selective threshold on clean data${tag ? ` (${tag})` : ''}`);
      unc = await prepareUncertainty(m, { x: ds.x, n: ds.size, labels, probs: cleanProbs }, config.uncertainty, this.root.fork('uncertainty'), { batchSize: config.batchSize });
    }
    // A text model (wrt: embedding): its attacks run on the embeddings, projected back to tokens.
    const embedding = config.stresses.adversarial.length ? await openCellEmbedding(m, config.seed) : null;
    const ctx: CellContext = {
      model: m,
      data: ds,
      source: this.source,
      labels,
      numClasses: K,
      clean: { probs: cleanProbs, batchMs: clean.batchMs },
      rng: this.root,
      weights: this.weights,
      options: { batchSize: config.batchSize, bootstrap: config.bootstrap, abstainBelow: config.abstainBelow, explain: config.explain, chunkItems: this.streamChunk },
      uncertainty: unc,
      caches: newCellCaches(),
      counters: this.counters,
      tabular: this.tabular,
      embedding,
    };
    return { ctx, unc, K };
  }
}
