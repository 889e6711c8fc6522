/**
 * The model declaration and the data declaration: one object each, the same everywhere — a
 * campaign config's `model:`/`data:`, a stream scenario, a training recipe, a declaration file
 * (`--model-spec m.yaml`) and the flags of every verb (`--layout`, `--mean`, `--bounds`,
 * `--label-column` …). Declared once here with the option schema, so YAML validation, flags,
 * `--help` lines and `gauntlet list declarations` all come from these two maps.
 *
 * YAML:
 *   model: { path: m.onnx, layout: NHWC, bounds: [0, 255], preprocess: { scale: 1/255 → 0.00392, mean: [...], std: [...] },
 *            input: pixel_values, output: logits, output_kind: logits }
 *   data:  { path: test.csv, kind: csv, label_column: species, class_names: [setosa, versicolor, virginica], limit: 500 }
 * Flags:
 *   --model m.onnx --layout NHWC --bounds 0,255 --scale 1/255 --mean 0.485,0.456,0.406 --std 0.229,0.224,0.225
 *   --input pixel_values --output logits --output-kind logits
 *   --data test.csv --data-kind csv --label-column species --class-names setosa,versicolor,virginica --limit 500
 */
import path from 'node:path';
import { DATA_KINDS, type DataSpec } from '../data/load.js';
import type { ModelDeclaration } from '../engine/declaration.js';
import { ENDPOINT_OPTIONS, isEndpointUrl, type EndpointSpec } from '../endpoint/options.js';
import { readYamlFile } from '../yaml.js';
import { deprecations, fail, keyPath, flagSpec as flagSpecOf, flagValues, helpLines, opt, parseOptions, type OptionMap, type ParseContext } from './schema.js';

const OUTPUT_KINDS = ['logits', 'probabilities', 'sigmoid', 'auto'] as const;

/** The preprocessing a model expects after the data domain: x_model = (x · scale − mean) / std, per channel. */
export const PREPROCESS_OPTIONS = {
  scale: opt.number({ doc: 'multiply data-domain values by this first (e.g. 1/255)', metavar: 'S' }),
  mean: opt.list(opt.number({ doc: 'mean' }), { doc: 'per-channel mean subtracted after scaling', minLength: 1, metavar: 'M,...' }),
  std: opt.list(opt.number({ doc: 'std', min: 0, minExclusive: true }), { doc: 'per-channel std divided by after the mean', minLength: 1, metavar: 'S,...' }),
} satisfies OptionMap;

/** A value for an extra graph input: 'zeros', a number, or a .npy file (resolved against the config's folder). */
export type ExtraInputValue = 'zeros' | number | { npy: string };

const EXTRA_EXPECTED = "a mapping of graph input names to zeros, a number or a .npy file";
/** `inputs: { state: zeros, sr: 16000, h0: h0.npy }`; on the command line `--inputs state=zeros,sr=16000,h0=h0.npy`. */
const extraInputs = opt.custom<Record<string, ExtraInputValue>, { doc: string; metavar: string }>(
  EXTRA_EXPECTED,
  (v, p, ctx) => {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) return fail(p, { code: 'type', value: v, expected: EXTRA_EXPECTED });
    const out: Record<string, ExtraInputValue> = {};
    for (const [name, x] of Object.entries(v as Record<string, unknown>)) {
      if (x === 'zeros') out[name] = 'zeros';
      else if (typeof x === 'number' && Number.isFinite(x)) out[name] = x;
      else if (typeof x === 'string' && x.endsWith('.npy')) out[name] = { npy: ctx.baseDir === undefined ? x : path.resolve(ctx.baseDir, x) };
      else fail(`${p}.${name}`, { code: 'type', value: x, expected: 'zeros, a number or a .npy file' });
    }
    return out;
  },
  { doc: 'values fed to the graph inputs besides the data input on every batch (recurrent state, sample rate): name=zeros|NUMBER|FILE.npy', metavar: 'NAME=V,...' },
  (s) => Object.fromEntries(s.split(',').filter((x) => x.trim() !== '').map((kv) => {
    const [k, ...rest] = kv.split('=');
    const val = rest.join('=').trim();
    return [k!.trim(), val !== '' && !Number.isNaN(Number(val)) ? Number(val) : val];
  })),
);

