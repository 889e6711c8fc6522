import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { resolveConfig } from '../src/campaign/config.js';
import { defaultAssets } from '../src/defaults.js';
import { foldPreprocessing, resolveDeclaration } from '../src/engine/declaration.js';
import { readModelFile } from '../src/onnx/load.js';
import { encodeModel } from '../src/onnx/proto.js';
import { makeModel, node } from '../src/onnx/make.js';
import { dataFromFlags, modelFromFlags, parseModelDeclaration } from '../src/options/declarations.js';
import { deprecations, describeOptions, OptionError, flagSpec, helpLines, opt, parseFlags, parseOptions } from '../src/options/schema.js';
import { loadNpz, saveNpz } from '../src/data/npz.js';
import { assertBadInput, repoRoot, runCli, scratchDirs } from './helpers.js';

const scratch = scratchDirs('gauntlet-decl-');

/**
 * A copy of the default model that expects normalised inputs x_norm = (x − 0.5) / 0.3 (it undoes
 * the normalisation in its first nodes), like a torchvision model trained on mean/std-normalised data.
 */
function normalisedModel(dir: string): string {
  const { proto } = readModelFile(defaultAssets.model);
  const undo = foldPreprocessing(proto, resolveDeclaration(proto, { preprocess: { scale: 0.3, mean: [-0.5], std: [1] } }));
  const file = path.join(dir, 'normalised.onnx');
  fs.writeFileSync(file, encodeModel(undo));
  return file;
}

/** The first `n` default images scaled to 0–255, as a user's raw-pixel npz would hold them. */
async function rawPixels(dir: string, n = 40): Promise<string> {
  const a = await loadNpz(defaultAssets.data);
  const data = new Float32Array(n * 784);
  for (let i = 0; i < data.length; i++) data[i] = Math.round(a.x[i]! * 255);
  const file = path.join(dir, 'raw255.npz');
  await saveNpz(file, { x: { dtype: '<f4', shape: [n, 1, 28, 28], data }, y: { dtype: '<i4', shape: [n], data: a.labels!.slice(0, n) } });
  return file;
}

test('eval of a mean/std-normalised model without its declaration is far off; --mean/--std on eval give the real accuracy', () => {
  const dir = scratch();
  const m = normalisedModel(dir);
  const bare = runCli(['eval', '--model', m, '--limit', '400', '--json']);
  const declared = runCli(['eval', '--model', m, '--mean', '0.5', '--std', '0.3', '--limit', '400', '--json']);
  const reference = runCli(['eval', '--limit', '400', '--json']);
  assert.equal(declared.code, 0, declared.stderr);
  assert.equal(declared.json!.accuracy, reference.json!.accuracy);
  assert.ok(bare.json!.accuracy < reference.json!.accuracy - 0.05, `undeclared ${bare.json!.accuracy} vs ${reference.json!.accuracy}`);
});

test('a --model-spec file declares preprocessing for any verb; flags override it', () => {
  const dir = scratch();
  const m = normalisedModel(dir);
  fs.writeFileSync(path.join(dir, 'm.yaml'), `model:\n  path: ${path.basename(m)}\n  preprocess: { mean: [0.5], std: [0.3] }\n`);
  const r = runCli(['eval', '--model-spec', path.join(dir, 'm.yaml'), '--limit', '200', '--json']);
  const reference = runCli(['eval', '--limit', '200', '--json']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.json!.accuracy, reference.json!.accuracy);
  const ref = modelFromFlags({ 'model-spec': path.join(dir, 'm.yaml'), std: '0.25' });
  assert.equal(ref.path, m);
  assert.deepEqual(ref.preprocess, { mean: [0.5], std: [0.25] });
});

test('data outside the declared bounds (0-255 pixels) is refused by attack with the fix spelled out, not reported as perfectly robust', async () => {
  const dir = scratch();
  const raw = await rawPixels(dir);
  assertBadInput(runCli(['attack', '--attack', 'fgsm', '--eps', '0.1', '--data', raw]), /x spans \[0, 255\], outside the declared bounds \[0, 1\]; .*bounds: \[0, 255\] \(--bounds 0,255\).*scale: 1\/255 \(--scale 1\/255\)/);
  // gauntlet run checks the data read in chunks (campaign/validate.ts): the whole set's range, the same line.
  assertBadInput(runCli(['run', '--data', raw, '--dry-run']), /x spans \[0, 255\], outside the declared bounds \[0, 1\]; .*bounds: \[0, 255\] \(--bounds 0,255\)/);
  const ok = runCli(['eval', '--data', raw, '--bounds', '0,255', '--scale', '1/255', '--json']);
  assert.equal(ok.code, 0, ok.stderr);
  assert.ok(ok.json!.accuracy > 0.8);
});

