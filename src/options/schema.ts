/**
 * The one option schema. A component (an attack, a corruption, the model declaration, a verb)
 * declares its options once, as an `OptionMap` keyed by snake_case name; from that declaration come
 *
 * - the TypeScript type of the parsed options (`OptionsOf<M>`, keys in camelCase),
 * - validation of YAML/JSON values (`parseOptions`): unknown keys, types, ranges and choices, each
 *   failure one `OptionError` naming the key path, the value and what is allowed,
 * - command-line flags (`flagSpec`, `parseFlags`): kebab-case, values given as text,
 * - `--help` lines (`helpLines`) and `gauntlet list` rows (`describeOptions`).
 *
 * Spellings: snake_case in YAML (`step_size`), kebab-case on the command line (`--step-size`),
 * camelCase in TypeScript (`stepSize`). The camelCase and kebab-case spellings of a YAML key, and
 * any `aliases` an option lists, are accepted for one release with a one-line deprecation warning.
 *
 * Example:
 *   const PGD = { eps: opt.number({ min: 0, doc: 'radius' }), steps: opt.integer({ min: 1, default: 10, doc: 'iterations' }) };
 *   parseOptions(PGD, { eps: 0.03 }, { where: 'attack' })  // → { eps: 0.03, steps: 10 }
 */
import path from 'node:path';
import { ConfigError, UsageError } from '../errors.js';

/** What went wrong with one value, as data (zod-style): the path, a code, the value and what is allowed. */
export interface OptionIssue {
  /** `stresses.adversarial[0].eps`, or `--eps` for a command-line flag. */
  path: string;
  code: 'type' | 'range' | 'choice' | 'required' | 'unknown_key' | 'conflict' | 'length';
  value: unknown;
  /** What is allowed, as people write it: `a number in (0, 1]`. */
  expected: string;
}

/** A config value that breaks its declaration. Its message is `'<path>' must be <expected>, got <value>`. */
export class OptionError extends ConfigError {
  readonly issue: OptionIssue;
  constructor(issue: OptionIssue, message?: string) {
    super(message ?? `'${issue.path}' must be ${issue.expected}, got ${showValue(issue.value)}`);
    this.issue = issue;
  }
}

/** The same, for a command-line flag (a usage error). */
export class FlagError extends UsageError {
  readonly issue: OptionIssue;
  constructor(issue: OptionIssue, message?: string) {
    super(message ?? `'${issue.path}' must be ${issue.expected}, got ${showValue(issue.value)}`);
    this.issue = issue;
  }
}

/** A value as it appears in a message: strings quoted, objects as JSON, long text cut. */
export function showValue(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (typeof v === 'string') return `'${v.length > 60 ? v.slice(0, 57) + '...' : v}'`;
  if (typeof v !== 'object' || v === null) return String(v);
  let s: string;
  try {
    s = JSON.stringify(v) ?? String(v);
  } catch {
    s = String(v);
  }
  return s.length > 60 ? s.slice(0, 57) + '...' : s;
}

/** Where a value is being read, for messages and path resolution. */
export interface ParseContext {
  /** Key path of the object being parsed (`stresses.adversarial[0]`), '' at the top, or '--' for flags. */
  where: string;
  /** Directory that relative `path` options resolve against (default: the working directory). */
  baseDir?: string;
  /** Receives one-line deprecation warnings (default: `deprecations`, drained by the CLI). */
  warn?: (message: string) => void;
  /**
   * The object comes from TypeScript code, not a file: camelCase keys are its canonical spelling
   * (no deprecation warning) and messages name them so.
   */
  camelCase?: boolean;
}

/** Deprecation warnings not yet shown; the CLI prints and clears them (the library never prints). */
export const deprecations: string[] = [];
function defaultWarn(message: string): void {
  if (!deprecations.includes(message)) deprecations.push(message);
}