/** How a model is declared. Flags: `--model`, `--layout`, `--bounds`, `--scale/--mean/--std`, `--input`, `--output`, `--output-kind`. */
export const MODEL_OPTIONS = {
  path: opt.path({ doc: 'the ONNX model file', flag: 'model', metavar: 'M.onnx' }),
  layout: opt.choice(['NCHW', 'NHWC'] as const, { doc: 'input layout the model expects (data-domain images are always NCHW)' }),
  bounds: opt.list(opt.number({ doc: 'bound' }), { doc: 'data-domain bounds low,high of every input value (default 0,1)', minLength: 2, maxLength: 2, metavar: 'LO,HI' }),
  preprocess: opt.object(PREPROCESS_OPTIONS, { doc: 'preprocessing folded into the graph: {scale, mean, std}' }),
  input: opt.string({ doc: 'graph input to feed when the model has several (default: the first)', metavar: 'NAME' }),
  output: opt.string({ doc: 'graph output to read when the model has several (default: the first)', metavar: 'NAME', aliases: ['output_name', 'outputName'] }),
  inputs: extraInputs,
  wrt: opt.choice(['input', 'embedding'] as const, { doc: "where gradients are taken: 'embedding' for a token-id input read by an embedding lookup (gradients and attacks at the lookup's output, attacks projected back to the nearest tokens)", flag: 'model-wrt' }),
  output_kind: opt.choice(OUTPUT_KINDS, { doc: "what the output holds; 'auto' detects it from the first batch; 'sigmoid': one column p of a binary classifier, read as [1-p, p]", default: 'auto' }),
  // A deployed model (black-box): `path` (or `endpoint`) is its URL; these keys set the client.
  ...ENDPOINT_OPTIONS,
} satisfies OptionMap;

/** A feature name or a 0-based column index (on the command line, digits are an index). */
function featureRef(doc: string) {
  const expected = 'a feature name or a 0-based feature index';
  return opt.custom<string | number, { doc: string }>(
    expected,
    (v, p) => ((typeof v === 'string' && v !== '') || (typeof v === 'number' && Number.isInteger(v) && v >= 0) ? v : fail(p, { code: 'type', value: v, expected })),
    { doc },
    (s) => (/^\d+$/.test(s.trim()) ? Number(s) : s.trim()),
  );
}

