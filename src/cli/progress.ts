/**
 * Progress on the terminal: one self-overwriting stderr line per task — label, done/total, percent,
 * elapsed time and an ETA from the rate so far — ended by a newline when the task completes.
 *
 * Drawn only when stderr is a terminal, and only once a task has run for half a second, so piped
 * output and quick commands stay clean. The environment variable GAUNTLET_PROGRESS overrides that:
 * `1` draws on any stream from the first update (tests, logs), `0` never draws. The library never prints: its long calls take `onProgress(done, total)` callbacks,
 * and the CLI passes `progressReporter(label)` (or a `ProgressLine`'s `update`) as that callback.
 *
 * Example:
 *   const line = new ProgressLine('attack');
 *   await runAttack(model, x, n, labels, spec, rng, { onProgress: line.update });
 *   // attack  1200/2000  60%  0:41 elapsed  ETA 0:27
 */
import type { CampaignEvent } from '../campaign/runner.js';

/** Where the line is drawn: process.stderr, or a fake in tests. */
export interface ProgressStream {
  write(s: string): unknown;
  readonly isTTY?: boolean;
  readonly columns?: number;
}

export interface ProgressOptions {
  /** Default process.stderr. */
  stream?: ProgressStream;
  /** Milliseconds clock; default `performance.now`. */
  now?: () => number;
  /** Draw at all; default: the stream is a terminal, overridden by GAUNTLET_PROGRESS=1/0. */
  enabled?: boolean;
  /** Least time between two redraws in ms (the final line is always drawn); default 200. */
  intervalMs?: number;
  /** Items (not counting skipped ones) done before an ETA is shown; default 3. */
  minItems?: number;
  /** Milliseconds elapsed before an ETA is shown; default 1000. */
  minMs?: number;
  /** Redraw this often (ms) between updates, so elapsed time and ETA keep moving during long items; default 0 (off). */
  tickMs?: number;
  /** Nothing is drawn before this many ms have passed, so quick tasks print nothing at all; default 500 (0 under GAUNTLET_PROGRESS=1). */
  delayMs?: number;
}

/** Whether progress is drawn on `stream` by default: its isTTY, unless GAUNTLET_PROGRESS says otherwise. */
export function progressEnabled(stream: ProgressStream = process.stderr, env: NodeJS.ProcessEnv = process.env): boolean {
  if (progressForced(env)) return true;
  if (env.GAUNTLET_PROGRESS === '0' || env.GAUNTLET_PROGRESS === 'false') return false;
  return stream.isTTY === true;
}

/** GAUNTLET_PROGRESS=1: draw on any stream, from the first update (no quiet start). */
function progressForced(env: NodeJS.ProcessEnv = process.env): boolean {
  return env.GAUNTLET_PROGRESS === '1' || env.GAUNTLET_PROGRESS === 'true';
}