/** The key path of `key` inside `where`. */
export function keyPath(where: string, key: string | number): string {
  if (typeof key === 'number') return `${where}[${key}]`;
  if (where === '--') return `--${kebab(key)}`;
  return where ? `${where}.${key}` : key;
}

/** A failure at `path`: an OptionError in configs, a FlagError for flags. */
export function fail(ctxOrPath: ParseContext | string, issue: Omit<OptionIssue, 'path'> & { path?: string }, message?: string): never {
  const p = issue.path ?? (typeof ctxOrPath === 'string' ? ctxOrPath : ctxOrPath.where);
  const full = { ...issue, path: p } as OptionIssue;
  if (p.startsWith('--')) throw new FlagError(full, message);
  throw new OptionError(full, message);
}

/**
 * One declared option. `check` validates a YAML/JSON value at `path`; `fromText` turns a
 * command-line string into such a value first.
 */
export interface Opt<T, Req extends boolean = boolean> {
  /** What is allowed, for messages and help: `a number in (0, 1]`. */
  readonly expected: string;
  /** One line for `--help` and `gauntlet list`. */
  readonly doc: string;
  /** Value used when the key is absent (also shown in help). */
  readonly default?: T;
  /** Help text for a default that is computed elsewhere (`2.5 / steps`). */
  readonly defaultText?: string;
  /** True when the key must be given. */
  readonly required: Req;
  /** Older spellings still accepted, with a deprecation warning. */
  readonly aliases?: readonly string[];
  /** Metavariable in help (`E` for `--eps E`); boolean flags take none. */
  readonly metavar?: string;
  /** False: YAML only, no command-line flag. A string: the flag's name when it differs from the key. */
  readonly flag?: false | string;
  /** The flag takes no value (booleans). */
  readonly isBoolean?: boolean;
  check(v: unknown, path: string, ctx: ParseContext): T;
  fromText(s: string, path: string): unknown;
  /** Marker for type inference only. */
  readonly _req?: Req;
}

export type OptionMap = Record<string, Opt<unknown, boolean>>;

type Camel<S extends string> = S extends `${infer A}_${infer B}` ? `${A}${Capitalize<Camel<B>>}` : S;
type ValueOf<O> = O extends Opt<infer T, boolean> ? T : never;
type Required<M extends OptionMap> = { [K in keyof M]: M[K] extends Opt<unknown, true> ? K : M[K]['default'] extends undefined ? never : K }[keyof M];

/** The parsed form of an option map: camelCase keys; required or defaulted keys always present. */
export type OptionsOf<M extends OptionMap> = {
  -readonly [K in keyof M as K extends Required<M> ? Camel<K & string> : never]: ValueOf<M[K]>;
} & {
  -readonly [K in keyof M as K extends Required<M> ? never : Camel<K & string>]?: ValueOf<M[K]>;
};

/** snake_case → camelCase. */
export function camel(s: string): string {
  return s.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}
/** snake_case → kebab-case. */
export function kebab(s: string): string {
  return s.replace(/_/g, '-');
}

// ---------------------------------------------------------------------------------------------
// Builders

interface Common<T> {
  doc: string;
  default?: T;
  defaultText?: string;
  required?: boolean;
  aliases?: readonly string[];
  metavar?: string;
  flag?: false | string;
}

type Built<T, C extends { required?: boolean; default?: unknown }> = Opt<T, C['required'] extends true ? true : false> &
  (C['default'] extends undefined ? unknown : { readonly default: T });

function make<T, C extends Common<T>>(
  c: C,
  expected: string,
  check: (v: unknown, path: string, ctx: ParseContext) => T,
  fromText: (s: string, path: string) => unknown = (s) => s,
  extra: Partial<Opt<T>> = {},
): Built<T, C> {
  return { ...c, required: (c.required ?? false) as never, expected, check, fromText, ...extra } as unknown as Built<T, C>;
}

/** A numeric range; an `Exclusive` flag opens that end. */
export interface NumberRange {
  min?: number;
  max?: number;
  minExclusive?: boolean;
  maxExclusive?: boolean;
}