/** How data is declared. Flags: `--data`, `--data-kind`, `--limit`, `--labels`, `--label-column`, `--id-column`, `--channels`, `--class-names`. */
export const DATA_OPTIONS = {
  path: opt.path({ doc: 'data: .npz/.npy, IDX (.gz), .csv, a folder of class folders, or a .jsonl manifest', flag: 'data', metavar: 'D' }),
  kind: opt.choice(DATA_KINDS, { doc: 'data format (default: detected from the path)', flag: 'data-kind' }),
  limit: opt.integer({ doc: 'use only the first N items', min: 1 }),
  labels: opt.custom<string | false, { doc: string; metavar: string }>(
    'a file path, or false for unlabelled data',
    (v, p, ctx) => (v === false ? false : typeof v === 'string' && v !== '' ? (ctx.baseDir === undefined ? v : path.resolve(ctx.baseDir, v)) : fail(p, { code: 'type', value: v, expected: 'a file path, or false for unlabelled data' })),
    { doc: 'idx/npy: a separate labels file; false: no labels', metavar: 'PATH' },
    (s) => (s === 'false' || s === 'none' ? false : s),
  ),
  label_column: opt.string({ doc: 'csv: the label column (default label)', metavar: 'COL' }),
  id_column: opt.string({ doc: 'csv: a column of item ids', metavar: 'COL' }),
  channels: opt.choice([1, 3] as const, { doc: 'images/jsonl: output channels (default: 1 if every image is grayscale, else 3)' }),
  class_names: opt.list(opt.string({ doc: 'class name' }), { doc: 'class names in label order (csv/jsonl string labels; names in reports)', minLength: 1, metavar: 'A,B,...' }),
  delimiter: opt.string({ doc: 'csv: field separator (default , or tab for .tsv)', metavar: 'C' }),
  feature_names: opt.list(opt.string({ doc: 'feature name' }), { doc: 'tabular: feature names in column order, for data without them (npz/npy); replaces CSV header names', minLength: 1, metavar: 'A,B,...' }),
  // Immutability is a fact about a feature (nothing in the world moves a person's age or sex), not a
  // setting of one stress: declared once on the data, every attack entry, every value-changing shift
  // and every verb (`run`, `attack`) honours the same set, and no attack entry can forget it.
  immutable: opt.list(featureRef('immutable feature'), { doc: 'tabular: features no stress may change (names or 0-based indices): attacks never perturb them, value-changing shifts leave them alone', minLength: 1, metavar: 'F,...' }),
  continuous: opt.list(featureRef('continuous feature'), { doc: 'tabular: integer-valued features attacks may move continuously (other integer-valued features stay frozen)', minLength: 1, metavar: 'F,...' }),
} satisfies OptionMap;

/** The flags of the model declaration besides `--model` (the preprocessing keys are flattened: `--scale`, `--mean`, `--std`). */
export const MODEL_FLAG_OPTIONS = { ...MODEL_OPTIONS, ...PREPROCESS_OPTIONS, preprocess: undefined } as unknown as OptionMap;
delete (MODEL_FLAG_OPTIONS as Record<string, unknown>).preprocess;

/** A model declaration with its path (the config's `model:` resolved); `endpoint` is set when the path is a deployed model's URL. */
export type ModelRef = { path: string; endpoint?: EndpointSpec } & ModelDeclaration;

/** A data declaration with its path (the config's `data:` resolved). */
export type DataRef = DataSpec & { path: string };

/**
 * Reads a `model:` value — a path, or a mapping of MODEL_OPTIONS — into a ModelRef. `dflt`
 * is used when it is absent. Relative paths resolve against `ctx.baseDir`.
 */
export function parseModelDeclaration(raw: unknown, ctx: ParseContext, dflt?: string): ModelRef {
  if (raw === undefined || raw === null) {
    if (dflt === undefined) fail(ctx, { code: 'required', value: raw, expected: 'a model path or {path, ...}' }, `'${ctx.where}' is required: a model path or {path, layout, bounds, preprocess, ...}`);
    return { path: dflt };
  }
  if (typeof raw === 'string') return { path: MODEL_OPTIONS.path.check(raw, ctx.where, ctx) };
  const o = parseOptions(MODEL_OPTIONS, raw, ctx);
  if (o.path !== undefined && o.endpoint !== undefined) fail(keyPath(ctx.where, 'endpoint'), { code: 'conflict', value: o.endpoint, expected: 'path or endpoint, not both' }, `give '${ctx.where ? ctx.where + '.' : ''}path' or '${ctx.where ? ctx.where + '.' : ''}endpoint', not both`);
  if (o.path === undefined && o.endpoint === undefined) {
    if (dflt === undefined) fail(ctx, { code: 'required', value: undefined, expected: 'a file path' }, `'${ctx.where}.path' is required: a file path`);
  }
  return toModelRef(o, o.endpoint ?? o.path ?? dflt!, ctx);
}

