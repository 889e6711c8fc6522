import { UsageError } from '../errors.js';
import { flagSpec, helpLines, parseFlags } from '../options/schema.js';
import { importRunDir, openRegistry, readTarget, type Registry, type RunRecord, type RunSummary } from '../registry/index.js';
import { RUNS_OPTIONS, sinceToIso } from '../registry/options.js';
import { compareRuns, compareText } from '../report/compare.js';
import type { CampaignResults } from '../campaign/types.js';
import { RegistryError } from '../errors.js';
import { parse } from './args.js';
import { fmt } from './common.js';

export const help = `gauntlet runs list [--model NAME] [--since WHEN] [--kind K] [--limit N] [--json]
gauntlet runs show ID [--all] [--json]
gauntlet runs compare ID_A ID_B [--all] [--bootstrap B] [--json]
gauntlet runs rm ID...
gauntlet runs import DIR...

The run registry: every 'gauntlet run', 'train', 'attack', 'stream' and 'calibrate' records itself
(see --registry / --no-registry on those verbs). An ID may be shortened to any unique prefix.

  list      runs, newest first: id, kind, status, start, model (name and sha256), data, budgets
  show      one run: provenance (models with lineage, data, seed, versions, git commit), budgets,
            artifacts, and its metrics with 95 % CIs
  compare   two campaign runs ('gauntlet run'), with the paired judgement of 'gauntlet compare':
            changed hashes and config, metrics moved beyond their CIs
  rm        removes runs from the registry (their run directories and files are left alone)
  import    records existing run directories (their results.json), so history starts before the
            registry did; a directory already recorded is not recorded twice

Options:
${helpLines(RUNS_OPTIONS)}
  --json                 print one JSON object (list: an array) on the last stdout line

Exit codes: 0 done, 2 bad input (unknown run, unreachable registry).
`;

const SUBCOMMANDS = ['list', 'show', 'compare', 'rm', 'import'] as const;

export async function runsVerb(argv: string[]): Promise<number> {
  const { values, positionals } = parse('runs', argv, flagSpec(RUNS_OPTIONS), true);
  if (values.help) return (process.stdout.write(help), 0);
  const o = parseFlags(RUNS_OPTIONS, values);
  const [sub, ...args] = positionals;
  if (sub === undefined || !(SUBCOMMANDS as readonly string[]).includes(sub)) {
    throw new UsageError(`runs: ${sub === undefined ? 'give a subcommand' : `unknown subcommand '${sub}'`}: ${SUBCOMMANDS.join(', ')} (see 'gauntlet runs --help')`);
  }
  const want = (n: number | [number, number], what: string) => {
    const [lo, hi] = typeof n === 'number' ? [n, n] : n;
    if (args.length < lo || args.length > hi) throw new UsageError(`runs ${sub}: takes ${what}, got ${args.length} argument${args.length === 1 ? '' : 's'}`);
  };
  if (sub === 'list') want(0, 'no arguments');
  if (sub === 'show') want(1, 'one run ID');
  if (sub === 'compare') want(2, 'two run IDs');
  if (sub === 'rm') want([1, Infinity], 'one or more run IDs');
  if (sub === 'import') want([1, Infinity], 'one or more run directories');
  const json = Boolean(values.json);
  const reg = await openRegistry(readTarget(o.registry), { mustExist: sub !== 'import' });
  try {
    switch (sub) {
      case 'list': {
        const runs = await reg.list({ model: o.model, since: o.since === undefined ? undefined : sinceToIso(o.since), kind: o.kind, limit: o.limit });
        if (json) process.stdout.write(JSON.stringify(runs) + '\n');
        else process.stdout.write(listText(runs, reg.location) + '\n');
        return 0;
      }
      case 'show': {
        const r = await mustGet(reg, args[0]!);
        if (json) process.stdout.write(JSON.stringify(r) + '\n');
        else process.stdout.write(showText(r, Boolean(o.all)) + '\n');
        return 0;
      }
      case 'compare': {
        const [a, b] = [await mustGet(reg, args[0]!), await mustGet(reg, args[1]!)];
        const [ra, rb] = [await campaignResults(reg, a), await campaignResults(reg, b)];
        const c = compareRuns(ra, rb, { bootstrap: o.bootstrap });
        if (json) process.stdout.write(JSON.stringify({ run_a: a.id, run_b: b.id, ...c }, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v)) + '\n');
        else process.stdout.write(`A: ${a.id} (${a.started_at}, ${a.model.name})\nB: ${b.id} (${b.started_at}, ${b.model.name})\n${compareText(c, { all: o.all })}`);
        return 0;
      }
      case 'rm': {
        const ids: string[] = [];
        for (const a of args) ids.push((await mustGet(reg, a)).id);
        const n = await reg.remove(ids);
        if (json) process.stdout.write(JSON.stringify({ removed: ids }) + '\n');
        else process.stdout.write(`removed ${n} run${n === 1 ? '' : 's'} from ${reg.location}: ${ids.join(', ')} (their files are left alone)\n`);
        return 0;
      }
      case 'import': {
        // Every directory is checked before anything is recorded: one bad directory records nothing.
        const outcomes = [];
        const { readResults } = await import('../report/index.js');
        for (const d of args) readResults(d);
        for (const d of args) outcomes.push(await importRunDir(reg, d));
        if (json) process.stdout.write(JSON.stringify(outcomes) + '\n');
        else for (const x of outcomes) process.stdout.write(x.status === 'recorded' ? `recorded ${x.dir} as run ${x.id}\n` : `${x.dir}: already recorded as run ${x.id}\n`);
        return 0;
      }
    }
  } finally {
    await reg.close();
  }
  return 2;
}

