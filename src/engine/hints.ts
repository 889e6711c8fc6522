/**
 * What `gauntlet inspect` can tell about how a model wants its input, from the graph alone: an
 * input that looks channels-last, normalisation the graph already does to its input, and which
 * output Gauntlet reads. Hints are data (the CLI prints them); none changes the declaration.
 */
import { constantTensors, realInputs, valueShape } from '../onnx/graph.js';
import type { ModelP } from '../onnx/proto.js';
import { tensorValues } from '../onnx/tensor.js';
import type { ResolvedDeclaration } from './declaration.js';

export interface ModelHint {
  code: 'nhwc' | 'normalised_in_graph' | 'no_normalisation_seen' | 'output_choice' | 'input_choice';
  message: string;
}

/** Ops that only move or relabel the input; the walk to the first arithmetic steps over them. */
const PASS_THROUGH = new Set(['Identity', 'Cast', 'Transpose', 'Reshape', 'Unsqueeze', 'Squeeze', 'Flatten']);
const ARITHMETIC = new Set(['Sub', 'Div', 'Mul', 'Add']);

/** Hints about `model` (the file as given, before any folding) under its resolved declaration. */
export function modelHints(model: ModelP, decl: ResolvedDeclaration, layoutDeclared: boolean): ModelHint[] {
  const hints: ModelHint[] = [];
  const g = model.graph;
  const inputs = realInputs(g);
  const shape = valueShape(inputs.find((i) => i.name === decl.inputName));
  if (shape && shape.length === 4 && !layoutDeclared) {
    const [, d1, , d3] = shape;
    const small = (d: number | string | undefined) => typeof d === 'number' && d >= 1 && d <= 4;
    if (small(d3) && !small(d1)) {
      hints.push({ code: 'nhwc', message: `input ${decl.inputName} [${shape.join(', ')}] looks channels-last; if it is, declare layout: NHWC (--layout NHWC)` });
    }
  }
  // Follow the input through shape-only ops to its first arithmetic with constants.
  const consts = constantTensors(g);
  const steps: string[] = [];
  let cur = [decl.inputName];
  for (let depth = 0; depth < 6 && cur.length; depth++) {
    const next: string[] = [];
    for (const n of g.node.filter((nd) => nd.input.some((i) => cur.includes(i)))) {
      if (PASS_THROUGH.has(n.op_type)) next.push(...n.output);
      else if (ARITHMETIC.has(n.op_type)) {
        const c = n.input.map((i) => consts.get(i)).find((t) => t !== undefined);
        if (c) {
          const vals = tensorValues(c);
          steps.push(`${n.op_type} by [${vals.slice(0, 4).map((v) => +v.toPrecision(4)).join(', ')}${vals.length > 4 ? ', …' : ''}] (node ${n.name || n.output[0]})`);
          next.push(...n.output);
        }
      }
    }
    cur = next;
  }
  if (steps.length) {
    hints.push({ code: 'normalised_in_graph', message: `the graph normalises its input itself: ${steps.join(', then ')}; do not declare that preprocessing again` });
  } else if (!decl.preprocess) {
    hints.push({ code: 'no_normalisation_seen', message: 'no normalisation in the graph; if the model was trained on normalised inputs, declare them: preprocess: {mean, std} (--mean, --std) or scale (--scale)' });
  }
  if (g.output.length > 1) {
    hints.push({ code: 'output_choice', message: `reads output ${decl.outputName} of ${g.output.length} (${g.output.map((o) => o.name).join(', ')}); --output NAME picks another` });
  }
  if (inputs.length > 1) {
    hints.push({ code: 'input_choice', message: `feeds input ${decl.inputName} of ${inputs.length} (${inputs.map((i) => i.name).join(', ')}); --input NAME picks another, and the others get their values from inputs: {NAME: zeros | NUMBER | FILE.npy} (--inputs NAME=V,...)` });
  }
  return hints;
}