/** The range as people write it: `[0, 1)`, `(1, inf)`. */
export function formatRange(r: NumberRange): string {
  const lo = r.min === undefined ? '(-inf' : `${r.minExclusive ? '(' : '['}${r.min}`;
  const hi = r.max === undefined ? 'inf)' : `${r.max}${r.maxExclusive ? ')' : ']'}`;
  return `${lo}, ${hi}`;
}

function inRange(v: number, r: NumberRange): boolean {
  if (r.min !== undefined && (r.minExclusive ? v <= r.min : v < r.min)) return false;
  if (r.max !== undefined && (r.maxExclusive ? v >= r.max : v > r.max)) return false;
  return true;
}

/** Parses command-line number text: decimals, exponents, `inf`, and fractions such as `8/255` or `1/255`. */
export function numberFromText(s: string): unknown {
  const t = s.trim();
  if (t === '') return s;
  const frac = /^([+-]?[\d.]+(?:e[+-]?\d+)?)\/([\d.]+(?:e[+-]?\d+)?)$/i.exec(t);
  if (frac) return Number(frac[1]) / Number(frac[2]);
  if (/^[+-]?inf(inity)?$/i.test(t)) return t.startsWith('-') ? -Infinity : Infinity;
  const n = Number(t);
  return Number.isNaN(n) ? s : n;
}

function checkNum(integer: boolean, r: NumberRange, v: unknown, path: string): number {
  const kind = integer ? 'an integer' : 'a number';
  const expected = `${kind} in ${formatRange(r)}`;
  if (typeof v !== 'number' || !Number.isFinite(v)) fail(path, { code: 'type', value: v, expected });
  if (integer && !Number.isInteger(v)) fail(path, { code: 'type', value: v, expected });
  if (!inRange(v, r)) fail(path, { code: 'range', value: v, expected });
  return v;
}

function numberOpt<C extends Common<number> & NumberRange>(c: C, integer: boolean) {
  const expected = `${integer ? 'an integer' : 'a number'} in ${formatRange(c)}`;
  return make<number, C>(c, expected, (v, p) => checkNum(integer, c, v, p), numberFromText, { metavar: c.metavar ?? (integer ? 'N' : 'X') });
}

