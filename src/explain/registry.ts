/**
 * Every attribution method, in the order `gauntlet explain --help` lists them. The CLI's
 * `--method` choices and the config's `explain.method` are driven by this list.
 */
import { UsageError } from '../errors.js';
import { gxiMethod } from './gxi.js';
import { igMethod } from './ig.js';
import { occlusionMethod } from './occlusion.js';
import { saliencyMethod } from './saliency.js';
import { shapMethod } from './shap.js';
import { smoothGradMethod } from './smoothgrad.js';
import type { AttributionMethod, MethodName } from './types.js';

export const methods: readonly AttributionMethod[] = [saliencyMethod, gxiMethod, igMethod, smoothGradMethod, shapMethod, occlusionMethod];

export const methodNames: readonly MethodName[] = methods.map((m) => m.name);

export function isMethodName(name: unknown): name is MethodName {
  return typeof name === 'string' && (methodNames as readonly string[]).includes(name);
}

/** The method called `name`; UsageError naming the allowed values otherwise. */
export function getMethod(name: string): AttributionMethod {
  const m = methods.find((k) => k.name === name);
  if (!m) throw new UsageError(`'method' must be one of ${methodNames.join(', ')}, got '${name}'`);
  return m;
}