/** A duration for humans: `42s`, `3:07`, `1:02:09`. */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '?';
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`;
}

/** The open line, if any, so an error message can start on a fresh line. */
let openLine: ProgressLine | null = null;

/** Ends a half-drawn progress line with a newline (call before printing an error). */
export function breakProgressLine(): void {
  openLine?.break();
}

export class ProgressLine {
  readonly label: string;
  readonly enabled: boolean;
  private readonly stream: ProgressStream;
  private readonly now: () => number;
  private readonly intervalMs: number;
  private readonly minItems: number;
  private readonly minMs: number;
  private readonly delayMs: number;
  private readonly tickMs: number;
  private ticker: ReturnType<typeof setInterval> | null = null;
  private start: number;
  private lastDraw = -Infinity;
  private done = 0;
  private total = 0;
  private skipped = 0;
  private detail = '';
  private drawn = false;
  private finished = false;

  constructor(label: string, opts: ProgressOptions = {}) {
    this.label = label;
    this.stream = opts.stream ?? process.stderr;
    this.enabled = opts.enabled ?? progressEnabled(this.stream);
    this.now = opts.now ?? (() => performance.now());
    this.intervalMs = opts.intervalMs ?? 200;
    this.minItems = opts.minItems ?? 3;
    this.minMs = opts.minMs ?? 1000;
    this.delayMs = opts.delayMs ?? (progressForced() ? 0 : 500);
    this.tickMs = opts.tickMs ?? 0;
    this.start = this.now();
  }

  /** Records progress (an `onProgress` callback); redraws at most every intervalMs, always at the end. */
  readonly update = (done: number, total: number): void => {
    if (!this.enabled) return;
    const t = this.now();
    if (this.finished) {
      // a later task on the same line (rare): start afresh
      if (done >= total) return;
      this.finished = false;
      this.start = t;
      this.skipped = 0;
    }
    this.done = done;
    this.total = total;
    if (done >= total) {
      // the final line only closes a line that was drawn: a quick task prints nothing
      if (this.drawn) this.draw(t, true);
      this.finished = true;
      this.stopTicker();
      if (openLine === this) openLine = null;
      return;
    }
    if (t - this.start >= this.delayMs && t - this.lastDraw >= this.intervalMs) this.draw(t, false);
  };

  /** Counts `n` items as done that took no time (resumed from a checkpoint): they do not enter the rate. */
  skip(n: number, total: number): void {
    if (!this.enabled) return;
    this.skipped += n;
    this.update(this.done + n, total);
  }

  /** Sets the text after the numbers (e.g. the item in progress) and redraws (unless `redraw` is false). */
  setDetail(text: string, redraw = true): void {
    this.detail = text;
    if (redraw && this.enabled && this.drawn) this.draw(this.now(), false);
  }

  /** Prints a whole line above the progress line (which is redrawn below it). */
  log(text: string): void {
    if (!this.enabled) return;
    const redraw = this.drawn;
    this.stream.write(`${redraw ? '\r\x1b[K' : ''}${text}\n`);
    this.drawn = false;
    if (redraw && !this.finished) this.draw(this.now(), false);
  }

  /** Ends the line with a newline now, whatever the count (e.g. on an error). */
  break(): void {
    if (this.drawn) this.stream.write('\n');
    this.drawn = false;
    this.stopTicker();
    if (openLine === this) openLine = null;
  }

  private stopTicker(): void {
    if (this.ticker) clearInterval(this.ticker);
    this.ticker = null;
  }

  /** The text of the line at time `t` (ms). */
  text(t: number, final: boolean): string {
    const elapsed = t - this.start;
    const pct = this.total > 0 ? Math.floor((100 * Math.min(this.done, this.total)) / this.total) : 100;
    const parts = [this.label, `${this.done}/${this.total}`, `${pct}%`];
    if (final) parts.push(`done in ${formatDuration(elapsed)}`);
    else {
      parts.push(`${formatDuration(elapsed)} elapsed`);
      const computed = this.done - this.skipped;
      if (computed >= this.minItems && elapsed >= this.minMs) parts.push(`ETA ${formatDuration((elapsed / computed) * (this.total - this.done))}`);
    }
    if (this.detail && !final) parts.push(this.detail);
    return parts.join('  ');
  }

  private draw(t: number, final: boolean): void {
    this.lastDraw = t;
    let s = this.text(t, final);
    const cols = this.stream.columns;
    if (cols && cols > 10 && s.length > cols - 1) s = s.slice(0, cols - 2) + '…';
    this.stream.write(`\r\x1b[K${s}${final ? '\n' : ''}`);
    this.drawn = !final;
    if (final) {
      this.finished = true;
      this.stopTicker();
      if (openLine === this) openLine = null;
    } else {
      openLine = this;
      if (this.tickMs > 0 && !this.ticker) {
        this.ticker = setInterval(() => this.drawn && this.draw(this.now(), false), this.tickMs);
        this.ticker.unref();
      }
    }
  }
}

/**
 * An `onProgress(done, total)` callback that draws a ProgressLine labelled `label` on stderr, or
 * does nothing when progress is off (stderr not a terminal, GAUNTLET_PROGRESS=0).
 */
export function progressReporter(label: string, enabled?: boolean, opts: Omit<ProgressOptions, 'enabled'> = {}): (done: number, total: number) => void {
  const line = new ProgressLine(label, { ...opts, enabled });
  return line.enabled ? line.update : () => {};
}

/** What `campaignProgress` prints through when progress is off (stderr lines). */
export type LogLine = (s: string) => void;

function fix(v: number, digits: number): string {
  return Number.isFinite(v) ? v.toFixed(digits) : String(v);
}

/**
 * The `run` verb's event handler. On a terminal: one line per finished cell, under a progress line
 * of cells done/total with an ETA from the cells computed so far (checkpointed cells count as done
 * but not towards the rate) and the cell or phase in progress. Elsewhere: the same per-cell lines
 * and the phases, as plain log lines.
 */
export function campaignProgress(log: LogLine = (s) => process.stderr.write(s + '\n'), opts: ProgressOptions = {}): (e: CampaignEvent) => void {
  const line = new ProgressLine('cells', { minItems: 1, tickMs: 1000, ...opts });
  const now = opts.now ?? (() => performance.now());
  let finished = 0;
  let computed = 0;
  let started = now();
  return (e) => {
    if (e.type === 'plan') {
      started = now();
      const total = e.total ?? e.plan.cells.length;
      const msg = e.resumed ? `resuming: ${e.resumed} of ${total} cells already done` : '';
      if (line.enabled) {
        if (msg) line.log(msg);
        line.update(0, total);
      } else if (msg) log(msg);
    } else if (e.type === 'phase') {
      if (line.enabled) line.setDetail(`${e.message} …`);
      else log(`… ${e.message}`);
    } else if (e.type === 'training') {
      const p = e.progress;
      const where = `${p.members ? `member ${p.member! + 1}/${p.members} ` : ''}epoch ${p.epoch}/${p.epochs}`;
      if (line.enabled) line.setDetail(`training ${e.variant}: ${where} step ${p.step}/${p.stepsPerEpoch} …`);
      else if (p.step === p.stepsPerEpoch) log(`… training ${e.variant}: ${where} done, loss ${fix(p.loss, 4)}`);
    } else if (e.type === 'cell_start') {
      if (line.enabled) line.setDetail(`${e.cell.id} …`);
    } else if (e.type === 'cell_done') {
      finished++;
      if (!e.cached) computed++;
      const text = `[${finished}/${e.total}] ${e.cell.id.padEnd(18)} accuracy ${fix(e.result.metrics.accuracy.value, 4)}${e.cached ? ' (checkpoint)' : ` ${fix(e.result.performance.seconds, 1)} s`}`;
      if (!line.enabled) {
        const left = e.total - finished;
        return log(left > 0 && computed > 0 ? `${text}  ETA ${formatDuration(((now() - started) / computed) * left)}` : text);
      }
      line.setDetail('', false);
      line.log(text);
      if (e.cached) line.skip(1, e.total);
      else line.update(finished, e.total);
    }
  };
}

/**
 * An `onProgress(done, total, phase?)` callback for a library call with named phases (e.g. MMD's
 * distances, then permutations): each phase gets its own line, labelled `label phase`.
 */
export function phasedReporter(label: string, opts: ProgressOptions = {}): (done: number, total: number, phase?: string) => void {
  const lines = new Map<string, ProgressLine>();
  return (done, total, phase = '') => {
    let line = lines.get(phase);
    if (!line) lines.set(phase, (line = new ProgressLine(phase ? `${label} ${phase}` : label, opts)));
    line.update(done, total);
  };
}