/** The option builders. */
export const opt = {
  /** A finite number in a range. */
  number<C extends Common<number> & NumberRange>(c: C) {
    return numberOpt(c, false);
  },
  /** An integer in a range. */
  integer<C extends Common<number> & NumberRange>(c: C) {
    return numberOpt(c, true);
  },
  /** true or false; on the command line a flag without a value (`--targeted`). */
  boolean<C extends Common<boolean>>(c: C) {
    return make<boolean, C>(
      c,
      'true or false',
      (v, p) => (typeof v === 'boolean' ? v : fail(p, { code: 'type', value: v, expected: 'true or false' })),
      (s) => (s === 'true' ? true : s === 'false' ? false : s),
      { isBoolean: true },
    );
  },
  /** One of a fixed list of strings (or numbers). */
  choice<const V extends string | number, C extends Common<V>>(values: readonly V[], c: C) {
    const expected = `one of ${values.join(', ')}`;
    return make<V, C>(
      c,
      expected,
      (v, p) => (values.includes(v as V) ? (v as V) : fail(p, { code: 'choice', value: v, expected })),
      (s) => (typeof values[0] === 'number' ? numberFromText(s) : s),
      { metavar: c.metavar ?? values.join('|') },
    );
  },
  /** A non-empty string. */
  string<C extends Common<string>>(c: C) {
    return make<string, C>(c, 'a non-empty string', (v, p) => (typeof v === 'string' && v !== '' ? v : fail(p, { code: 'type', value: v, expected: 'a non-empty string' })), (s) => s, {
      metavar: c.metavar ?? 'TEXT',
    });
  },
  /** A file or folder path; relative paths resolve against the context's `baseDir` (the config's folder), and stay as given without one (flags); http(s) URLs stay as given. */
  path<C extends Common<string>>(c: C) {
    return make<string, C>(
      c,
      'a file path',
      (v, p, ctx) => (typeof v === 'string' && v !== '' ? (ctx.baseDir === undefined || /^https?:\/\//i.test(v) ? v : path.resolve(ctx.baseDir, v)) : fail(p, { code: 'type', value: v, expected: 'a file path' })),
      (s) => s,
      { metavar: c.metavar ?? 'PATH' },
    );
  },
  /** A list of items; on the command line comma-separated (`--mean 0.485,0.456,0.406`). */
  list<T, C extends Common<T[]> & { minLength?: number; maxLength?: number }>(item: Opt<T>, c: C) {
    const len = c.minLength !== undefined && c.minLength === c.maxLength ? `a list of ${c.minLength} values` : c.minLength ? 'a non-empty list of values' : 'a list of values';
    const expected = `${len}, each ${item.expected}`;
    return make<T[], C>(
      c,
      expected,
      (v, p, ctx) => {
        if (!Array.isArray(v)) fail(p, { code: 'type', value: v, expected });
        if ((c.minLength !== undefined && v.length < c.minLength) || (c.maxLength !== undefined && v.length > c.maxLength)) fail(p, { code: 'length', value: v, expected });
        return v.map((x, i) => item.check(x, `${p}[${i}]`, ctx));
      },
      (s, p) => (s.trim() === '' ? [] : splitList(s).map((x) => item.fromText(x, p))),
      { metavar: c.metavar ?? `${item.metavar ?? 'X'},...` },
    );
  },
  /** One value or a list of them (a sweep: `eps: [0.01, 0.03]` or `--eps 0.01,0.03`). */
  oneOrMany<T, C extends Common<T | T[]>>(item: Opt<T>, c: C) {
    const expected = `${item.expected}, or a non-empty list of them`;
    return make<T | T[], C>(
      c,
      expected,
      (v, p, ctx) => {
        if (!Array.isArray(v)) return item.check(v, p, ctx);
        if (v.length === 0) fail(p, { code: 'length', value: v, expected });
        return v.map((x, i) => item.check(x, `${p}[${i}]`, ctx));
      },
      (s, p) => {
        const parts = splitList(s);
        return parts.length === 1 ? item.fromText(parts[0]!, p) : parts.map((x) => item.fromText(x, p));
      },
      { metavar: c.metavar ?? `${item.metavar ?? 'X'}[,...]` },
    );
  },
  /** A nested mapping with its own option map (YAML only unless its keys are flattened by the caller). */
  object<M extends OptionMap, C extends Common<OptionsOf<M>>>(map: M, c: C) {
    return make<OptionsOf<M>, C>(c, `a mapping with keys ${Object.keys(map).join(', ')}`, (v, p, ctx) => parseOptions(map, v, { ...ctx, where: p }), (s) => s, { flag: false });
  },
  /** Any value checked by a custom function (for shapes the builders above do not cover). */
  custom<T, C extends Common<T>>(expected: string, check: (v: unknown, path: string, ctx: ParseContext) => T, c: C, fromText?: (s: string, path: string) => unknown) {
    return make<T, C>(c, expected, check, fromText);
  },
};

/** Splits comma-separated text, keeping empty items out. */
function splitList(s: string): string[] {
  return s
    .split(',')
    .map((x) => x.trim())
    .filter((x) => x !== '');
}

// ---------------------------------------------------------------------------------------------
// Parsing

/** Options for `parseOptions`. */
export interface ParseOptions {
  /** Keys that the caller handles itself (accepted without checking). */
  extraKeys?: readonly string[];
  /** Defaults not applied (a spec that will be merged with another's defaults later). */
  noDefaults?: boolean;
}

/**
 * Checks a YAML/JSON mapping against `map` and returns it in camelCase with defaults filled in.
 * Throws an OptionError at the first unknown key, missing required key, or bad value.
 */
export function parseOptions<M extends OptionMap>(map: M, raw: unknown, ctx: ParseContext, po: ParseOptions = {}): OptionsOf<M> {
  const where = ctx.where;
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    fail(ctx, { code: 'type', value: raw, expected: `a mapping (key: value) with keys ${Object.keys(map).join(', ')}` });
  }
  const o = raw as Record<string, unknown>;
  const warn = ctx.warn ?? defaultWarn;
  const byName = resolveKeys(map, o, where, ctx.camelCase ? () => {} : warn, po.extraKeys ?? [], ctx.camelCase ?? false);
  const out: Record<string, unknown> = {};
  for (const [key, def] of Object.entries(map)) {
    const given = byName.get(key);
    const p = keyPath(where, ctx.camelCase ? camel(key) : key);
    if (given === undefined || o[given] === undefined) {
      if (def.required) fail(p, { code: 'required', value: undefined, expected: def.expected }, `'${p}' is required: ${def.expected}`);
      if (!po.noDefaults && def.default !== undefined) out[camel(key)] = cloneDefault(def.default);
      continue;
    }
    out[camel(key)] = def.check(o[given], p, ctx);
  }
  return out as OptionsOf<M>;
}

function cloneDefault(v: unknown): unknown {
  return Array.isArray(v) ? [...v] : v;
}

/** Maps each declared key to the spelling the user wrote; unknown keys and duplicates are errors. */
function resolveKeys(map: OptionMap, o: Record<string, unknown>, where: string, warn: (m: string) => void, extra: readonly string[], camelNames: boolean): Map<string, string> {
  const names = Object.keys(map).map((k) => (camelNames ? camel(k) : k));
  const spellings = new Map<string, string>();
  for (const [key, def] of Object.entries(map)) {
    spellings.set(key, key);
    for (const alt of [camel(key), kebab(key), ...(def.aliases ?? [])]) if (alt !== key && !spellings.has(alt)) spellings.set(alt, key);
  }
  const found = new Map<string, string>();
  for (const k of Object.keys(o)) {
    if (extra.includes(k)) continue;
    const key = spellings.get(k);
    if (key === undefined) {
      const hint = nearest(k, [...names, ...extra]);
      fail(keyPath(where, k), { code: 'unknown_key', value: k, expected: `one of ${names.join(', ')}` },
        `${where ? `'${where}' has ` : ''}unknown key '${k}'${hint ? ` (did you mean '${hint}'?)` : ''}; allowed keys are ${[...names, ...extra].join(', ')}`);
    }
    const prev = found.get(key);
    if (prev !== undefined) fail(keyPath(where, key), { code: 'conflict', value: k, expected: 'one spelling' }, `'${keyPath(where, camelNames ? camel(key) : key)}' is given twice (as '${prev}' and '${k}'); give it once`);
    found.set(key, k);
    if (k !== key) warn(`'${keyPath(where, k)}' is deprecated; write '${key}' (snake_case in YAML)`);
  }
  return found;
}

/** The declared key closest to `k` by edit distance (≤ 2), for "did you mean" hints. */
function nearest(k: string, keys: string[]): string | null {
  const norm = (s: string) => s.toLowerCase().replace(/[-_]/g, '');
  let best: string | null = null;
  let bestD = 3;
  for (const key of keys) {
    const d = editDistance(norm(k), norm(key));
    if (d < bestD) [best, bestD] = [key, d];
  }
  return best;
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diag = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const up = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = up;
    }
  }
  return row[b.length]!;
}

