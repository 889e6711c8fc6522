/**
 * The training losses by recipe name (`loss: { name: gce, q: 0.7 }`). `ce` and `label_smoothing`
 * are the soft-target cross-entropy head (label smoothing is in the targets the trainer builds);
 * the noise-robust losses are one file each.
 */
import { softTargetCrossEntropy, type TrainingLossHead } from '../loss.js';
import { bootstrap, type BootstrapMode } from './bootstrap.js';
import { elr } from './elr.js';
import { gce } from './gce.js';
import { sce } from './sce.js';

export { gce, sce, bootstrap, elr };

/** The loss head of a parsed recipe `loss` value. */
export function lossHead(loss: { name: string } & Record<string, unknown>): TrainingLossHead {
  switch (loss.name) {
    case 'ce':
    case 'label_smoothing':
      return softTargetCrossEntropy;
    case 'gce':
      return gce(loss.q as number);
    case 'sce':
      return sce(loss.alpha as number, loss.beta as number);
    case 'bootstrap':
      return bootstrap(loss.beta as number, loss.mode as BootstrapMode);
    case 'elr':
      return elr(loss.lambda as number, loss.beta as number);
    default:
      throw new Error(`internal: no loss head for '${loss.name}'`);
  }
}
