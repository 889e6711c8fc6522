/**
 * Deep ensembles (Lakshminarayanan et al. 2017) as one model: K members trained from seeds
 * seed, seed + 1, … (each its own initialisation with `init: reinit`, shuffling, dropout, attack
 * and augmentation draws; the noisy training labels, when `labels:` is set, are the same for all
 * — drawn from the recipe's seed), combined into a single ONNX graph that runs every member on the
 * same input and outputs log of the mean of their softmax probabilities under the model's output
 * name. The log-mean is a logit vector whose softmax is the ensemble's mean prediction, so the
 * ensemble is a model like any other: evaluated, attacked through all members (gradients flow
 * through each), calibrated, declared with the members' preprocessing. The members are also
 * written on their own for the uncertainty module (`uncertainty: { ensemble: [...] }`).
 *
 * ```yaml
 * ensemble: { members: 3 }
 * ```
 */
import { ModelError } from '../errors.js';
import { makeNode } from '../onnx/graph.js';
import { cloneModel, type ModelP, type NodeP, type TensorP } from '../onnx/proto.js';
import { opt, parseOptions, type ParseContext } from '../options/schema.js';

export const ENSEMBLE_OPTIONS = {
  members: opt.integer({ min: 2, max: 64, default: 3, doc: 'members, trained from seeds seed, seed+1, …' }),
};

export const ENSEMBLE_OPTION = opt.custom<{ members: number } | null, { default: null; doc: string; metavar: string; flag: false }>(
  'null or { members: K }',
  (v: unknown, p: string, ctx: ParseContext) => (v === null ? null : parseOptions(ENSEMBLE_OPTIONS, v, { ...ctx, where: p })),
  { default: null, doc: 'a deep ensemble of K members from different seeds, written as one model (log of the mean probability) and as members', metavar: 'SPEC', flag: false },
);

/**
 * One graph running every member on the shared input: member m's values and initializers are
 * renamed `ens<m>/<name>`, and the output `output` is Log(mean_m Softmax(z_m)) for logit members,
 * mean_m p_m for probability members. Other outputs are dropped. Members must have the same
 * inputs; graphs with subgraphs (If, Loop, Scan) are refused.
 */
export function ensembleModel(members: readonly ModelP[], io: { input: string; output: string; outputKind: 'logits' | 'probabilities' }): ModelP {
  if (members.length < 2) throw new ModelError(`an ensemble needs at least 2 members, got ${members.length}`);
  const out = cloneModel(members[0]!);
  const g = out.graph;
  const inputs = new Set(g.input.map((i) => i.name));
  const nodes: NodeP[] = [];
  const inits: TensorP[] = [];
  const probs: string[] = [];
  members.forEach((m, k) => {
    const rename = (v: string) => (v === '' || inputs.has(v) ? v : `ens${k}/${v}`);
    for (const n of m.graph.node) {
      if (n.attribute.some((a) => a.g || (a.graphs && a.graphs.length))) throw new ModelError(`ensemble: node ${n.name ?? n.op_type} has a subgraph (${n.op_type}); ensembles of control-flow models are not supported`);
      nodes.push({ ...n, name: `ens${k}/${n.name ?? n.op_type}`, input: n.input.map(rename), output: n.output.map(rename) });
    }
    for (const t of m.graph.initializer) if (!inputs.has(t.name ?? '')) inits.push({ ...t, name: rename(t.name ?? '') });
    const z = rename(io.output);
    if (io.outputKind === 'logits') {
      const p = `ens${k}/gauntlet_ensemble_probs`;
      nodes.push(makeNode('Softmax', [z], [p], { axis: 1 }, `ens${k}/gauntlet_ensemble_softmax`));
      probs.push(p);
    } else probs.push(z);
  });
  const mean = io.outputKind === 'logits' ? 'gauntlet_ensemble_mean' : io.output;
  nodes.push(makeNode('Mean', probs, [mean], {}, 'gauntlet_ensemble_mean'));
  if (io.outputKind === 'logits') nodes.push(makeNode('Log', [mean], [io.output], {}, 'gauntlet_ensemble_log'));
  g.node = nodes;
  g.initializer = inits;
  g.output = g.output.filter((o) => o.name === io.output);
  g.value_info = [];
  out.doc_string = `Deep ensemble of ${members.length} members (Gauntlet): output ${io.output} = ${io.outputKind === 'logits' ? 'log of the mean of the members\u2019 softmax probabilities' : 'mean of the members\u2019 probabilities'}`;
  return out;
}
