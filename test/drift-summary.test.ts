/** Corruption error summary: unnormalised by default, mCE only against a named baseline on the same data. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DataError } from '../src/errors.js';
import { summarizeCorruptionErrors, type ErrorRun } from '../src/stress/drift/index.js';

const run: ErrorRun = {
  name: 'model',
  dataHash: 'aaaa1111',
  cleanError: 0.1,
  corruptions: [
    { corruption: 'fog', errors: [0.1, 0.2, 0.3, 0.4, 0.5] },
    { corruption: 'contrast', errors: [0.2, 0.2, 0.2, 0.2, 0.2] },
  ],
};
const baseline: ErrorRun = {
  name: 'alexnet',
  dataHash: 'aaaa1111',
  cleanError: 0.2,
  corruptions: [
    { corruption: 'fog', errors: [0.3, 0.4, 0.5, 0.6, 0.7] },
    { corruption: 'contrast', errors: [0.4, 0.4, 0.4, 0.4, 0.4] },
    { corruption: 'snow', errors: [0.5, 0.5, 0.5, 0.5, 0.5] },
  ],
};
const close = (a: number | null, b: number): void => assert.ok(a !== null && Math.abs(a - b) < 1e-12, `${a} vs ${b}`);

test('without a baseline: error sums per corruption and their mean, not normalised', () => {
  const s = summarizeCorruptionErrors(run);
  assert.equal(s.normalised, false);
  assert.equal(s.baseline, null);
  assert.equal(s.mCE, null);
  assert.equal(s.relativeMCE, null);
  close(s.rows[0]!.errorSum, 1.5);
  close(s.rows[1]!.errorSum, 1.0);
  close(s.meanErrorSum, 1.25);
  close(s.meanError, 0.25);
  assert.equal(s.rows[0]!.ce, null);
});

test('with a named baseline on the same data: CE, mCE and relative mCE', () => {
  const s = summarizeCorruptionErrors(run, baseline);
  assert.equal(s.normalised, true);
  assert.equal(s.baseline, 'alexnet');
  close(s.rows[0]!.ce, 1.5 / 2.5);
  close(s.rows[1]!.ce, 1.0 / 2.0);
  close(s.mCE, (0.6 + 0.5) / 2);
  close(s.rows[0]!.relativeCe, (1.5 - 0.5) / (2.5 - 1.0));
  close(s.rows[1]!.relativeCe, (1.0 - 0.5) / (2.0 - 1.0));
  close(s.relativeMCE, (1 / 1.5 + 0.5) / 2);
});

test('never normalised by another dataset: hashes must be given and match', () => {
  assert.throws(() => summarizeCorruptionErrors(run, { ...baseline, dataHash: 'bbbb2222' }), (e: unknown) => e instanceof DataError && /baseline 'alexnet' was measured on data bbbb2222…, this run on aaaa1111…; mCE needs a baseline on the same data/.test(e.message));
  const { dataHash: _drop, ...unhashed } = baseline;
  assert.throws(() => summarizeCorruptionErrors(run, unhashed), /must both give 'dataHash'/);
  assert.throws(() => summarizeCorruptionErrors(run, { ...baseline, name: undefined }), /baseline run needs a 'name'/);
  assert.throws(() => summarizeCorruptionErrors({ ...run, corruptions: [{ corruption: 'frost', errors: [0, 0, 0, 0, 0] }] }, baseline), /baseline 'alexnet' has no errors for corruption 'frost'/);
});

test('malformed errors are DataErrors naming the corruption and severity', () => {
  assert.throws(() => summarizeCorruptionErrors({ corruptions: [{ corruption: 'fog', errors: [0.1, 0.2] }] }), /'fog' has 2 errors; expected 5/);
  assert.throws(() => summarizeCorruptionErrors({ corruptions: [{ corruption: 'fog', errors: [0.1, 0.2, 1.2, 0, 0] }] }), /'fog' error at severity 3 must be in \[0, 1\], got 1.2/);
  assert.throws(() => summarizeCorruptionErrors({ corruptions: [] }), /has no corruption errors/);
});
