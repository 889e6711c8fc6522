/**
 * Attack specs from configs and code: `parseAttackSpec` checks an untrusted object (unknown keys,
 * names and out-of-range values are ConfigErrors naming the key path, the bad value and what is
 * allowed); `resolveAttackSpec` fills in the registry's defaults.
 */
import { ConfigError } from '../../errors.js';
import { attackNames, getAttack } from './registry.js';
import { DESCENT_LOSSES, NORMS, PRESETS, type AttackName, type AttackSpec, type ResolvedAttackSpec } from './types.js';

type Check = (v: unknown, path: string) => void;

const int = (min: number, max: number): Check => (v, path) => {
  if (!(typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max)) bad(path, v, `an integer in [${min}, ${max}]`);
};
const positive: Check = (v, path) => {
  if (!(typeof v === 'number' && Number.isFinite(v) && v > 0)) bad(path, v, 'a finite number > 0');
};
const bool: Check = (v, path) => {
  if (typeof v !== 'boolean') bad(path, v, 'true or false');
};
const oneOf = (allowed: readonly string[]): Check => (v, path) => {
  if (typeof v !== 'string' || !allowed.includes(v)) bad(path, v, `one of ${allowed.join(', ')}`);
};

const CHECKS: Record<Exclude<keyof AttackSpec, 'attack' | 'norm' | 'eps'>, Check> = {
  steps: int(1, 100000),
  stepSize: positive,
  relStepSize: positive,
  restarts: int(1, 1000),
  randomStart: bool,
  loss: oneOf(DESCENT_LOSSES),
  targeted: bool,
  nTargets: int(1, 1000),
  queries: int(1, 10_000_000),
  pInit: (v, path) => {
    if (!(typeof v === 'number' && v > 0 && v <= 1)) bad(path, v, 'a number in (0, 1]');
  },
  preset: oneOf(PRESETS),
};

function bad(path: string, v: unknown, allowed: string): never {
  throw new ConfigError(`${path} must be ${allowed}, got ${show(v)}`);
}

function show(v: unknown): string {
  if (typeof v === 'string') return `'${v}'`;
  if (v === undefined) return 'nothing';
  try {
    return JSON.stringify(v) ?? String(v);
  } catch {
    return String(v);
  }
}

/**
 * Checks a config entry such as `{attack: 'pgd', norm: 'linf', eps: [0.01, 0.03], steps: 20}`
 * and returns it as an AttackSpec (only the keys given; `norm` defaults to 'linf').
 * `where` is the entry's key path for messages (e.g. `attacks[0]`).
 */
export function parseAttackSpec(obj: unknown, where: string): AttackSpec {
  if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) {
    throw new ConfigError(`${where} must be an object like {attack: 'pgd', norm: 'linf', eps: 0.03}, got ${show(obj)}`);
  }
  const o = obj as Record<string, unknown>;
  if (o.attack === undefined) throw new ConfigError(`${where}.attack is required; one of ${attackNames.join(', ')}`);
  if (typeof o.attack !== 'string' || !attackNames.includes(o.attack as AttackName)) {
    throw new ConfigError(`${where}.attack: unknown attack ${show(o.attack)}; known: ${attackNames.join(', ')}`);
  }
  const def = getAttack(o.attack);
  const allowed = ['attack', 'norm', 'eps', ...def.keys];
  for (const k of Object.keys(o)) {
    if (!allowed.includes(k)) throw new ConfigError(`${where}: unknown key '${k}' for attack '${def.name}'; allowed: ${allowed.join(', ')}`);
  }
  const norm = o.norm ?? 'linf';
  if (typeof norm !== 'string' || !def.norms.includes(norm as never)) bad(`${where}.norm`, norm, `one of ${def.norms.join(', ')}`);
  if (!NORMS.includes(norm as never)) bad(`${where}.norm`, norm, `one of ${NORMS.join(', ')}`);
  const eps = o.eps;
  const epsOk = (v: unknown) => typeof v === 'number' && Number.isFinite(v) && v >= 0;
  if (eps === undefined) throw new ConfigError(`${where}.eps is required: a number >= 0 or a non-empty list of them`);
  if (Array.isArray(eps)) {
    if (eps.length === 0) bad(`${where}.eps`, eps, 'a number >= 0 or a non-empty list of them');
    eps.forEach((v, i) => {
      if (!epsOk(v)) bad(`${where}.eps[${i}]`, v, 'a finite number >= 0');
    });
  } else if (!epsOk(eps)) bad(`${where}.eps`, eps, 'a finite number >= 0 or a list of them');
  const out: Record<string, unknown> = { attack: def.name, norm, eps: Array.isArray(eps) ? [...eps] : eps };
  for (const k of def.keys) {
    if (o[k] === undefined) continue;
    CHECKS[k as keyof typeof CHECKS](o[k], `${where}.${k}`);
    out[k] = o[k];
  }
  if (o.stepSize !== undefined && o.relStepSize !== undefined) {
    throw new ConfigError(`${where}: give either stepSize (absolute) or relStepSize (× ε), not both`);
  }
  return out as unknown as AttackSpec;
}

/** Fills in the registry's defaults; `eps` becomes a sorted list without duplicates. */
export function resolveAttackSpec(spec: AttackSpec): ResolvedAttackSpec {
  const def = getAttack(spec.attack);
  const eps = [...new Set(Array.isArray(spec.eps) ? spec.eps : [spec.eps])].sort((a, b) => a - b);
  const given = Object.fromEntries(Object.entries(spec).filter(([k, v]) => v !== undefined && k !== 'attack' && k !== 'norm' && k !== 'eps'));
  const merged = { attack: def.name, norm: spec.norm, eps, ...def.defaults, ...given } as ResolvedAttackSpec;
  return def.resolve ? def.resolve(merged) : merged;
}
