import { UsageError } from '../errors.js';
import { corruptions, shifts } from '../stress/drift/index.js';
import { listAttacks } from '../stress/adversarial/registry.js';
import { noiseModels } from '../stress/annotation/registry.js';
import { monitorTypes } from '../stream/monitors/index.js';
import { methods } from '../explain/registry.js';
import { rules } from '../autodiff/registry.js';
import { parse } from './args.js';

/**
 * One section of `gauntlet list`: a header and rows, built from a registry. Add a component kind
 * (attacks, noise models …) as one entry in `sections`.
 */
export interface ListSection {
  readonly summary: string;
  readonly header: readonly string[];
  rows(): readonly (readonly string[])[];
}

/** Every section `gauntlet list` knows, in the order it lists them. */
export const sections: Record<string, ListSection> = {
  corruptions: {
    summary: 'image corruptions (ImageNet-C family) for corrupt and drift specs {corruption, severity}',
    header: ['name', 'deterministic', 'summary'],
    rows: () => corruptions.map((c) => [c.name, c.deterministic ? 'yes' : 'no', c.summary]),
  },
  shifts: {
    summary: 'tabular / general shifts for shift --kind and drift specs {shift, ...}',
    header: ['name', 'keys', 'summary'],
    rows: () => shifts.map((s) => [s.name, s.keys.join(', '), s.summary]),
  },
  attacks: {
    summary: "adversarial attacks for attack --attack and adversarial specs {attack, norm, eps, ...}",
    header: ['name', 'norms', 'access', 'defaults', 'summary'],
    rows: () => listAttacks().map((a) => [a.name, a.norms.join(', '), a.access, a.defaults, a.summary]),
  },
  noise: {
    summary: "label-noise models for noise --model and annotation specs {model, rate, ...} (also {annotators: K, 'annotator-accuracy': A})",
    header: ['name', 'keys', 'summary'],
    rows: () => noiseModels.map((m) => [m.name, m.keys.join(', '), m.summary]),
  },
  monitors: {
    summary: 'stream monitors for stream scenarios (monitors: [...])',
    header: ['type', 'kind', 'defaults', 'summary'],
    rows: () => monitorTypes.map((m) => [m.type, m.kind, JSON.stringify(m.defaults), m.summary]),
  },
  explainers: {
    summary: 'attribution methods for explain --method and the explain section',
    header: ['name', 'needs gradients', 'summary'],
    rows: () => methods.map((m) => [m.name, m.gradients ? 'yes' : 'no', m.summary]),
  },
  gradients: {
    summary: 'ONNX ops with a gradient rule (ops without one allow only black-box attacks and explainers)',
    header: ['op'],
    rows: () => Object.keys(rules).sort().map((op) => [op]),
  },
};

export const help = `gauntlet list [SECTION] [--json]

Lists what Gauntlet can apply, from its registries. Without SECTION, lists the sections.

Sections:
${Object.entries(sections)
  .map(([k, s]) => `  ${k.padEnd(12)} ${s.summary}`)
  .join('\n')}

Options:
  --json      print one JSON array of objects (one per row) instead of a table
`;

export async function listVerb(argv: string[]): Promise<number> {
  const { values, positionals } = parse('list', argv, {}, true);
  if (values.help) return (process.stdout.write(help), 0);
  if (positionals.length > 1) throw new UsageError(`list: give one section, got ${positionals.length}: ${positionals.join(' ')}`);
  const name = positionals[0];
  if (name === undefined) {
    if (values.json) process.stdout.write(JSON.stringify(Object.entries(sections).map(([k, s]) => ({ section: k, summary: s.summary }))) + '\n');
    else process.stdout.write(Object.entries(sections).map(([k, s]) => `${k.padEnd(12)} ${s.summary}`).join('\n') + '\n');
    return 0;
  }
  const section = sections[name];
  if (!section) throw new UsageError(`list: unknown section '${name}'; sections are ${Object.keys(sections).join(', ')}`);
  const rows = section.rows();
  if (values.json) {
    process.stdout.write(JSON.stringify(rows.map((r) => Object.fromEntries(section.header.map((h, i) => [h, r[i]])))) + '\n');
    return 0;
  }
  const widths = section.header.map((h, i) => (i === section.header.length - 1 ? 0 : Math.max(h.length, ...rows.map((r) => r[i]!.length))));
  const line = (cells: readonly string[]): string => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  ');
  process.stdout.write([line(section.header), ...rows.map(line)].join('\n') + '\n');
  return 0;
}