// ---------------------------------------------------------------------------------------------
// Command line

/** The flag name of a key (kebab-case, or the option's own `flag`), or null when it has none. */
export function flagName(key: string, def: Opt<unknown>): string | null {
  if (def.flag === false) return null;
  return typeof def.flag === 'string' ? def.flag : kebab(key);
}

/** `node:util` parseArgs option entries for a map's flags. */
export function flagSpec(map: OptionMap): Record<string, { type: 'string' | 'boolean' }> {
  const out: Record<string, { type: 'string' | 'boolean' }> = {};
  for (const [key, def] of Object.entries(map)) {
    const f = flagName(key, def);
    if (f) out[f] = { type: def.isBoolean ? 'boolean' : 'string' };
  }
  return out;
}

/**
 * Reads a map's flags from parseArgs `values` (text) into the YAML-shaped object that
 * `parseOptions` checks, keyed by snake_case name; absent flags are left out. Values are checked
 * here, so a bad flag is a FlagError naming `--flag`.
 */
export function flagValues(map: OptionMap, values: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, def] of Object.entries(map)) {
    const f = flagName(key, def);
    if (!f) continue;
    const v = values[f];
    if (v === undefined) continue;
    const p = `--${f}`;
    const raw = typeof v === 'string' && !def.isBoolean ? def.fromText(v, p) : v;
    def.check(raw, p, { where: '--' });
    out[key] = raw;
  }
  return out;
}

