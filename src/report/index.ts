/**
 * Reports of a run directory: report.md (summary and model card), report.html (self-contained
 * dashboard) and junit.xml (one test case per budget). Every report is a pure function of
 * results.json: `writeReports` first normalises the results exactly as results.json stores them
 * (NaN → null, typed arrays → arrays), so the files written at the end of `gauntlet run` and the
 * files `gauntlet report DIR` regenerates from results.json are byte-for-byte identical.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { CampaignResults } from '../campaign/types.js';
import { jsonReplacer, writeAtomic } from '../campaign/store.js';
import { DataError } from '../errors.js';
import { htmlReport } from './html.js';
import { junitXml } from './junit.js';
import { markdownReport } from './markdown.js';

export { htmlReport } from './html.js';
export { junitXml } from './junit.js';
export { markdownReport } from './markdown.js';
export { compareRuns, compareText, type RunComparison, type CompareOptions } from './compare.js';
export { reliabilityOf, riskCoverageOf, eceFromBins, type ReliabilityBins, type RiskCoverage } from './curves.js';
export { galleryItems, annotationQuality, galleryOf, annotationQualityOf, type GalleryItem, type GalleryInput, type AnnotationQuality, type AnnotatorQuality, type FlaggedLabel } from './data.js';
export { galleryImage, galleryPositions, itemPng, imageGeometry, type GalleryImage } from './images.js';

/** The report files, in the order they are written. */
export const REPORT_FILES = ['report.md', 'report.html', 'junit.xml'] as const;

/** Results as results.json holds them (a JSON round trip through the store's replacer). */
export function normaliseResults(r: CampaignResults): CampaignResults {
  return JSON.parse(JSON.stringify(r, jsonReplacer)) as CampaignResults;
}

/** Writes report.md, report.html and junit.xml into the run directory; returns the run's file names. */
export function writeReports(r: CampaignResults, dir: string): string[] {
  const n = normaliseResults(r);
  writeAtomic(path.join(dir, 'report.md'), markdownReport(n));
  writeAtomic(path.join(dir, 'report.html'), htmlReport(n));
  writeAtomic(path.join(dir, 'junit.xml'), junitXml(n));
  return ['results.json', ...REPORT_FILES];
}

/**
 * Reads and checks a run directory's results.json (or a results.json path). Throws a DataError
 * naming the file and what is wrong: missing, not JSON, or not a Gauntlet results object.
 */
export function readResults(dirOrFile: string): CampaignResults {
  const file = fs.existsSync(dirOrFile) && fs.statSync(dirOrFile).isDirectory() ? path.join(dirOrFile, 'results.json') : dirOrFile;
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new DataError(`${file}: ${code === 'ENOENT' ? 'no such file (is this a finished run directory? results.json is written when a run completes)' : `cannot read (${code})`}`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new DataError(`${file}: not valid JSON (${(err as Error).message})`);
  }
  const o = raw as Partial<CampaignResults> | null;
  const missing = !o || typeof o !== 'object' ? ['everything'] : (['cells', 'model', 'data', 'budgets', 'interactions', 'performance'] as const).filter((k) => o[k] === undefined || o[k] === null);
  if (missing.length) throw new DataError(`${file}: not a Gauntlet results file (missing ${missing.join(', ')})`);
  if (!Array.isArray(o!.cells) || !Array.isArray(o!.budgets) || !Array.isArray(o!.interactions)) throw new DataError(`${file}: not a Gauntlet results file ('cells', 'budgets' and 'interactions' must be lists)`);
  for (const [i, c] of o!.cells.entries()) {
    if (!c || typeof c !== 'object' || typeof c.id !== 'string' || !c.metrics?.accuracy) throw new DataError(`${file}: cells[${i}] is not a cell result (needs id and metrics.accuracy)`);
  }
  return o as CampaignResults;
}

/** Regenerates the reports of a run directory from its results.json; returns the files written. */
export function regenerateReports(dir: string): string[] {
  const r = readResults(dir);
  writeReports(r, dir);
  return [...REPORT_FILES];
}