/** Reads a `data:` value — a path, or a mapping of DATA_OPTIONS — into a DataRef. */
export function parseDataDeclaration(raw: unknown, ctx: ParseContext, dflt?: string): DataRef {
  if (raw === undefined || raw === null) {
    if (dflt === undefined) fail(ctx, { code: 'required', value: raw, expected: 'a data path or {path, ...}' }, `'${ctx.where}' is required: a data path or {path, kind, label_column, ...}`);
    return { path: dflt };
  }
  if (typeof raw === 'string') return { path: DATA_OPTIONS.path.check(raw, ctx.where, ctx) };
  const o = parseOptions(DATA_OPTIONS, raw, ctx);
  if (o.path === undefined) {
    if (dflt === undefined) fail(ctx, { code: 'required', value: undefined, expected: 'a file path' }, `'${ctx.where}.path' is required: a file or folder path`);
  }
  return stripUndefined({ ...o, path: o.path ?? dflt! }) as DataRef;
}

type ParsedModel = ReturnType<typeof parseOptions<typeof MODEL_OPTIONS>>;

function toModelRef(o: ParsedModel, p: string, ctx: ParseContext): ModelRef {
  const m: ModelRef = { path: p };
  const at = (k: string): string => keyPath(ctx.where, k);
  if (o.endpoint !== undefined && !isEndpointUrl(o.endpoint)) fail(at('endpoint'), { code: 'type', value: o.endpoint, expected: 'an http(s) URL' });
  if (isEndpointUrl(p)) {
    m.endpoint = stripUndefined({ url: p, protocol: o.protocol, headers: o.headers, timeoutMs: o.timeoutMs, concurrency: o.concurrency, retries: o.retries, binary: o.binary, shape: o.shape });
  } else {
    for (const k of ['protocol', 'headers', 'shape'] as const) {
      if (o[k] !== undefined) fail(at(k), { code: 'conflict', value: o[k], expected: 'an endpoint model' }, `'${at(k)}' applies to an endpoint model (a http(s)://HOST/v2/models/NAME URL), not to the file ${p}`);
    }
  }
  if (o.layout !== undefined) m.layout = o.layout;
  if (o.bounds !== undefined) {
    const [lo, hi] = o.bounds as [number, number];
    if (!(lo < hi)) fail(`${ctx.where ? ctx.where + '.' : ''}bounds`, { code: 'range', value: o.bounds, expected: '[low, high] with low < high' });
    m.bounds = [lo, hi];
  }
  if (o.preprocess !== undefined && Object.keys(o.preprocess).length > 0) {
    const pre = o.preprocess;
    if (pre.scale === 0) fail(`${ctx.where ? ctx.where + '.' : ''}preprocess.scale`, { code: 'range', value: 0, expected: 'a non-zero number' });
    if (pre.mean && pre.std && pre.mean.length !== pre.std.length) {
      fail(`${ctx.where ? ctx.where + '.' : ''}preprocess.std`, { code: 'length', value: pre.std, expected: `${pre.mean.length} values, as many as preprocess.mean` });
    }
    m.preprocess = stripUndefined({ scale: pre.scale, mean: pre.mean, std: pre.std });
  }
  if (o.input !== undefined) m.inputName = o.input;
  if (o.inputs !== undefined) m.extraInputs = o.inputs;
  if (o.wrt !== undefined) m.wrt = o.wrt;
  if (o.output !== undefined) {
    // Before 0.2, `output:` held the output kind. A value that is a kind is read as one (the
    // model is opened later; Model.open checks the name against the graph when it is not a kind).
    if ((OUTPUT_KINDS as readonly string[]).includes(o.output) && o.outputKind === 'auto') {
      (ctx.warn ?? pushDeprecation)(`'${ctx.where ? ctx.where + '.' : ''}output: ${o.output}' now names the graph output; write 'output_kind: ${o.output}' for the output kind`);
      m.outputNameOrKind = o.output;
    } else m.outputName = o.output;
  }
  m.output = o.outputKind;
  return m;
}

function pushDeprecation(m: string): void {
  if (!deprecations.includes(m)) deprecations.push(m);
}

