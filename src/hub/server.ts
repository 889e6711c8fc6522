/**
 * The hub: a read-only HTTP server over the registry, on node:http (a dozen GET routes need no
 * framework: no dependency to keep up to date, nothing between the registry and the socket).
 *
 * Pages: /  (runs: filter, sort, status, budgets), /runs/ID (a run, its report embedded),
 * /runs/ID/report, /models, /models/NAME (history charts with CI bands), /compare?a=&b=, /budgets.
 * JSON: /api/runs (?model, since, kind, status, limit), /api/runs/ID, /api/models,
 * /api/models/NAME/history, /api/compare?a=&b=, /api/budgets.
 *
 * Only GET and HEAD; every page carries a Content-Security-Policy; on a loopback address, requests
 * whose Host header names another host are refused (DNS rebinding).
 */
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import type { CampaignResults } from '../campaign/types.js';
import { GauntletError } from '../errors.js';
import { compareRuns } from '../report/compare.js';
import { htmlReport, normaliseResults } from '../report/index.js';
import { RUN_KINDS, type Registry, type RunFilter, type RunRecord } from '../registry/types.js';
import { sinceToIso } from '../registry/options.js';
import { budgetsPage, comparePage, errorPage, historyPage, HUB_CSP, modelsPage, runPage, runsPage } from './pages.js';

export interface HubOptions {
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 8080; 0 picks a free port. */
  port?: number;
  /** Bootstrap resamples of the compare page's paired test (default 1000). */
  bootstrap?: number;
}

export interface Hub {
  readonly url: string;
  readonly server: http.Server;
  close(): Promise<void>;
}

class HttpError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);

export function isLoopback(host: string): boolean {
  return LOOPBACK.has(host) || /^127\./.test(host);
}

function hostAllowed(header: string | undefined, bound: string): boolean {
  if (!isLoopback(bound)) return true;
  if (!header) return false;
  const name = header.startsWith('[') ? header.slice(1, header.indexOf(']')) : header.replace(/:\d+$/, '');
  return isLoopback(name);
}

function send(res: http.ServerResponse, status: number, type: string, body: string | Buffer, csp = HUB_CSP): void {
  res.writeHead(status, {
    'content-type': type,
    'content-length': Buffer.byteLength(body),
    'content-security-policy': csp,
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
    'cache-control': 'no-store',
  });
  res.end(res.req.method === 'HEAD' ? undefined : body);
}

const json = (res: http.ServerResponse, status: number, v: unknown) =>
  send(res, status, 'application/json; charset=utf-8', JSON.stringify(v, (_k, x: unknown) => (typeof x === 'number' && !Number.isFinite(x) ? null : x)) + '\n');

async function runOr404(reg: Registry, id: string): Promise<RunRecord> {
  const r = await reg.get(id);
  if (!r) throw new HttpError(404, `no run '${id}'`);
  return r;
}

async function resultsOf(reg: Registry, r: RunRecord): Promise<CampaignResults> {
  if (r.kind !== 'run') throw new HttpError(400, `run ${r.id} is a '${r.kind}' run; only campaign runs ('gauntlet run') compare`);
  const res = (await reg.results(r.id)) as CampaignResults | null;
  if (!res) throw new HttpError(404, `run ${r.id} has no stored results`);
  return res;
}

/** The run's report.html when its run directory still holds it, else null. */
function reportFile(r: RunRecord): string | null {
  const a = r.artifacts.find((x) => x.name === 'report.html');
  return a && fs.existsSync(a.path) && path.basename(a.path) === 'report.html' ? a.path : null;
}

function filterOf(sp: URLSearchParams): RunFilter & { sinceText?: string } {
  const f: RunFilter & { sinceText?: string } = {};
  const model = sp.get('model');
  if (model) f.model = model;
  const kind = sp.get('kind');
  if (kind) {
    if (!(RUN_KINDS as readonly string[]).includes(kind)) throw new HttpError(400, `'kind' must be one of ${RUN_KINDS.join(', ')}`);
    f.kind = kind as RunFilter['kind'];
  }
  const status = sp.get('status');
  if (status) {
    if (status !== 'passed' && status !== 'failed') throw new HttpError(400, `'status' must be passed or failed`);
    f.status = status;
  }
  const since = sp.get('since');
  if (since) {
    if (!/^\d+(\.\d+)?[smhdw]$/.test(since) && (!/^\d{4}-\d{2}-\d{2}/.test(since) || Number.isNaN(Date.parse(since)))) throw new HttpError(400, `'since' must be an ISO date (2026-12-01) or an age (7d, 12h)`);
    f.since = sinceToIso(since);
    f.sinceText = since;
  }
  const limit = sp.get('limit');
  if (limit) {
    const n = Number(limit);
    if (!Number.isInteger(n) || n < 1) throw new HttpError(400, `'limit' must be a positive integer`);
    f.limit = n;
  }
  return f;
}

