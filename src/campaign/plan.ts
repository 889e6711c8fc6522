import type { CampaignConfig, Stage, StressKind } from './config.js';
import { STRESS_KINDS } from './config.js';
import type { AttackSpec } from '../stress/adversarial/index.js';
import type { DriftSpec } from '../stress/drift/index.js';
import type { AnnotationSpec } from '../stress/annotation/index.js';

/** One stress setting of one kind, with a stable key derived from its resolved spec. */
export interface Setting<S> {
  kind: StressKind;
  spec: S;
  /** Canonical JSON of the spec: the key for caching and for seeding this stress's draws. */
  key: string;
  /** Short human label, e.g. "pgd linf ε=0.03". */
  label: string;
}

export interface CellPlan {
  /** Stable id, e.g. "c07-drift-adv". */
  id: string;
  stage: Stage;
  adversarial: Setting<AttackSpec> | null;
  drift: Setting<DriftSpec> | null;
  annotation: Setting<AnnotationSpec> | null;
  /** Hash of (stage, specs): identifies the cell's work for checkpoint/resume. */
  hash: string;
}

export interface Plan {
  cells: CellPlan[];
  settings: { adversarial: Setting<AttackSpec>[]; drift: Setting<DriftSpec>[]; annotation: Setting<AnnotationSpec>[] };
}

export { canonical, shortHash } from './canonical.js';
import { canonical, shortHash } from './canonical.js';

/** A spec value as a label shows it: lists comma-joined in brackets, numbers as written. */
function showParam(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(showParam).join(', ')}]`;
  if (v && typeof v === 'object') return `{${Object.entries(v as Record<string, unknown>).map(([k, x]) => `${k}=${showParam(x)}`).join(', ')}}`;
  return String(v);
}

/** A shift with every parameter it was given: `mean(features=[age], amount=2)`. */
function shiftLabel(spec: Record<string, unknown>): string {
  const params = Object.entries(spec).filter(([k, v]) => k !== 'shift' && v !== undefined);
  return `${spec.shift}(${params.map(([k, v]) => `${k}=${showParam(v)}`).join(', ')})`;
}

function label(kind: StressKind, spec: Record<string, unknown>): string {
  if (kind === 'adversarial') return `${spec.attack ?? spec.name} ${spec.norm ?? ''} ε=${spec.eps}${spec.epsUnits === 'std' ? 'σ' : ''}`.replace(/\s+/g, ' ');
  if (kind === 'drift') return spec.corruption ? `${spec.corruption} s${spec.severity}` : shiftLabel(spec);
  const at = spec.at === 'train' ? 'trained on ' : '';
  if (spec.model === 'annotators') return `${at}${spec.annotators} annotators acc ${spec.annotatorAccuracy ?? spec.accuracy ?? ''}`.trim();
  return `${at}${spec.model} ${spec.rate ?? ''}`.trim();
}

/**
 * Labels that tell settings apart: reports and results find cells by label, so two settings of a
 * kind whose short labels coincide (pgd at one ε with 10 and with 50 steps) get the keys in which
 * they differ appended, `pgd linf ε=0.03 (steps=50)`; identical specs keep one label.
 */
function distinctLabels<S>(settings: Setting<S>[]): Setting<S>[] {
  const byLabel = new Map<string, Setting<S>[]>();
  for (const st of settings) byLabel.set(st.label, [...(byLabel.get(st.label) ?? []), st]);
  return settings.map((st) => {
    const group = byLabel.get(st.label)!;
    if (new Set(group.map((g) => g.key)).size < 2) return st;
    const specs = group.map((g) => g.spec as Record<string, unknown>);
    const keys = [...new Set(specs.flatMap((o) => Object.keys(o)))].sort().filter((k) => new Set(specs.map((o) => canonical(o[k]))).size > 1);
    const own = st.spec as Record<string, unknown>;
    const extra = keys.map((k) => `${k}=${own[k] === undefined ? 'default' : showParam(own[k])}`).join(', ');
    return { ...st, label: `${st.label} (${extra})` };
  });
}

/**
 * The staged design: baseline; each setting alone (isolated); every pair of settings from two
 * different kinds (pairwise); one setting of every kind (combined) — or, with `factorial`, every
 * combination including "none" for each kind.
 */
export function makePlan(config: CampaignConfig): Plan {
  const mk = <S>(kind: StressKind, specs: S[]): Setting<S>[] =>
    distinctLabels(specs.map((spec) => ({ kind, spec, key: canonical(spec), label: label(kind, spec as Record<string, unknown>) })));
  const settings = {
    adversarial: mk('adversarial', config.stresses.adversarial),
    drift: mk('drift', config.stresses.drift),
    annotation: mk('annotation', config.stresses.annotation),
  };
  const cells: CellPlan[] = [];
  const add = (stage: Stage, s: { adversarial?: Setting<AttackSpec>; drift?: Setting<DriftSpec>; annotation?: Setting<AnnotationSpec> }) => {
    const parts = STRESS_KINDS.filter((k) => s[k]).map((k) => `${k}=${s[k]!.key}`);
    const hash = shortHash(`${stage}|${parts.join('|')}`);
    const tag = STRESS_KINDS.filter((k) => s[k]).map((k) => ({ adversarial: 'adv', drift: 'drift', annotation: 'ann' })[k]).join('+') || 'clean';
    cells.push({ id: `c${String(cells.length).padStart(3, '0')}-${tag}`, stage, adversarial: s.adversarial ?? null, drift: s.drift ?? null, annotation: s.annotation ?? null, hash });
  };
  const opt = <T>(xs: T[]): (T | undefined)[] => [undefined, ...xs];
  if (config.stages.includes('factorial')) {
    for (const d of opt(settings.drift)) for (const n of opt(settings.annotation)) for (const a of opt(settings.adversarial)) {
      add(d || n || a ? 'factorial' : 'baseline', { drift: d, annotation: n, adversarial: a });
    }
    return { cells, settings };
  }
  // The baseline is always computed: every drop and interaction is measured against it.
  add('baseline', {});
  if (config.stages.includes('isolated')) {
    for (const a of settings.adversarial) add('isolated', { adversarial: a });
    for (const d of settings.drift) add('isolated', { drift: d });
    for (const n of settings.annotation) add('isolated', { annotation: n });
  }
  if (config.stages.includes('pairwise')) {
    for (const d of settings.drift) for (const a of settings.adversarial) add('pairwise', { drift: d, adversarial: a });
    for (const n of settings.annotation) for (const a of settings.adversarial) add('pairwise', { annotation: n, adversarial: a });
    for (const d of settings.drift) for (const n of settings.annotation) add('pairwise', { drift: d, annotation: n });
  }
  if (config.stages.includes('combined') && settings.adversarial.length && settings.drift.length && settings.annotation.length) {
    for (const d of settings.drift) for (const n of settings.annotation) for (const a of settings.adversarial) add('combined', { drift: d, annotation: n, adversarial: a });
  }
  return { cells, settings };
}