/** Parses a map's flags into the typed options (defaults filled in). */
export function parseFlags<M extends OptionMap>(map: M, values: Record<string, unknown>, ctx: Omit<ParseContext, 'where'> = {}): OptionsOf<M> {
  return parseOptions(map, flagValues(map, values), { ...ctx, where: '' });
}

// ---------------------------------------------------------------------------------------------
// Documentation

/** One option as `gauntlet list` and the docs show it. */
export interface OptionDescription {
  key: string;
  flag: string | null;
  expected: string;
  default: string | null;
  required: boolean;
  doc: string;
}

/** A default as help and `gauntlet list` show it: lists comma-separated, mappings as `{name: sgd, weight_decay: 0}` (snake_case keys). */
export function showDefault(v: unknown): string {
  if (Array.isArray(v)) return v.map(showDefault).join(',');
  if (v !== null && typeof v === 'object') return `{${Object.entries(v).map(([k, x]) => `${k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)}: ${Array.isArray(x) ? `[${x.map(showDefault).join(', ')}]` : showDefault(x)}`).join(', ')}}`;
  return String(v);
}

/** The map as rows: key, flag, what is allowed, default, doc. */
export function describeOptions(map: OptionMap): OptionDescription[] {
  return Object.entries(map).map(([key, def]) => ({
    key,
    flag: flagName(key, def) && `--${flagName(key, def)}`,
    expected: def.expected,
    default: def.defaultText ?? (def.default === undefined ? null : showDefault(def.default)),
    required: def.required,
    doc: def.doc,
  }));
}

/** `--help` lines for a map's flags: `  --step-size X   absolute step size; a number in (0, inf) (default: 2.5·ε/steps)`. */
export function helpLines(map: OptionMap, width = 24): string {
  const lines: string[] = [];
  for (const [key, def] of Object.entries(map)) {
    const f = flagName(key, def);
    if (!f) continue;
    const left = `  --${f}${def.isBoolean ? '' : ` ${def.metavar ?? 'X'}`}`;
    const dflt = def.defaultText ?? (def.default === undefined ? null : showDefault(def.default));
    const obvious = def.isBoolean || /^(a file path|a non-empty string)$/.test(def.expected) || def.expected.includes('(-inf, inf)') || (def.metavar ?? '').includes('|');
    const right = `${def.doc}${obvious ? '' : `; ${def.expected}`}${def.required ? ' (required)' : dflt !== null && !def.isBoolean ? ` (default ${dflt})` : ''}`;
    lines.push(left.length >= width ? `${left}\n${' '.repeat(width)}${right}` : `${left.padEnd(width)}${right}`);
  }
  return lines.join('\n');
}

/** The YAML keys a map accepts, for messages. */
export function keysOf(map: OptionMap): string[] {
  return Object.keys(map);
}
