import { checkRange, ModelError, UsageError } from '../errors.js';
import { GraphBuilder } from '../onnx/builder.js';
import { makeNode, valueElemType } from '../onnx/graph.js';
import { cloneModel, DataType, type ModelP } from '../onnx/proto.js';

/**
 * Returns a copy of `model` whose graph output `outputName` is divided by the temperature T:
 *
 * - `kind = 'logits'` (default): appends `Div(logits, T)`, so the output is exactly logits / T
 *   (T stored as a scalar of the output's float type; pick a float32 T, as `fitTemperature` does,
 *   to have the graph and JavaScript agree bit for bit).
 * - `kind = 'probabilities'`: the output stays a probability vector; appends
 *   `Softmax(Log(p) / T, axis = 1)`, i.e. p^(1/T) renormalised — the same map `applyTemperature`
 *   applies. The output must be 2-D [batch, classes]. Zero probabilities stay zero.
 *
 * Nodes that consumed the output keep consuming the unscaled value (other graph outputs do not
 * change). The model's metadata gets `gauntlet.temperature = T`. The input is not modified.
 */
export function foldTemperature(model: ModelP, outputName: string, temperature: number, kind: 'logits' | 'probabilities' = 'logits'): ModelP {
  checkRange('temperature', temperature, { min: 0, minExclusive: true });
  const out = model.graph.output.find((o) => o.name === outputName);
  if (!out) throw new UsageError(`'outputName' must be one of ${model.graph.output.map((o) => o.name).join(', ')}, got ${outputName}`);
  const elem = valueElemType(out) ?? DataType.FLOAT;
  if (elem !== DataType.FLOAT && elem !== DataType.DOUBLE) throw new ModelError(`output ${outputName} is not float32 or float64; cannot fold a temperature into it`);
  if (!model.graph.node.some((n) => n.output.includes(outputName))) {
    throw new ModelError(`output ${outputName} is not produced by a node (it is an input or a constant); cannot fold a temperature into it`);
  }
  const m = cloneModel(model);
  const g = m.graph;
  const b = new GraphBuilder(g, 'gauntlet_temperature_', elem === DataType.DOUBLE ? 'float64' : 'float32');
  const raw = b.name(kind === 'logits' ? 'logits' : 'probs');
  for (const n of g.node) {
    n.output = n.output.map((v) => (v === outputName ? raw : v));
    n.input = n.input.map((v) => (v === outputName ? raw : v));
  }
  const t = b.scalarF(temperature);
  if (kind === 'logits') {
    b.nodes.push(makeNode('Div', [raw, t], [outputName], {}, b.name('div')));
  } else {
    const logp = b.op('Log', [raw], {}, 'log');
    const scaled = b.op('Div', [logp, t], {}, 'div');
    b.nodes.push(makeNode('Softmax', [scaled], [outputName], { axis: 1 }, b.name('softmax')));
  }
  g.node = [...g.node, ...b.nodes];
  g.initializer = [...g.initializer, ...b.initializers];
  m.metadata_props = [...(m.metadata_props ?? []).filter((p) => p.key !== 'gauntlet.temperature'), { key: 'gauntlet.temperature', value: String(temperature) }];
  return m;
}
