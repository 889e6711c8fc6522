import { benchVerb, help as benchHelp } from './bench.js';
import { evalVerb, help as evalHelp } from './eval.js';
import { gradVerb, help as gradHelp } from './grad.js';
import { inspectVerb, help as inspectHelp } from './inspect.js';
import { runVerb, help as runHelp } from './run.js';
import { reportVerb, help as reportHelp } from './report.js';
import { compareVerb, help as compareHelp } from './compare.js';
import { noiseVerb, help as noiseHelp } from './noise.js';
import { aggregateVerb, help as aggregateHelp } from './aggregate.js';
import { auditLabelsVerb, help as auditLabelsHelp } from './audit-labels.js';
import { corruptVerb, help as corruptHelp } from './corrupt.js';
import { shiftVerb, help as shiftHelp } from './shift.js';
import { listVerb, help as listHelp } from './list.js';
import { attackVerb, help as attackHelp } from './attack.js';
import { calibrateVerb, help as calibrateHelp } from './calibrate.js';
import { conformalVerb, help as conformalHelp } from './conformal.js';
import { explainVerb, help as explainHelp } from './explain.js';
import { streamVerb, help as streamHelp } from './stream.js';
import { trainVerb, help as trainHelp } from './train.js';
import { serveVerb, help as serveHelp } from './serve.js';
import { monitorVerb, help as monitorHelp } from './monitor.js';
import { runsVerb, help as runsHelp } from './runs.js';
import { hubVerb, help as hubHelp } from './hub.js';
import { workerVerb, help as workerHelp } from './worker.js';
import { queueVerb, help as queueHelp } from './queue.js';

export interface Verb {
  summary: string;
  help: string;
  main: (argv: string[]) => Promise<number>;
}

/** Every CLI verb, in the order `gauntlet --help` lists them. */
export const verbs: Record<string, Verb> = {
  run: { summary: 'run a stress campaign (default: the embedded Fashion-MNIST model and data)', help: runHelp, main: runVerb },
  report: { summary: 'regenerate report.md, report.html and junit.xml from a run directory', help: reportHelp, main: reportVerb },
  compare: { summary: 'compare two runs: changed hashes and config, metrics moved beyond their CIs', help: compareHelp, main: compareVerb },
  eval: { summary: 'accuracy, macro-F1, ECE, NLL and Brier of a model on labelled data', help: evalHelp, main: evalVerb },
  inspect: { summary: "a model's inputs, outputs, opset, op types and output kind", help: inspectHelp, main: inspectVerb },
  grad: { summary: 'input gradient of a loss (ONNX autodiff), written as .npy', help: gradHelp, main: gradVerb },
  bench: { summary: 'forward vs forward+gradient time on one batch', help: benchHelp, main: benchVerb },
  noise: { summary: 'inject annotation noise (noise models or simulated annotators) with provenance', help: noiseHelp, main: noiseVerb },
  aggregate: { summary: "consensus labels and annotators' accuracy by majority vote or Dawid-Skene", help: aggregateHelp, main: aggregateVerb },
  'audit-labels': { summary: 'flag likely mislabelled items by confident learning', help: auditLabelsHelp, main: auditLabelsVerb },
  corrupt: { summary: 'apply an image corruption (ImageNet-C family) at severity 1-5', help: corruptHelp, main: corruptVerb },
  shift: { summary: 'covariate, missingness, subpopulation or label shift, with KS/PSI/MMD distances', help: shiftHelp, main: shiftVerb },
  list: { summary: 'list corruptions, shifts and other registered components', help: listHelp, main: listVerb },
  attack: { summary: 'adversarial attacks (FGSM, PGD, APGD, Square, AutoAttack) with robustness curves and masking flags', help: attackHelp, main: attackVerb },
  calibrate: { summary: 'temperature scaling fitted on held-out data, written as a new ONNX model', help: calibrateHelp, main: calibrateVerb },
  conformal: { summary: 'split conformal prediction sets: coverage and set size on clean and stressed data', help: conformalHelp, main: conformalVerb },
  explain: { summary: 'attributions (saliency, gxi, IG, SmoothGrad, KernelSHAP, occlusion) as .npy / PNG', help: explainHelp, main: explainVerb },
  train: { summary: 'train a model\'s weights (SGD/AdamW, schedules, train-mode BatchNorm) with ONNX Runtime; epoch checkpoints, --resume', help: trainHelp, main: trainVerb },
  serve: { summary: 'serve an ONNX model over the Open Inference Protocol (KServe v2 REST, JSON and binary tensors, dynamic batching)', help: serveHelp, main: serveVerb },
  monitor: { summary: 'reverse proxy in front of a deployed model: stream monitors on live traffic, delayed labels, Prometheus /metrics, alert webhook', help: monitorHelp, main: monitorVerb },
  worker: { summary: 'run campaign cells from a Redis queue (BullMQ) for `run --queue` coordinators', help: workerHelp, main: workerVerb },
  queue: { summary: "the cell queue: jobs per run and workers (status), remove a run's jobs (clean)", help: queueHelp, main: queueVerb },
  stream: { summary: 'replay a stream with drift, attacks and label trouble; monitors, alerts, deferral, shadow/canary', help: streamHelp, main: streamVerb },
  runs: { summary: 'the run registry: list, show, compare and remove recorded runs; import run directories', help: runsHelp, main: runsVerb },
  hub: { summary: 'web dashboard of the run registry: runs, a model\'s history with CIs, compare, budgets over time', help: hubHelp, main: hubVerb },
};
