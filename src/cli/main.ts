import { GauntletError } from '../errors.js';
import { flushDeprecations } from './args.js';
import { breakProgressLine } from './progress.js';
import { verbs } from './verbs.js';

const usage = `gauntlet — stress-test a trained classifier (ONNX) against adversarial perturbation,
distribution shift and annotation noise, alone and combined.

Usage: gauntlet <verb> [options]        gauntlet <verb> --help for a verb's options

Verbs:
${Object.entries(verbs)
  .map(([k, v]) => `  ${k.padEnd(Math.max(...Object.keys(verbs).map((n) => n.length)) + 1)} ${v.summary}`)
  .join('\n')}

Start here:
  gauntlet run                          the default campaign on the embedded model and data
  gauntlet eval --model m.onnx --data test.npz

Global options: --verbose (stack traces on errors), --json (machine-readable output), --threads N.
Exit codes: 0 success (also when the reader of stdout goes away), 1 a check or budget failed, 2 bad input or usage,
74 stdout/stderr could not be written, 130/143 interrupted (SIGINT/SIGTERM),
other values are bugs.
`;

export async function main(argv: string[]): Promise<number> {
  const verbose = argv.includes('--verbose');
  const [verb, ...rest] = argv;
  try {
    if (verb === undefined || verb === '--help' || verb === '-h' || verb === 'help') {
      process.stdout.write(usage);
      return verb === undefined ? 2 : 0;
    }
    if (verb === '--version') {
      process.stdout.write('gauntlet 0.1.0\n');
      return 0;
    }
    const v = verbs[verb];
    if (!v) {
      process.stderr.write(`gauntlet: unknown verb '${verb}'; verbs are ${Object.keys(verbs).join(', ')} (see 'gauntlet --help')\n`);
      return 2;
    }
    const code = await v.main(rest);
    flushDeprecations();
    return code;
  } catch (e) {
    breakProgressLine();
    flushDeprecations();
    if (e instanceof GauntletError) {
      process.stderr.write(`gauntlet: ${e.message}\n`);
      if (verbose && e.stack) process.stderr.write(e.stack + '\n');
      return e.exitCode;
    }
    const err = e as Error;
    process.stderr.write(`gauntlet: internal error: ${err?.message ?? String(e)}${verbose ? '' : ' (run with --verbose for the stack trace)'}\n`);
    if (verbose && err?.stack) process.stderr.write(err.stack + '\n');
    return 70;
  }
}