/** Drops keys whose value is undefined (so specs compare and serialise cleanly). */
export function stripUndefined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

/**
 * The model declaration from a verb's flags (and `--model-spec FILE`, whose keys the flags
 * override). `values` are parseArgs values; `dflt` is the path used when neither gives one.
 */
export function modelFromFlags(values: Record<string, unknown>, dflt?: string): ModelRef {
  const spec = typeof values['model-spec'] === 'string' ? readDeclarationFile(values['model-spec'], 'model') : { raw: {}, baseDir: process.cwd() };
  const flags = flagValues(MODEL_FLAG_OPTIONS, values);
  const { scale, mean, std, ...rest } = flags;
  const pre = stripUndefined({ scale, mean, std });
  const fromSpec = spec.raw as Record<string, unknown>;
  const merged: Record<string, unknown> = { ...fromSpec, ...rest };
  // Resolve the spec's own relative paths against its folder, the flags' against the cwd.
  if (typeof fromSpec.path === 'string' && rest.path === undefined) merged.path = path.resolve(spec.baseDir, fromSpec.path);
  if (Object.keys(pre).length > 0) merged.preprocess = { ...((fromSpec.preprocess as object) ?? {}), ...pre };
  return parseModelDeclaration(Object.keys(merged).length ? merged : undefined, { where: typeof values['model-spec'] === 'string' ? 'model' : '' }, dflt);
}

/** The data declaration from a verb's flags (and `--data-spec FILE`). */
export function dataFromFlags(values: Record<string, unknown>, dflt?: string): DataRef {
  const spec = typeof values['data-spec'] === 'string' ? readDeclarationFile(values['data-spec'], 'data') : { raw: {}, baseDir: process.cwd() };
  const flags = flagValues(DATA_OPTIONS, values);
  const fromSpec = spec.raw as Record<string, unknown>;
  const merged: Record<string, unknown> = { ...fromSpec, ...flags };
  for (const k of ['path', 'labels'] as const) {
    if (typeof fromSpec[k] === 'string' && flags[k] === undefined) merged[k] = path.resolve(spec.baseDir, fromSpec[k] as string);
  }
  return parseDataDeclaration(Object.keys(merged).length ? merged : undefined, { where: typeof values['data-spec'] === 'string' ? 'data' : '' }, dflt);
}

/** Reads a declaration file: either the bare mapping or one under a top-level `model:`/`data:` key. */
function readDeclarationFile(file: string, key: 'model' | 'data'): { raw: unknown; baseDir: string } {
  const raw = readYamlFile(file);
  const o = raw && typeof raw === 'object' && !Array.isArray(raw) && key in (raw as object) ? (raw as Record<string, unknown>)[key] : raw;
  return { raw: typeof o === 'string' ? { path: o } : o, baseDir: path.dirname(path.resolve(file)) };
}

/** parseArgs entries for the model declaration's flags (plus `--model-spec`). */
export function modelFlagSpec(): Record<string, { type: 'string' | 'boolean' }> {
  return { ...flagSpecOf(MODEL_FLAG_OPTIONS), 'model-spec': { type: 'string' } };
}
/** parseArgs entries for the data declaration's flags (plus `--data-spec`). */
export function dataFlagSpec(): Record<string, { type: 'string' | 'boolean' }> {
  return { ...flagSpecOf(DATA_OPTIONS), 'data-spec': { type: 'string' } };
}

/** `--help` lines for the model declaration's flags. */
export function modelHelp(): string {
  return `${helpLines(MODEL_FLAG_OPTIONS)}\n${'  --model-spec FILE'.padEnd(24)}a YAML/JSON model declaration (the keys above, snake_case); flags override it`;
}
/** `--help` lines for the data declaration's flags. */
export function dataHelp(): string {
  return `${helpLines(DATA_OPTIONS)}\n${'  --data-spec FILE'.padEnd(24)}a YAML/JSON data declaration (the keys above, snake_case); flags override it`;
}
