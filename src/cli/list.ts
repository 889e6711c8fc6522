import { UsageError } from '../errors.js';
import { corruptions, CORRUPTION_OPTIONS, shifts } from '../stress/drift/index.js';
import { attackOptions } from '../stress/adversarial/spec.js';
import { listAttacks } from '../stress/adversarial/registry.js';
import { ANNOTATORS_OPTIONS, noiseModels } from '../stress/annotation/index.js';
import { monitorTypes } from '../stream/monitors/index.js';
import { methods } from '../explain/registry.js';
import { GRADIENT_OPTIONS } from '../autodiff/options.js';
import { LOWERED_OPS } from '../autodiff/lower.js';
import { rules } from '../autodiff/registry.js';

/** How the lowered ops get their gradient (README: Models from the wild). */
const LOWERED_HOW: Record<string, string> = {
  If: 'lowered: the branch taken inlined (condition independent of the data), else both merged with Where',
  Loop: 'lowered: unrolled for its trip count (fixed trip count, condition that stays true)',
  Scan: 'lowered: unrolled over the sequence (opset 9+)',
  LSTM: 'lowered: unrolled cell equations (directions, states, peepholes, lengths, clip)',
  GRU: 'lowered: unrolled cell equations (linear_before_reset 0/1, directions, states, lengths)',
  RNN: 'lowered: unrolled cell equations (Tanh/Sigmoid/Relu, directions, states, lengths)',
  MaxPool: 'rule (2-D); 1-D lowered to 2-D',
};
import { DATA_OPTIONS, MODEL_OPTIONS, PREPROCESS_OPTIONS } from '../options/declarations.js';
import { describeOptions, type OptionDescription, type OptionMap } from '../options/schema.js';
import { parse } from './args.js';
import { LOSSES, OPTIMIZERS, RECIPE_OPTIONS, SCHEDULES } from '../train/recipe.js';
import { ADVERSARIAL_METHODS, CURRICULUM_OPTIONS, EARLY_STOP_OPTIONS } from '../train/adversarial.js';
import { AUGMENT_OPTIONS } from '../train/augment.js';
import { ENSEMBLE_OPTIONS } from '../train/ensemble.js';
import { CLEAN_LABELS_OPTIONS } from '../train/clean.js';
import { COTEACHING_OPTIONS } from '../train/coteaching.js';

/** One row of a section: its cells and, for a component, its declared options. */
export interface ListRow {
  readonly cells: readonly string[];
  /** The component's option map (without the key that names the component itself). */
  readonly options?: OptionMap;
}

/**
 * One section of `gauntlet list`: a header and rows, built from a registry. Add a component kind
 * (attacks, noise models …) as one entry in `sections`. Rows of components carry their option
 * maps, so the table, `--json` and `gauntlet list SECTION NAME` all show the declared options.
 */
export interface ListSection {
  readonly summary: string;
  readonly header: readonly string[];
  rows(): readonly ListRow[];
}

/** The map without `key` (the key that names the component: `attack`, `corruption`, `model`). */
function without(map: OptionMap, key: string): OptionMap {
  return Object.fromEntries(Object.entries(map).filter(([k]) => k !== key));
}

/** What is allowed, shortly: `int [1, 100000]`, `(0, inf)`, `linf|l2`, `bool`. */
export function shortExpected(expected: string): string {
  return expected
    .replace(/^an integer in /, 'int ')
    .replace(/^a number in /, '')
    .replace(/^one of (.*)$/, (_, v: string) => v.split(', ').join('|'))
    .replace(/^true or false$/, 'bool');
}

/** One option in a table cell: `steps=20 (int [1, 100000])`, `eps required (...)`. */
export function compactOption(d: OptionDescription): string {
  const dflt = d.required ? ' required' : d.default !== null ? `=${d.default}` : '';
  return `${d.key}${dflt} (${shortExpected(d.expected)})`;
}