async function mustGet(reg: Registry, id: string): Promise<RunRecord> {
  const r = await reg.get(id);
  if (!r) throw new RegistryError(`no run '${id}' in ${reg.location} (see 'gauntlet runs list')`);
  return r;
}

/** The campaign results stored with a run, for `compare`. */
export async function campaignResults(reg: Registry, r: RunRecord): Promise<CampaignResults> {
  if (r.kind !== 'run') throw new RegistryError(`run ${r.id} is a '${r.kind}' run; compare takes two campaign runs ('gauntlet run')`);
  const res = (await reg.results(r.id)) as CampaignResults | null;
  if (!res) throw new RegistryError(`run ${r.id} has no stored results to compare`);
  return res;
}

const short = (sha: string | null | undefined) => (sha ? sha.slice(0, 12) : '-');
const when = (iso: string) => iso.replace('T', ' ').replace(/\.\d+Z$/, 'Z');

function table(head: string[], rows: string[][]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cols: string[]) => cols.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
  return [line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

function listText(runs: RunSummary[], location: string): string {
  if (!runs.length) return `no runs in ${location}`;
  return table(
    ['id', 'kind', 'status', 'started (UTC)', 'model', 'sha256', 'data', 'budgets'],
    runs.map((r) => [r.id, r.kind + (r.imported ? '*' : ''), r.status, when(r.started_at), r.model_name, short(r.model_sha256), r.data_name ?? '-', r.budgets_passed + r.budgets_failed ? `${r.budgets_passed} passed, ${r.budgets_failed} failed` : '-']),
  ) + (runs.some((r) => r.imported) ? '\n* imported with gauntlet runs import' : '');
}

function showText(r: RunRecord, all: boolean): string {
  const lines = [
    `run       ${r.id}  (${r.kind}${r.imported ? ', imported' : ''})  ${r.status.toUpperCase()}`,
    `time      ${when(r.started_at)} -> ${when(r.finished_at)}`,
    `model     ${r.model.name}  sha256 ${r.model.sha256}${r.model.parent_sha256 ? `  from ${r.model.parent_name ?? '?'} ${short(r.model.parent_sha256)}` : ''}`,
    ...r.models.map((m) => `variant   ${m.name}  sha256 ${m.sha256}${m.parent_sha256 ? `  trained from ${m.parent_name ?? '?'} ${short(m.parent_sha256)}` : ''}`),
    `data      ${r.data ? `${r.data.name}  sha256 ${r.data.sha256}` : '-'}`,
    `seed      ${r.seed ?? '-'}`,
    `versions  ${Object.entries(r.versions).map(([k, v]) => `${k} ${v}`).join(', ')}`,
    `git       ${r.git_commit ?? '-'}`,
    `out       ${r.out_dir ?? '-'}`,
  ];
  if (r.budgets.length) {
    lines.push('', 'budgets:');
    for (const b of r.budgets) lines.push(`  ${b.passed ? 'PASS' : 'FAIL'}  ${b.name}: ${b.message}`);
  }
  if (r.artifacts.length) {
    lines.push('', 'artifacts:');
    for (const a of r.artifacts) lines.push(`  ${a.name.padEnd(16)} ${a.path}`);
  }
  const shown = all ? r.metrics : r.metrics.filter((m) => /accuracy/.test(m.metric) || r.kind !== 'run');
  if (shown.length) {
    lines.push('', `metrics${all || r.kind !== 'run' ? '' : ' (accuracy; --all for every metric)'}:`);
    const ci = (lo: number | null, hi: number | null) => (lo === null || hi === null ? '' : ` [${fmt(lo, 3)}, ${fmt(hi, 3)}]`);
    lines.push(table(['model', 'cell', 'stresses', 'metric', 'value [95% CI]'], shown.map((m) => [m.model_name, m.cell, m.stress, m.metric, m.value === null ? 'n/a' : `${fmt(m.value, 3)}${ci(m.ci_lo, m.ci_hi)}`])).replace(/^/gm, '  '));
  }
  return lines.join('\n');
}

