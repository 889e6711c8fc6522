import { parseArgs, type ParseArgsConfig } from 'node:util';
import { checkRange, UsageError } from '../errors.js';
import { deprecations } from '../options/schema.js';

/** Prints the deprecation warnings the library collected, one line each, once. */
export function flushDeprecations(): void {
  for (const m of deprecations.splice(0)) process.stderr.write(`gauntlet: warning: ${m}\n`);
}

export type OptionSpec = NonNullable<ParseArgsConfig['options']>;

/** Options every verb takes. */
export const commonOptions = {
  help: { type: 'boolean', short: 'h' },
  verbose: { type: 'boolean' },
  json: { type: 'boolean' },
  threads: { type: 'string' },
} as const satisfies OptionSpec;

/** Parses a verb's arguments strictly; unknown options and stray positionals are usage errors. */
export type Parsed<T extends OptionSpec> = ReturnType<typeof parseArgs<{ args: string[]; options: typeof commonOptions & T; strict: true; allowPositionals: boolean }>>;

export function parse<T extends OptionSpec>(verb: string, argv: string[], options: T, allowPositionals = false): Parsed<T> {
  try {
    return parseArgs({ args: joinNegatives(argv, { ...commonOptions, ...options }), options: { ...commonOptions, ...options }, strict: true, allowPositionals });
  } catch (e) {
    throw new UsageError(`${verb}: ${(e as Error).message.split('\n')[0]!.replace(/\. To specify a positional.*$/, '')} (see 'gauntlet ${verb} --help')`);
  }
}

/** Joins `--opt -1` into `--opt=-1` for value options, so a negative number reaches the range check, not the parser. */
function joinNegatives(argv: string[], options: OptionSpec): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const next = argv[i + 1];
    const name = a.startsWith('--') && !a.includes('=') ? a.slice(2) : null;
    if (name && options[name]?.type === 'string' && next !== undefined && /^-(\d|\.\d|inf)/i.test(next)) {
      out.push(`${a}=${next}`);
      i++;
    } else out.push(a);
  }
  return out;
}

/** A numeric option: parsed, checked against its range, or the default when absent. */
export function numberOpt(
  name: string,
  raw: string | undefined,
  dflt: number,
  range: { min?: number; max?: number; minExclusive?: boolean; integer?: boolean },
): number {
  if (raw === undefined) return dflt;
  const v = raw.trim() === '' ? NaN : Number(raw);
  if (Number.isNaN(v)) throw new UsageError(`'--${name}' must be a number, got '${raw}'`);
  return checkRange(`--${name}`, v, range);
}

/** A required string option. */
export function required(verb: string, name: string, v: string | undefined): string {
  if (v === undefined || v === '') throw new UsageError(`${verb}: '--${name}' is required (see 'gauntlet ${verb} --help')`);
  return v;
}

/** Progress on stderr when it is a terminal (one self-overwriting line with an ETA): see progress.ts. */
export { progressReporter } from './progress.js';