/** Every section `gauntlet list` knows, in the order it lists them. */
export const sections: Record<string, ListSection> = {
  corruptions: {
    summary: 'image corruptions (ImageNet-C family) for corrupt and drift specs {corruption, severity}',
    header: ['name', 'deterministic', 'summary'],
    rows: () => corruptions.map((c) => ({ cells: [c.name, c.deterministic ? 'yes' : 'no', c.summary], options: without(CORRUPTION_OPTIONS, 'corruption') })),
  },
  shifts: {
    summary: 'tabular / general shifts for shift --kind and drift specs {shift, ...}',
    header: ['name', 'summary'],
    rows: () => shifts.map((s) => ({ cells: [s.name, s.summary], options: s.options })),
  },
  attacks: {
    summary: 'adversarial attacks for attack --attack and adversarial specs {attack, norm, eps, ...}',
    header: ['name', 'norms', 'access', 'summary'],
    rows: () =>
      listAttacks().map((a) => ({ cells: [a.name, a.norms.join(', '), a.access, a.summary + (/^preset=/.test(a.defaults) ? ` (${a.defaults.replace(/^preset=\w+, /, 'presets: ')})` : '')], options: without(attackOptions(a.name), 'attack') })),
  },
  noise: {
    summary: 'label-noise models for noise --noise-model and annotation specs {model, rate, ...} (also {annotators: K, annotator_accuracy: A})',
    header: ['name', 'summary'],
    rows: () => [
      ...noiseModels.map((m) => ({ cells: [m.name, m.summary], options: m.options })),
      { cells: ['annotators', 'simulated annotators (noise --annotators K): their labels and a consensus'], options: without(ANNOTATORS_OPTIONS, 'model') },
    ],
  },
  monitors: {
    summary: 'stream monitors for stream scenarios (monitors: [...])',
    header: ['type', 'kind', 'on', 'summary'],
    rows: () => monitorTypes.map((m) => ({ cells: [m.type, m.kind, m.signals.length ? m.signals.join('|') : `(${m.feed})`, m.summary], options: m.options })),
  },
  explainers: {
    summary: 'attribution methods for explain --method and the explain section',
    header: ['name', 'needs gradients', 'summary'],
    rows: () => methods.map((m) => ({ cells: [m.name, m.gradients ? 'yes' : 'no', m.summary], options: m.options })),
  },
  declarations: {
    summary: 'the model and data declarations: config model:/data:, stream scenarios, --model-spec/--data-spec, and every verb\'s flags',
    header: ['declaration', 'key', 'flag', 'allowed', 'default', 'doc'],
    rows: () => {
      const rows = (decl: string, map: OptionMap, prefix = ''): ListRow[] =>
        describeOptions(map).map((d) => ({ cells: [decl, prefix + d.key, d.flag ?? '-', shortExpected(d.expected), d.required ? 'required' : (d.default ?? '-'), d.doc] }));
      return [...rows('model', MODEL_OPTIONS), ...rows('model', PREPROCESS_OPTIONS, 'preprocess.'), ...rows('data', DATA_OPTIONS)];
    },
  },
  training: {
    summary: 'training recipe keys (gauntlet train --recipe): losses, optimizers, schedules, adversarial training, augmentation, early stopping',
    header: ['name', 'summary'],
    rows: () => {
      // Nested recipe keys are YAML only: no flags (gauntlet train's flags are the recipe row's).
      const yamlOnly = (m: OptionMap): OptionMap => Object.fromEntries(Object.entries(m).map(([k, d]) => [k, { ...d, flag: false }]));
      const named = (kind: string, maps: Record<string, OptionMap>, key: string) =>
        Object.entries(maps).map(([n, m]) => ({ cells: [`${kind}:${n}`, m[key]!.doc], options: yamlOnly(without(m, key)) }));
      return [
        { cells: ['recipe', 'the top-level keys of a recipe (flags: gauntlet train --help)'], options: RECIPE_OPTIONS },
        ...named('loss', LOSSES, 'name'),
        ...named('optimizer', OPTIMIZERS, 'name'),
        ...named('schedule', SCHEDULES, 'name'),
        ...named('adversarial', ADVERSARIAL_METHODS, 'method'),
        { cells: ['curriculum', 'adversarial.curriculum: ramps of ε, attack steps and augmentation severity'], options: yamlOnly(CURRICULUM_OPTIONS) },
        { cells: ['augment', 'corruption augmentation from the drift library'], options: yamlOnly(AUGMENT_OPTIONS) },
        { cells: ['early_stop', 'early stopping on validation or PGD validation accuracy (keeps the best epoch)'], options: yamlOnly(EARLY_STOP_OPTIONS) },
        { cells: ['ensemble', 'a deep ensemble of K members from seeds seed, seed+1, … as one model'], options: yamlOnly(ENSEMBLE_OPTIONS) },
        { cells: ['clean_labels', 'clean, then retrain: cross-fitted confident-learning audit, retrain on the kept items'], options: yamlOnly(CLEAN_LABELS_OPTIONS) },
        { cells: ['coteaching', 'co-teaching: two networks learn from each other\'s small-loss items (needs init: reinit)'], options: yamlOnly(COTEACHING_OPTIONS) },
      ];
    },
  },
  gradients: {
    summary: 'ONNX ops with a gradient: a rule, or a lowering into ops with rules for the probed shapes (ops with neither allow only black-box attacks and explainers); MaxPool shows the gradient options',
    header: ['op', 'how'],
    rows: () =>
      [...new Set([...Object.keys(rules), ...LOWERED_OPS])].sort().map((op) => {
        const how = LOWERED_HOW[op] ?? 'rule';
        return op === 'MaxPool' ? { cells: [op, how], options: GRADIENT_OPTIONS } : { cells: [op, how] };
      }),
  },
};

