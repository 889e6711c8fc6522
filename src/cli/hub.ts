import { UsageError } from '../errors.js';
import { listenFailure, untilStopped } from './interrupt.js';
import { isLoopback, startHub } from '../hub/index.js';
import { flagSpec, helpLines, parseFlags } from '../options/schema.js';
import { HUB_OPTIONS } from '../registry/options.js';
import { openRegistry, readTarget } from '../registry/index.js';
import { parse } from './args.js';

export const help = `gauntlet hub [--port 8080] [--registry URL] [--host ADDR]

Serves the run registry as a read-only web dashboard until Ctrl-C:
  /              runs: filter by model, kind, status and date; sort; budgets passed and failed
  /runs/ID       one run: provenance, budgets, metrics with CIs, artifacts, its report embedded
  /models/NAME   a model's history: each metric of each stress over its runs and versions, with
                 95 % CI bands
  /compare?a=ID&b=ID   two runs with the paired judgement of 'gauntlet compare'
  /budgets       every budget's verdict over time
  /api/...       the same as JSON: /api/runs, /api/runs/ID, /api/models, /api/models/NAME/history,
                 /api/compare?a=ID&b=ID, /api/budgets

It listens on 127.0.0.1 (this machine only). --host 0.0.0.0 (or another address) exposes every
recorded run — paths, configs, metrics — to whoever can reach it; there is no login.

Options:
${helpLines(HUB_OPTIONS)}

Exit codes: 0 stopped by Ctrl-C, 2 bad input (unreachable registry, port in use).
`;

export async function hubVerb(argv: string[]): Promise<number> {
  const { values } = parse('hub', argv, flagSpec(HUB_OPTIONS));
  if (values.help) return (process.stdout.write(help), 0);
  const o = parseFlags(HUB_OPTIONS, values);
  const host = o.host ?? '127.0.0.1';
  const reg = await openRegistry(readTarget(o.registry), { mustExist: true });
  let hub;
  try {
    hub = await startHub(reg, { host, port: o.port });
  } catch (e) {
    await reg.close();
    const f = listenFailure('hub', host, o.port, e);
    throw f instanceof UsageError ? f : new UsageError(`hub: cannot listen on ${host}:${o.port} (${(e as Error).message})`);
  }
  if (!isLoopback(host)) process.stderr.write(`gauntlet: warning: the hub listens on ${host}, not loopback: anyone who can reach this machine can read every recorded run (no login)\n`);
  process.stdout.write(`hub: serving ${reg.location} at ${hub.url}/ (Ctrl-C stops it)\n`);
  const sig = await untilStopped();
  await hub.close();
  await reg.close();
  process.stderr.write(`hub: stopped (${sig})\n`);
  return 0;
}