test('run --dry-run refuses data outside the bounds before a run directory exists', async () => {
  const dir = scratch();
  const raw = await rawPixels(dir);
  const out = path.join(dir, 'run');
  assertBadInput(runCli(['run', '--data', raw, '--out', out, '--dry-run']), /x spans \[0, 255\]/);
  assertBadInput(runCli(['run', '--data', raw, '--out', out]), /x spans \[0, 255\]/);
  assert.equal(fs.existsSync(out), false);
});

test('a wrong-length preprocess.mean fails in --dry-run naming the channels, not with ONNX Runtime ShapeInferenceError', () => {
  const dir = scratch();
  fs.writeFileSync(path.join(dir, 'c.yaml'), `model: { path: ${defaultAssets.model}, preprocess: { mean: [0.1, 0.2, 0.3], std: [1, 1, 1] } }\n`);
  assertBadInput(runCli(['run', path.join(dir, 'c.yaml'), '--dry-run']), /'preprocess\.mean' has 3 values, but input input has 1 channels \(NCHW\); give 1 values, or one for all/);
});

test('an ε larger than the bounds allow fails in --dry-run with its key path', () => {
  const dir = scratch();
  fs.writeFileSync(path.join(dir, 'c.yaml'), `stresses:\n  adversarial: [ { attack: fgsm, eps: 2 } ]\n`);
  assertBadInput(runCli(['run', path.join(dir, 'c.yaml'), '--dry-run']), /'stresses\.adversarial\[0\]\.eps' must be in \[0, 1\] for linf on the data bounds \[0, 1\], got 2/);
});

