/**
 * Dynamic batching: concurrent requests are queued and run as one model call once `maxBatch`
 * items are waiting or the oldest has waited `maxWaitMs`, whichever comes first. One call runs at
 * a time (ONNX Runtime already uses every core for one); a request larger than `maxBatch` runs
 * alone. Each request gets its own rows of the result, or the call's error.
 */
export interface BatchRunner {
  (x: Float32Array, n: number): Promise<{ scores: Float32Array; numClasses: number }>;
}

export interface BatcherOptions {
  /** Most items per model call (default 64). */
  maxBatch?: number;
  /** Longest time the oldest queued request waits for others, in milliseconds (default 2). */
  maxWaitMs?: number;
}

export interface BatcherStats {
  requests: number;
  items: number;
  /** Model calls. */
  batches: number;
  /** Largest number of requests in one call. */
  maxRequestsPerBatch: number;
}

interface Pending {
  x: Float32Array;
  n: number;
  at: number;
  resolve: (r: { scores: Float32Array; numClasses: number }) => void;
  reject: (e: unknown) => void;
}

export class Batcher {
  readonly maxBatch: number;
  readonly maxWaitMs: number;
  private readonly queue: Pending[] = [];
  private queued = 0;
  private running = false;
  private timer: NodeJS.Timeout | null = null;
  private idleWaiters: (() => void)[] = [];
  readonly stats: BatcherStats = { requests: 0, items: 0, batches: 0, maxRequestsPerBatch: 0 };

  constructor(
    private readonly run: BatchRunner,
    opts: BatcherOptions = {},
  ) {
    this.maxBatch = opts.maxBatch ?? 64;
    this.maxWaitMs = opts.maxWaitMs ?? 2;
  }

  /** Queues `n` items (row-major in `x`) and resolves with their outputs. */
  submit(x: Float32Array, n: number): Promise<{ scores: Float32Array; numClasses: number }> {
    return new Promise((resolve, reject) => {
      this.queue.push({ x, n, at: performance.now(), resolve, reject });
      this.queued += n;
      this.schedule();
    });
  }

  /** Resolves once nothing is queued or running. */
  idle(): Promise<void> {
    if (!this.running && this.queue.length === 0) return Promise.resolve();
    return new Promise((r) => this.idleWaiters.push(r));
  }

  private schedule(): void {
    if (this.running || this.queue.length === 0) return;
    const wait = this.queue[0]!.at + this.maxWaitMs - performance.now();
    if (this.queued >= this.maxBatch || wait <= 0) {
      void this.flush();
      return;
    }
    if (!this.timer) {
      this.timer = setTimeout(() => {
        this.timer = null;
        this.schedule();
      }, wait);
    }
  }

  private async flush(): Promise<void> {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    // Requests whose items differ in size (symbolic input dims) never share a call.
    const per = (p: Pending): number => (p.n > 0 ? p.x.length / p.n : 0);
    const first = this.queue.shift()!;
    const take: Pending[] = [first];
    let items = first.n;
    for (let i = 0; i < this.queue.length && items < this.maxBatch; ) {
      const p = this.queue[i]!;
      if (items + p.n <= this.maxBatch && per(p) === per(first)) {
        take.push(p);
        items += p.n;
        this.queue.splice(i, 1);
      } else i++;
    }
    this.queued -= items;
    this.running = true;
    this.stats.requests += take.length;
    this.stats.items += items;
    this.stats.batches++;
    this.stats.maxRequestsPerBatch = Math.max(this.stats.maxRequestsPerBatch, take.length);
    try {
      let x: Float32Array;
      if (take.length === 1) x = take[0]!.x;
      else {
        x = new Float32Array(take.reduce((s, p) => s + p.x.length, 0));
        let o = 0;
        for (const p of take) {
          x.set(p.x, o);
          o += p.x.length;
        }
      }
      const r = await this.run(x, items);
      const k = r.numClasses;
      let row = 0;
      for (const p of take) {
        p.resolve({ scores: r.scores.slice(row * k, (row + p.n) * k), numClasses: k });
        row += p.n;
      }
    } catch (e) {
      for (const p of take) p.reject(e);
    } finally {
      this.running = false;
      if (this.queue.length > 0) this.schedule();
      else for (const w of this.idleWaiters.splice(0)) w();
    }
  }
}
