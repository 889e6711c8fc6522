/**
 * Every attack, in one explicit list. `gauntlet list attacks`, the config schema
 * (`parseAttackSpec`) and the CLI's `attack --attack` choices are driven by it.
 */
import { UsageError } from '../../errors.js';
import type { AttackDef } from './attack.js';
import { apgdCe, apgdDlr } from './attacks/apgd.js';
import { autoattack } from './attacks/autoattack.js';
import { fgsm } from './attacks/fgsm.js';
import { pgd } from './attacks/pgd.js';
import { square } from './attacks/square.js';
import type { AttackName } from './types.js';

/** The registry: one entry per attack. */
export const attacks: readonly AttackDef[] = [fgsm, pgd, apgdCe, apgdDlr, square, autoattack];

/** Names of the attacks, in registry order. */
export const attackNames: readonly AttackName[] = attacks.map((a) => a.name);

/** The attack of a name; throws UsageError "unknown attack 'x'; known: …". */
export function getAttack(name: string): AttackDef {
  const a = attacks.find((k) => k.name === name);
  if (!a) throw new UsageError(`unknown attack '${name}'; known: ${attackNames.join(', ')}`);
  return a;
}

/** One row of `gauntlet list attacks`. */
export interface AttackListing {
  name: string;
  summary: string;
  norms: readonly string[];
  access: string;
  defaults: string;
  paper: string;
}

/** The registry as rows for `gauntlet list attacks`. */
export function listAttacks(): AttackListing[] {
  return attacks.map((a) => ({
    name: a.name,
    summary: a.summary,
    norms: a.norms,
    access: a.access === 'gradient' ? 'white-box (gradients)' : a.access === 'score' ? 'black-box (scores)' : 'ensemble (gradients, then scores)',
    defaults: [...Object.entries(a.defaults).map(([k, v]) => `${k}=${v}`), ...(a.notes ? [a.notes] : [])].join(', '),
    paper: a.paper,
  }));
}