async function route(reg: Registry, req: http.IncomingMessage, res: http.ServerResponse, opts: Required<HubOptions>): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://hub.invalid');
  const parts = url.pathname.split('/').filter(Boolean).map((p) => decodeURIComponent(p));
  const sp = url.searchParams;
  const api = parts[0] === 'api';
  const p = api ? parts.slice(1) : parts;
  const html = (body: string) => send(res, 200, 'text/html; charset=utf-8', body);

  if (p.length === 0 && !api) {
    const f = filterOf(sp);
    const runs = await reg.list(f);
    return html(runsPage(runs, { model: f.model, kind: f.kind, status: f.status, since: f.sinceText }, reg.location, (await reg.models()).map((m) => m.name)));
  }
  if (p[0] === 'runs' && p.length === 1 && api) return json(res, 200, await reg.list(filterOf(sp)));
  if (p[0] === 'runs' && p.length === 2) {
    const r = await runOr404(reg, p[1]!);
    if (api) return json(res, 200, r);
    return html(runPage(r, r.kind === 'run' && (reportFile(r) !== null || (await reg.results(r.id)) !== null)));
  }
  if (p[0] === 'runs' && p.length === 3 && p[2] === 'results' && api) {
    const r = await runOr404(reg, p[1]!);
    return json(res, 200, await resultsOf(reg, r));
  }
  if (p[0] === 'runs' && p.length === 3 && p[2] === 'report' && !api) {
    const r = await runOr404(reg, p[1]!);
    const file = reportFile(r);
    // The report carries its own CSP (its script by hash, no network); served as it was written.
    const reportCsp = `default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'self'`;
    if (file) return send(res, 200, 'text/html; charset=utf-8', fs.readFileSync(file), reportCsp);
    return send(res, 200, 'text/html; charset=utf-8', htmlReport(normaliseResults(await resultsOf(reg, r))), reportCsp);
  }
  if (p[0] === 'models' && p.length === 1) {
    const models = await reg.models();
    return api ? json(res, 200, models) : html(modelsPage(models));
  }
  if (p[0] === 'models' && p.length === 2 && !api) {
    const points = await reg.history(p[1]!);
    if (!points.length) throw new HttpError(404, `no runs of model '${p[1]}'`);
    return html(historyPage(p[1]!, points, sp.get('metric') ?? 'accuracy'));
  }
  if (p[0] === 'models' && p.length === 3 && p[2] === 'history' && api) return json(res, 200, await reg.history(p[1]!));
  if (p[0] === 'compare' && p.length === 1) {
    const [ia, ib] = [sp.get('a'), sp.get('b')];
    if (!ia || !ib) throw new HttpError(400, `compare needs two runs: ?a=ID&b=ID`);
    const [a, b] = [await runOr404(reg, ia), await runOr404(reg, ib)];
    const c = compareRuns(await resultsOf(reg, a), await resultsOf(reg, b), { bootstrap: opts.bootstrap });
    return api ? json(res, 200, { run_a: a.id, run_b: b.id, ...c }) : html(comparePage(a, b, c, sp.get('all') === '1'));
  }
  if (p[0] === 'budgets' && p.length === 1) {
    const points = await reg.budgets(sp.get('model') ?? undefined);
    return api ? json(res, 200, points) : html(budgetsPage(points));
  }
  throw new HttpError(404, `no such page: ${url.pathname}`);
}

/** Starts the hub on `opts.host:opts.port` and resolves once it listens. */
export async function startHub(reg: Registry, opts: HubOptions = {}): Promise<Hub> {
  const o: Required<HubOptions> = { host: opts.host ?? '127.0.0.1', port: opts.port ?? 8080, bootstrap: opts.bootstrap ?? 1000 };
  const server = http.createServer((req, res) => {
    const api = (req.url ?? '').startsWith('/api/');
    const fail = (status: number, message: string) => (api ? json(res, status, { error: message }) : send(res, status, 'text/html; charset=utf-8', errorPage(status, message)));
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('allow', 'GET, HEAD');
      return fail(405, 'the hub is read-only: GET and HEAD only');
    }
    if (!hostAllowed(req.headers.host, o.host)) return fail(421, `this hub answers only to loopback host names, not '${req.headers.host ?? ''}'`);
    route(reg, req, res, o).catch((e: unknown) => {
      if (res.headersSent) return res.destroy();
      if (e instanceof HttpError) return fail(e.status, e.message);
      if (e instanceof GauntletError) return fail(400, e.message);
      if (e instanceof URIError) return fail(400, 'malformed URL');
      return fail(500, `internal error: ${(e as Error).message}`);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port, o.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const addr = server.address() as AddressInfo;
  const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  return {
    url: `http://${host}:${addr.port}`,
    server,
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}