test('a label outside the model classes fails in --dry-run, before anything runs', async () => {
  const dir = scratch();
  const a = await loadNpz(defaultAssets.data);
  const y = a.labels!.slice(0, 20);
  y[3] = 12;
  const file = path.join(dir, 'bad-labels.npz');
  await saveNpz(file, { x: { dtype: '<f4', shape: [20, 1, 28, 28], data: a.x.slice(0, 20 * 784) }, y: { dtype: '<i4', shape: [20], data: y } });
  assertBadInput(runCli(['run', '--data', file, '--dry-run']), /label 12 of item 3 is outside the model's 10 classes \[0, 9\]/);
});

test('--dry-run names the model input and output it uses, the classes and the data range', () => {
  const r = runCli(['run', '--dry-run']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^model: .*input input \(NCHW\), output logits \(logits: detected/m);
  assert.match(r.stdout, /^data: .*2000 items of \[1, 28, 28\], values in \[0, 1\] \(bounds \[0, 1\]\)/m);
});

test('the CSV label-column error names the spelling that config and flags accept', () => {
  const dir = scratch();
  const csv = path.join(dir, 't.csv');
  fs.writeFileSync(csv, 'a,b,species\n1,2,0\n3,4,1\n');
  assertBadInput(runCli(['eval', '--data', csv]), /set label_column \(--label-column\)/);
  assert.equal(dataFromFlags({ data: csv, 'label-column': 'species' }).labelColumn, 'species');
});

test('old camelCase and kebab-case config keys still work for one release, each with one deprecation line on stderr', () => {
  const dir = scratch();
  fs.writeFileSync(path.join(dir, 'c.yaml'), `batchSize: 128\nstresses:\n  adversarial: [ { attack: pgd, eps: 0.01, stepSize: 0.005, steps: 2 } ]\n`);
  const r = runCli(['run', path.join(dir, 'c.yaml'), '--dry-run']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /^gauntlet: warning: 'batchSize' is deprecated; write 'batch_size' \(snake_case in YAML\)$/m);
  assert.match(r.stderr, /^gauntlet: warning: 'stresses\.adversarial\[0\]\.stepSize' is deprecated; write 'step_size'/m);
  assert.equal(r.stderr.trim().split('\n').filter((l) => l.includes('warning')).length, 2);
});

test("a config's old 'output: logits' is read as the output kind (with a deprecation) unless the graph has an output of that name", () => {
  deprecations.length = 0;
  const ref = parseModelDeclaration({ path: defaultAssets.model, output: 'probabilities' }, { where: 'model' });
  assert.equal(ref.outputNameOrKind, 'probabilities');
  assert.match(deprecations[0]!, /'model\.output: probabilities' now names the graph output; write 'output_kind: probabilities'/);
  deprecations.length = 0;
  const { proto } = readModelFile(defaultAssets.model);
  // The default model's output is called 'logits': the value names it, and the kind stays detected.
  const named = resolveDeclaration(proto, { outputNameOrKind: 'logits' });
  assert.equal(named.outputName, 'logits');
  assert.equal(named.output, 'auto');
  const kind = resolveDeclaration(proto, { outputNameOrKind: 'probabilities' });
  assert.equal(kind.output, 'probabilities');
});

test('config errors name the key path, the value and the range in one format', () => {
  const bad = (raw: unknown, re: RegExp) => assert.throws(() => resolveConfig(raw, 't', repoRoot), (e: unknown) => e instanceof OptionError && re.test((e as Error).message));
  bad({ batch_size: 0 }, /^'batch_size' must be an integer in \[1, 65536\], got 0$/);
  bad({ abstain_below: 'high' }, /^'abstain_below' must be a number in \[0, 1\], got 'high'$/);
  bad({ model: { path: 'm.onnx', bounds: [0] } }, /^'model\.bounds' must be a list of 2 values, each a number in \(-inf, inf\), got \[0\]$/);
  bad({ model: { path: 'm.onnx', preprocess: { std: [0.2, 0] } } }, /^'model\.preprocess\.std\[1\]' must be a number in \(0, inf\), got 0$/);
  bad({ data: { path: 'd.csv', labelcolumn: 'y' } }, /^'data' has unknown key 'labelcolumn' \(did you mean 'label_column'\?\)/);
  bad({ budgets: [{ metric: 'accuracy', min: 0.5, maxdrop: 0.1 }] }, /unknown key 'maxdrop' \(did you mean 'max_drop'\?\)/);
});

test('one declaration gives the typed value, the flags, the help line and the list row', () => {
  const map = {
    eps: opt.number({ doc: 'radius', min: 0, max: 1, minExclusive: true }),
    steps: opt.integer({ doc: 'iterations', min: 1, default: 10 }),
    fast: opt.boolean({ doc: 'go fast' }),
  };
  const parsed = parseOptions(map, { eps: 0.5 }, { where: 'x' });
  assert.deepEqual(parsed, { eps: 0.5, steps: 10 });
  assert.deepEqual(flagSpec(map), { eps: { type: 'string' }, steps: { type: 'string' }, fast: { type: 'boolean' } });
  assert.deepEqual(parseFlags(map, { eps: '8/255', fast: true }), { eps: 8 / 255, steps: 10, fast: true });
  assert.throws(() => parseFlags(map, { eps: '1.5' }), /^UsageError|'--eps' must be a number in \(0, 1\], got 1\.5$/);
  assert.match(helpLines(map), /--eps X\s+radius; a number in \(0, 1\]/);
  assert.match(helpLines(map), /--steps N\s+iterations; an integer in \[1, inf\) \(default 10\)/);
  assert.deepEqual(describeOptions(map)[1], { key: 'steps', flag: '--steps', expected: 'an integer in [1, inf)', default: '10', required: false, doc: 'iterations' });
});

test("inspect hints at a channels-last input instead of calling an NHWC model 'layout NCHW', and names the output it reads", () => {
  const dir = scratch();
  const proto = makeModel({
    inputs: [{ name: 'image', shape: ['N', 8, 8, 3] }],
    outputs: ['probs', 'logits'],
    nodes: [node('Transpose', ['image'], ['t'], { perm: [0, 3, 1, 2] }), node('GlobalAveragePool', ['t'], ['p']), node('Flatten', ['p'], ['logits']), node('Softmax', ['logits'], ['probs'], { axis: 1 })],
    opset: 13,
  });
  const file = path.join(dir, 'nhwc.onnx');
  fs.writeFileSync(file, encodeModel(proto));
  const r = runCli(['inspect', '--model', file]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /layout NCHW \(assumed; --layout declares it\)/);
  assert.match(r.stdout, /hint {7}input image \[N, 8, 8, 3\] looks channels-last; if it is, declare layout: NHWC \(--layout NHWC\)/);
  assert.match(r.stdout, /hint {7}reads output probs of 2 \(probs, logits\); --output NAME picks another/);
  const declared = runCli(['inspect', '--model', file, '--layout', 'NHWC', '--output', 'logits', '--json']);
  assert.equal(declared.code, 0, declared.stderr);
  assert.equal(declared.json!.output, 'logits');
  assert.deepEqual(declared.json!.hints.map((h: { code: string }) => h.code).sort(), ['no_normalisation_seen', 'output_choice']);
});

test('inspect sees normalisation the graph already does to its input', () => {
  const r = runCli(['inspect', '--model', normalisedModel(scratch()), '--json']);
  assert.equal(r.code, 0, r.stderr);
  const hint = r.json!.hints.find((h: { code: string }) => h.code === 'normalised_in_graph');
  assert.match(hint.message, /the graph normalises its input itself: Mul by \[0\.3\] .*, then Sub by \[-0\.5\]/);
});
