/**
 * Attack specs from configs and code. Every attack option is declared once in `ATTACK_OPTIONS`
 * (the option schema: YAML keys snake_case, flags kebab-case, TypeScript camelCase); each attack
 * accepts the subset its registry entry lists. `parseAttackSpec` checks an untrusted object
 * (unknown keys, names and out-of-range values are OptionErrors naming the key path, the bad value
 * and what is allowed); `resolveAttackSpec` fills in the registry's defaults.
 */
import { ConfigError } from '../../errors.js';
import { camel, fail, opt, parseOptions, type OptionMap, type ParseContext } from '../../options/schema.js';
import { attackNames, getAttack } from './registry.js';
import { ATTACK_NAMES, DESCENT_LOSSES, NORMS, PRESETS, type AttackSpec, type ResolvedAttackSpec } from './types.js';
import { EPS_UNITS } from './units.js';

/** Every attack option. `attack`, `norm`, `eps` and `eps_units` apply to all attacks; the rest to those that list them. */
export const ATTACK_OPTIONS = {
  attack: opt.choice(ATTACK_NAMES, { doc: 'the attack', required: true, metavar: 'NAME' }),
  norm: opt.choice(NORMS, { doc: 'threat-model norm', default: 'linf' }),
  eps: opt.oneOrMany(opt.number({ doc: 'radius', min: 0 }), { doc: 'radius in eps_units; a list gives a robustness curve', required: true, metavar: 'E[,E...]' }),
  eps_units: opt.choice(EPS_UNITS, { doc: "units of eps: std (feature j moves by eps x its std over the clean data) or raw (data domain); images are always raw", defaultText: 'std for tabular data, raw for images' }),
  steps: opt.integer({ doc: 'gradient iterations', min: 1, max: 100000 }),
  step_size: opt.number({ doc: 'absolute step size (excludes rel_step_size)', min: 0, minExclusive: true }),
  rel_step_size: opt.number({ doc: 'step size as a multiple of ε', min: 0, minExclusive: true, defaultText: '2.5 / steps' }),
  restarts: opt.integer({ doc: 'independent runs from fresh random starts', min: 1, max: 1000 }),
  random_start: opt.boolean({ doc: 'start from a uniform random point of the ball' }),
  loss: opt.choice(DESCENT_LOSSES, { doc: 'loss maximised by FGSM/PGD' }),
  targeted: opt.boolean({ doc: 'targeted losses towards the n_targets highest-scoring wrong classes' }),
  n_targets: opt.integer({ doc: 'target classes for targeted runs', min: 1, max: 1000 }),
  queries: opt.integer({ doc: 'query budget per point (Square)', min: 1, max: 10_000_000 }),
  p_init: opt.number({ doc: 'initial fraction of pixels changed per query (Square)', min: 0, max: 1, minExclusive: true }),
  preset: opt.choice(PRESETS, { doc: 'AutoAttack preset; explicit keys override it' }),
} satisfies OptionMap;

/** The option map of one attack: attack, norm, eps and the keys its registry entry lists, with its defaults. */
export function attackOptions(name: string): OptionMap {
  const def = getAttack(name);
  const out: OptionMap = {};
  for (const [key, o] of Object.entries(ATTACK_OPTIONS)) {
    const c = camel(key) as keyof AttackSpec;
    if (key === 'attack' || key === 'norm' || key === 'eps' || key === 'eps_units' || def.keys.includes(c)) {
      const d = (def.defaults as Record<string, unknown>)[c];
      out[key] = key === 'norm' ? { ...o, expected: `one of ${def.norms.join(', ')}` } : d === undefined ? o : { ...o, default: d };
    }
  }
  return out;
}

/**
 * Checks a config entry such as `{attack: 'pgd', norm: 'linf', eps: [0.01, 0.03], steps: 20}`
 * and returns it as an AttackSpec (only the keys given; `norm` defaults to 'linf').
 * `where` is the entry's key path for messages (e.g. `stresses.adversarial[0]`). With
 * `camelCase` (objects from TypeScript), camelCase keys are the canonical spelling.
 */
export function parseAttackSpec(obj: unknown, where: string, ctx: Omit<ParseContext, 'where'> = {}): AttackSpec {
  const c: ParseContext = { ...ctx, where };
  if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) {
    throw new ConfigError(`'${where}' must be a mapping like {attack: pgd, norm: linf, eps: 0.03}, got ${typeof obj === 'string' ? `'${obj}'` : JSON.stringify(obj)}`);
  }
  const o = obj as Record<string, unknown>;
  if (o.attack === undefined) fail(`${where}.attack`, { code: 'required', value: undefined, expected: `one of ${attackNames.join(', ')}` }, `'${where}.attack' is required: one of ${attackNames.join(', ')}`);
  const name = ATTACK_OPTIONS.attack.check(o.attack, `${where}.attack`, c);
  const def = getAttack(name);
  const map = attackOptions(name);
  let spec: Record<string, unknown>;
  try {
    spec = parseOptions(map, o, c, { noDefaults: true });
  } catch (e) {
    // Say which attack a key is unknown for.
    if (e instanceof ConfigError && /unknown key/.test(e.message)) throw new ConfigError(e.message.replace(/; allowed keys are/, ` for attack '${def.name}'; allowed keys are`));
    throw e;
  }
  const norm = (spec.norm as string | undefined) ?? 'linf';
  if (!def.norms.includes(norm as never)) fail(`${where}.norm`, { code: 'choice', value: norm, expected: `one of ${def.norms.join(', ')} (for ${def.name})` });
  if (spec.stepSize !== undefined && spec.relStepSize !== undefined) {
    const [a, b] = ctx.camelCase ? ['stepSize', 'relStepSize'] : ['step_size', 'rel_step_size'];
    throw new ConfigError(`'${where}': give either ${a} (absolute) or ${b} (× ε), not both`);
  }
  return { ...spec, attack: def.name, norm, eps: Array.isArray(spec.eps) ? [...(spec.eps as number[])] : spec.eps } as AttackSpec;
}

/** Fills in the registry's defaults; `eps` becomes a sorted list without duplicates. */
export function resolveAttackSpec(spec: AttackSpec): ResolvedAttackSpec {
  const def = getAttack(spec.attack);
  const eps = [...new Set(Array.isArray(spec.eps) ? spec.eps : [spec.eps])].sort((a, b) => a - b);
  const given = Object.fromEntries(Object.entries(spec).filter(([k, v]) => v !== undefined && k !== 'attack' && k !== 'norm' && k !== 'eps' && k !== 'epsUnits'));
  const merged = { attack: def.name, norm: spec.norm, eps, ...(spec.epsUnits ? { epsUnits: spec.epsUnits } : {}), ...def.defaults, ...given } as ResolvedAttackSpec;
  return def.resolve ? def.resolve(merged) : merged;
}