export const help = `gauntlet list [SECTION [NAME]] [--json]

Lists what Gauntlet can apply, from its registries. Without SECTION, lists the sections. A
component's options (from its declaration: key, default and what is allowed) follow its row; with
NAME (gauntlet list attacks pgd), one row per option with its flag and description.

Sections:
${Object.entries(sections)
  .map(([k, s]) => `  ${k.padEnd(12)} ${s.summary}`)
  .join('\n')}

Options:
  --json      print one JSON array of objects (one per row, options as a list) instead of a table
`;

function table(header: readonly string[], rows: readonly (readonly string[])[], extra: (i: number) => string[] = () => []): string {
  const widths = header.map((h, i) => (i === header.length - 1 ? 0 : Math.max(h.length, ...rows.map((r) => r[i]!.length))));
  const line = (cells: readonly string[]): string => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  ');
  return [line(header), ...rows.flatMap((r, i) => [line(r), ...extra(i)])].join('\n') + '\n';
}

export async function listVerb(argv: string[]): Promise<number> {
  const { values, positionals } = parse('list', argv, {}, true);
  if (values.help) return (process.stdout.write(help), 0);
  if (positionals.length > 2) throw new UsageError(`list: give a section and at most one name, got ${positionals.length}: ${positionals.join(' ')}`);
  const [name, component] = positionals;
  if (name === undefined) {
    if (values.json) process.stdout.write(JSON.stringify(Object.entries(sections).map(([k, s]) => ({ section: k, summary: s.summary }))) + '\n');
    else process.stdout.write(Object.entries(sections).map(([k, s]) => `${k.padEnd(12)} ${s.summary}`).join('\n') + '\n');
    return 0;
  }
  const section = sections[name];
  if (!section) throw new UsageError(`list: unknown section '${name}'; sections are ${Object.keys(sections).join(', ')}`);
  const rows = section.rows();
  if (component !== undefined) {
    const row = rows.find((r) => r.cells[0] === component);
    if (!row || !row.options) {
      const names = rows.filter((r) => r.options).map((r) => r.cells[0]);
      throw new UsageError(`list: ${names.length ? `unknown ${name} '${component}'; known: ${names.join(', ')}` : `section '${name}' has no per-component options`}`);
    }
    const opts = describeOptions(row.options);
    if (values.json) process.stdout.write(JSON.stringify(opts) + '\n');
    else process.stdout.write(table(['key', 'flag', 'allowed', 'default', 'doc'], opts.map((d) => [d.key, d.flag ?? '-', d.expected, d.required ? 'required' : (d.default ?? '-'), d.doc])));
    return 0;
  }
  if (values.json) {
    process.stdout.write(
      JSON.stringify(rows.map((r) => ({ ...Object.fromEntries(section.header.map((h, i) => [h, r.cells[i]])), ...(r.options ? { options: describeOptions(r.options) } : {}) }))) + '\n',
    );
    return 0;
  }
  const described = rows.map((r) => (r.options ? describeOptions(r.options).map(compactOption).join('; ') : null));
  // Options shared by every row (corruptions) are printed once, after the table.
  const shared = described.length > 1 && described.every((d) => d !== null && d === described[0]) ? described[0] : null;
  const extra = (i: number): string[] => (shared === null && described[i] ? [`    options: ${described[i]}`] : []);
  let out = table(section.header, rows.map((r) => r.cells), extra);
  if (shared !== null) out += `options of every ${name.replace(/s$/, '')}: ${shared}\n`;
  process.stdout.write(out);
  return 0;
}
