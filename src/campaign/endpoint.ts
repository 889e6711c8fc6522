import type { Classifier } from '../engine/classifier.js';
import { ConfigError } from '../errors.js';
import { getAttack } from '../stress/adversarial/registry.js';
import { isTrainTime, type CampaignConfig } from './config.js';

/**
 * A campaign on a deployed model (`model: http://HOST/v2/models/NAME`) runs black-box stresses
 * only: drift, annotation noise, the Square attack, temperature/conformal/selective uncertainty and
 * ensembles of files. Everything that needs the ONNX graph is refused before any cell runs, in one
 * line naming the black-box option.
 */
export function checkEndpointCampaign(config: CampaignConfig, model: Pick<Classifier, 'source' | 'label'>): void {
  if (model.source === 'onnx') return;
  const where = `${model.label} is an endpoint, a black-box model with no gradients or graph`;
  config.stresses.adversarial.forEach((a, i) => {
    if (getAttack(a.attack).name !== 'square') throw new ConfigError(`'stresses.adversarial[${i}]' (${a.attack}): ${where}; on an endpoint use the black-box attack: { attack: square }`);
  });
  if (config.explain) throw new ConfigError(`'explain': ${where}; explanation drift and layer sensitivity need the ONNX file (remove 'explain' for an endpoint)`);
  if (config.uncertainty && config.uncertainty.mc_dropout > 0) throw new ConfigError(`'uncertainty.mc_dropout': ${where}; MC dropout rewrites the graph (temperature, conformal, selective and ensemble run on an endpoint)`);
  if (config.stresses.annotation.some(isTrainTime)) throw new ConfigError(`'stresses.annotation' (at: train): ${where}; training-time label noise retrains the model from its ONNX file (test-time annotation noise runs on an endpoint)`);
  const trained = config.variants.find((v) => v.train);
  if (trained) throw new ConfigError(`'models' (${trained.name}): ${where}; a trained variant starts from the ONNX file (variants given as files run)`);
}
