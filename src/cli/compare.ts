import { UsageError } from '../errors.js';
import { compareRuns, compareText } from '../report/compare.js';
import { readResults } from '../report/index.js';
import { numberOpt, parse } from './args.js';

export const help = `gauntlet compare DIR_A DIR_B [--json] [--all] [--bootstrap B] [--fail-on-regression]

Shows what changed from run A to run B (each a run directory or a results.json):
  - model or data changed (content hashes), seed and config differences (path by path);
  - cells present in one run only (cells are matched by stage and stress specs);
  - metrics that moved beyond their confidence intervals, and budgets and interaction verdicts
    that changed.

"Beyond its CI": for accuracy (true and observed labels) on the same items (same data hash and
resampling), the 95 % paired-bootstrap CI of the difference B − A excludes 0 (McNemar p shown
too); for every other metric, or when the items differ, the two runs' 95 % CIs do not overlap.

Options:
  --json                 print the full comparison as one JSON object
  --all                  list every compared metric, not only those that moved
  --bootstrap B          resamples for the paired test (default 1000)
  --fail-on-regression   exit 1 when any metric moved for the worse

Exit codes: 0 compared (or no regression with --fail-on-regression), 1 a regression, 2 bad input.
`;

export async function compareVerb(argv: string[]): Promise<number> {
  const { values, positionals } = parse('compare', argv, { all: { type: 'boolean' }, bootstrap: { type: 'string' }, 'fail-on-regression': { type: 'boolean' } }, true);
  if (values.help) return (process.stdout.write(help), 0);
  if (positionals.length !== 2) throw new UsageError(`compare: takes two run directories, got ${positionals.length} (see 'gauntlet compare --help')`);
  const bootstrap = numberOpt('bootstrap', values.bootstrap, 1000, { min: 0, max: 100000, integer: true });
  const a = readResults(positionals[0]!);
  const b = readResults(positionals[1]!);
  const c = compareRuns(a, b, { bootstrap });
  if (values.json) process.stdout.write(JSON.stringify(c, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v)) + '\n');
  else process.stdout.write(`A: ${positionals[0]}\nB: ${positionals[1]}\n${compareText(c, { all: values.all })}`);
  const regressed = c.moved.some((m) => m.direction === 'worse');
  return values['fail-on-regression'] && regressed ? 1 : 0;
}
