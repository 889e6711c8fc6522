import path from 'node:path';
import type { CampaignResults } from '../campaign/runner.js';
import { writeAtomic } from '../campaign/store.js';
import { htmlReport } from './html.js';
import { junitXml } from './junit.js';
import { markdownReport } from './markdown.js';

/** Writes report.md, report.html and junit.xml into the run directory; returns their names. */
export function writeReports(r: CampaignResults, dir: string): string[] {
  writeAtomic(path.join(dir, 'report.md'), markdownReport(r));
  writeAtomic(path.join(dir, 'report.html'), htmlReport(r));
  writeAtomic(path.join(dir, 'junit.xml'), junitXml(r));
  return ['results.json', 'report.md', 'report.html', 'junit.xml'];
}
