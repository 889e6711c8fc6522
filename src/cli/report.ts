import path from 'node:path';
import { UsageError } from '../errors.js';
import { readResults, REPORT_FILES, writeReports } from '../report/index.js';
import { parse } from './args.js';
import { isRunDir } from '../campaign/store.js';
import { guardOutputDir } from './outputs.js';

export const help = `gauntlet report DIR [--json]

Regenerates a run directory's reports from its results.json: report.md (summary and model card),
report.html (self-contained dashboard: robustness curves, interaction heatmaps, calibration,
gallery, annotation quality, sortable tables) and junit.xml (one test case per budget). The files
are identical to those 'gauntlet run' wrote for the same results.json.

Arguments:
  DIR        a run directory (holding results.json), or the path of a results.json

Options:
  --json     print {"dir", "files", "budgets_failed"} as one JSON line

Exit codes: 0 reports written and all budgets passed, 1 a budget failed, 2 bad input.
`;

export async function reportVerb(argv: string[]): Promise<number> {
  const { values, positionals } = parse('report', argv, {}, true);
  if (values.help) return (process.stdout.write(help), 0);
  if (positionals.length !== 1) throw new UsageError(`report: takes one run directory, got ${positionals.length} (see 'gauntlet report --help')`);
  const arg = positionals[0]!;
  const results = readResults(arg);
  const dir = path.basename(arg) === 'results.json' ? path.dirname(arg) : arg;
  guardOutputDir('report', dir, REPORT_FILES, isRunDir);
  writeReports(results, dir);
  const files = REPORT_FILES.map((f) => path.join(dir, f));
  const failed = results.budgets.filter((b) => !b.passed).length;
  if (values.json) process.stdout.write(JSON.stringify({ dir, files, budgets_failed: failed }) + '\n');
  else process.stdout.write(`wrote ${files.join(', ')}${failed ? `\n${failed} budget${failed > 1 ? 's' : ''} failed` : ''}\n`);
  return failed ? 1 : 0;
}
