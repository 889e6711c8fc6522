/**
 * HTTP for endpoint models: one request with a time limit, retried with exponential backoff on
 * 429, 5xx and network failures (bounded count and delay), failures named with the HTTP status
 * and the server's `error` text. Counts requests, retries, failures, bytes and latencies.
 */
import { ModelError } from '../errors.js';

/** A deployed model could not answer: the message names the URL, the HTTP status (when there was one) and the server's `error` text. */
export class EndpointError extends ModelError {
  constructor(
    message: string,
    /** The HTTP status of the last answer, or null when there was none (refused, reset, timed out). */
    readonly status: number | null,
  ) {
    super(message);
  }
}

export interface ClientOptions {
  headers?: Record<string, string>;
  timeoutMs: number;
  retries: number;
}

export interface ClientStats {
  /** HTTP requests sent (retries included). */
  requests: number;
  /** Requests that got 429/5xx or no answer and were sent again. */
  retries: number;
  /** Failed attempts (any non-2xx answer or no answer), retried or not. */
  errors: number;
  /** Failed attempts by HTTP status, or 'network' / 'timeout'. */
  errorsBy: Record<string, number>;
  bytesSent: number;
  bytesReceived: number;
  /** Wall milliseconds of each successful request. */
  latencyMs: number[];
}

export interface HttpAnswer {
  status: number;
  headers: Headers;
  body: Buffer;
}

const BACKOFF_START_MS = 100;
const BACKOFF_MAX_MS = 2000;

export class EndpointClient {
  readonly stats: ClientStats = { requests: 0, retries: 0, errors: 0, errorsBy: {}, bytesSent: 0, bytesReceived: 0, latencyMs: [] };

  constructor(private readonly opts: ClientOptions) {}

  /** GET or POST `url`; resolves with a 2xx answer or throws an EndpointError after the retries. */
  async request(method: 'GET' | 'POST', url: string, body?: Buffer, headers: Record<string, string> = {}): Promise<HttpAnswer> {
    const { retries, timeoutMs } = this.opts;
    for (let attempt = 0; ; attempt++) {
      const t0 = performance.now();
      this.stats.requests++;
      let failure: { text: string; status: number | null; retriable: boolean; retryAfterMs: number | null };
      try {
        const res = await fetch(url, {
          method,
          headers: { ...this.opts.headers, ...headers },
          body: body as unknown as BodyInit | undefined,
          signal: AbortSignal.timeout(timeoutMs),
        });
        const buf = Buffer.from(await res.arrayBuffer());
        this.stats.bytesSent += body?.length ?? 0;
        this.stats.bytesReceived += buf.length;
        if (res.ok) {
          this.stats.latencyMs.push(performance.now() - t0);
          return { status: res.status, headers: res.headers, body: buf };
        }
        const retryAfter = Number(res.headers.get('retry-after'));
        failure = {
          text: `HTTP ${res.status}${res.statusText ? ` ${res.statusText}` : ''}${serverError(buf)}`,
          status: res.status,
          retriable: res.status === 429 || res.status >= 500,
          retryAfterMs: Number.isFinite(retryAfter) && retryAfter >= 0 ? retryAfter * 1000 : null,
        };
        this.count(String(res.status));
      } catch (e) {
        const err = e as Error & { cause?: { code?: string; message?: string } };
        const timedOut = err.name === 'TimeoutError' || err.name === 'AbortError';
        const cause = err.cause?.code ?? err.cause?.message ?? err.message;
        failure = { text: timedOut ? `no answer within ${timeoutMs} ms` : `no answer (${cause})`, status: null, retriable: true, retryAfterMs: null };
        this.count(timedOut ? 'timeout' : 'network');
      }
      if (!failure.retriable || attempt >= retries) {
        const tries = attempt + 1;
        throw new EndpointError(`${method} ${url}: ${failure.text}${tries > 1 ? ` (after ${tries} attempts)` : ''}`, failure.status);
      }
      this.stats.retries++;
      const backoff = Math.min(BACKOFF_START_MS * 2 ** attempt, BACKOFF_MAX_MS);
      await new Promise((r) => setTimeout(r, Math.min(Math.max(backoff, failure.retryAfterMs ?? 0), BACKOFF_MAX_MS * 2)));
    }
  }

  private count(key: string): void {
    this.stats.errors++;
    this.stats.errorsBy[key] = (this.stats.errorsBy[key] ?? 0) + 1;
  }
}

/** The server's `{"error": "..."}` text, as `: text`, or the body's first line when it is not JSON. */
function serverError(body: Buffer): string {
  const text = body.toString('utf8').trim();
  if (!text) return '';
  try {
    const j = JSON.parse(text) as { error?: unknown };
    if (j && typeof j.error === 'string') return `: ${j.error}`;
  } catch {
    /* not JSON */
  }
  const line = text.split('\n')[0]!;
  return `: ${line.length > 200 ? line.slice(0, 197) + '...' : line}`;
}
