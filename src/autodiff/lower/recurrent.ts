import { attrFloat, attrFloats, attrInt, attrString, attrStrings } from '../../onnx/graph.js';
import type { LowerContext } from '../lower.js';
import { NotLowered } from '../lower.js';

/** Gates per cell, in ONNX's order of W's rows: LSTM i o f c, GRU z r h, RNN one. */
const GATES = { LSTM: 3 + 1, GRU: 3, RNN: 1 } as const;
/** Activations per direction (LSTM f g h, GRU f g, RNN f) and their defaults. */
const DEFAULT_ACTS = { LSTM: ['Sigmoid', 'Tanh', 'Tanh'], GRU: ['Sigmoid', 'Tanh'], RNN: ['Tanh'] } as const;
const ACTS = new Set(['Sigmoid', 'Tanh', 'Relu']);

/**
 * LSTM, GRU and RNN: unrolled over the probed sequence length into their cell equations (MatMul,
 * Add, Sigmoid, Tanh, Mul, …; ONNX's operator definitions), whose rules give the gradients with
 * respect to the input, the initial states and the weights. Covered: forward, reverse and
 * bidirectional; layout 0 and 1; initial_h / initial_c; biases; LSTM peepholes and input_forget;
 * GRU linear_before_reset 0 and 1; clip; sequence_lens (a step past an item's length keeps its
 * state and outputs zeros; a reverse direction reads each item's own first `len` steps backwards,
 * with ReverseSequence); activations Sigmoid, Tanh and Relu.
 */
export function lowerRecurrent(ctx: LowerContext): string {
  const { node, b, e, probe } = ctx;
  const op = node.op_type as keyof typeof GATES;
  const [x, w, r, bias, lens, h0, c0, peep] = [0, 1, 2, 3, 4, 5, 6, 7].map((i) => node.input[i] || '');
  const xs = probe.shapes.get(x!);
  const ws = probe.shapes.get(w!);
  if (!xs || !ws) throw new NotLowered('the shapes of X and W were not observed');
  const ft = probe.types.get(x!) === 'float64' ? 'float64' : 'float32';
  if (ft !== b.floatType) throw new Error('internal: recurrent lowering with a builder of the wrong float type');
  const layout = attrInt(node, 'layout', 0);
  const direction = attrString(node, 'direction', 'forward');
  const dirs = direction === 'bidirectional' ? 2 : 1;
  const hidden = attrInt(node, 'hidden_size') ?? ws[1]! / GATES[op];
  const acts = attrStrings(node, 'activations') ?? [];
  const per = DEFAULT_ACTS[op].length;
  const actsOf = (d: number): string[] => (acts.length ? acts.slice(d * per, d * per + per) : [...DEFAULT_ACTS[op]]);
  for (let d = 0; d < dirs; d++) for (const a of actsOf(d)) if (!ACTS.has(a)) throw new NotLowered(`activation ${a}: only Sigmoid, Tanh and Relu are supported`);
  if (attrFloats(node, 'activation_alpha') || attrFloats(node, 'activation_beta')) throw new NotLowered('activation_alpha/activation_beta are not supported');
  const clip = attrFloat(node, 'clip');
  const inputForget = attrInt(node, 'input_forget', 0) === 1;
  const lbr = attrInt(node, 'linear_before_reset', 0) !== 0;
  const xt = layout === 1 ? e.transpose(x!, [1, 0, 2]) : x!;
  const [steps, batch] = layout === 1 ? [xs[1]!, xs[0]!] : [xs[0]!, xs[1]!];
  const g = GATES[op];
  const hint = node.name || op.toLowerCase();
  // Per-item lengths as int64 [batch] and the mask of step t: t < len.
  const lens64 = lens ? b.op('Cast', [lens], { to: 7 }, `${hint}_lens`) : '';
  const stateIn = (v: string, d: number, bhd: boolean) => (v ? e.squeeze(e.slice(bhd ? e.transpose(v, [1, 0, 2]) : v, [d], [d + 1], [0]), [0]) : e.zeros([batch, hidden], ft));
  const act = (name: string, v: string) => b.op(name, [v], {}, `${hint}_${name.toLowerCase()}`);
  const clipped = (v: string) => (clip === undefined ? v : b.op('Clip', [v, b.scalarF(-clip), b.scalarF(clip)], {}, `${hint}_clip`));
  const gate = (v: string, k: number, count = 1) => e.slice(v, [k * hidden], [(k + count) * hidden], [1]);

  const ys: string[] = [];
  const hs: string[] = [];
  const cs: string[] = [];
  for (let d = 0; d < dirs; d++) {
    const reverse = direction === 'reverse' || d === 1;
    const [f1, f2, f3] = actsOf(d) as [string, string, string];
    const wd = e.transpose(e.squeeze(e.slice(w!, [d], [d + 1], [0]), [0]), [1, 0]); // [I, gH]
    const rdFull = e.squeeze(e.slice(r!, [d], [d + 1], [0]), [0]); // [gH, H]
    // Input projections of every step at once: [T, B, gH], with W's and (but for GRU's h-gate with
    // linear_before_reset) R's biases.
    let src = xt;
    if (reverse && lens64) src = b.op('ReverseSequence', [xt, lens64], { batch_axis: 1, time_axis: 0 }, `${hint}_rev`);
    let xw = b.op('MatMul', [src, wd], {}, `${hint}_xw`);
    let rbH: string | null = null;
    if (bias) {
      const bd = e.squeeze(e.slice(bias, [d], [d + 1], [0]), [0]); // [2gH]
      const wb = e.slice(bd, [0], [g * hidden], [0]);
      const rb = e.slice(bd, [g * hidden], [2 * g * hidden], [0]);
      if (op === 'GRU') {
        // The h-gate's recurrent bias sits inside r ⊙ (…) with linear_before_reset.
        rbH = e.slice(rb, [2 * hidden], [3 * hidden], [0]);
        const rbZr = e.slice(rb, [0], [2 * hidden], [0]);
        xw = b.op('Add', [xw, b.op('Add', [wb, b.op('Concat', [rbZr, lbr ? e.zeros([hidden], ft) : rbH], { axis: 0 })])]);
      } else xw = b.op('Add', [xw, b.op('Add', [wb, rb])]);
    }
    const rdT = e.transpose(rdFull, [1, 0]); // [H, gH]
    const pd = peep && op === 'LSTM' ? e.squeeze(e.slice(peep, [d], [d + 1], [0]), [0]) : '';
    let h = stateIn(h0!, d, layout === 1);
    let c = op === 'LSTM' ? stateIn(c0!, d, layout === 1) : '';
    const outs: string[] = new Array(steps);
    for (let s = 0; s < steps; s++) {
      // Without lengths a reverse direction walks t = T−1 … 0; with lengths the input was reversed
      // per item (ReverseSequence) and is walked forwards.
      const t = reverse && !lens64 ? steps - 1 - s : s;
      const xg = e.squeeze(e.slice(xw, [t], [t + 1], [0]), [0]); // [B, gH]
      let hNew: string;
      let cNew = '';
      if (op === 'LSTM') {
        const pre = b.op('Add', [xg, b.op('MatMul', [h, rdT])]);
        const peepTerm = (k: number, state: string) => (pd ? b.op('Mul', [e.slice(pd, [k * hidden], [(k + 1) * hidden], [0]), state]) : null);
        const withPeep = (v: string, k: number, state: string) => {
          const p = peepTerm(k, state);
          return p ? b.op('Add', [v, p]) : v;
        };
        const i = act(f1, clipped(withPeep(gate(pre, 0), 0, c)));
        const f = inputForget ? b.op('Sub', [b.scalarF(1), i]) : act(f1, clipped(withPeep(gate(pre, 2), 2, c)));
        const cc = act(f2, clipped(gate(pre, 3)));
        cNew = b.op('Add', [b.op('Mul', [f, c]), b.op('Mul', [i, cc])], {}, `${hint}_c`);
        const o = act(f1, clipped(withPeep(gate(pre, 1), 1, cNew)));
        hNew = b.op('Mul', [o, act(f3, cNew)], {}, `${hint}_h`);
      } else if (op === 'GRU') {
        const rzr = e.slice(rdT, [0], [2 * hidden], [1]); // [H, 2H]
        const rh = e.slice(rdT, [2 * hidden], [3 * hidden], [1]); // [H, H]
        const zr = b.op('Add', [gate(xg, 0, 2), b.op('MatMul', [h, rzr])]);
        const z = act(f1, clipped(gate(zr, 0)));
        const rr = act(f1, clipped(gate(zr, 1)));
        let hh: string;
        if (lbr) {
          let lin = b.op('MatMul', [h, rh]);
          if (rbH) lin = b.op('Add', [lin, rbH]);
          hh = b.op('Add', [gate(xg, 2), b.op('Mul', [rr, lin])]);
        } else hh = b.op('Add', [gate(xg, 2), b.op('MatMul', [b.op('Mul', [rr, h]), rh])]);
        const cand = act(f2, clipped(hh));
        // H = (1 − z) ⊙ ĥ + z ⊙ H₋₁ = ĥ + z ⊙ (H₋₁ − ĥ)
        hNew = b.op('Add', [cand, b.op('Mul', [z, b.op('Sub', [h, cand])])], {}, `${hint}_h`);
      } else {
        hNew = act(f1, clipped(b.op('Add', [xg, b.op('MatMul', [h, rdT])])), );
      }
      if (lens64) {
        const live = e.unsqueeze(b.op('Less', [b.constI64([s], []), lens64], {}, `${hint}_live`), [1]); // [B, 1]
        outs[s] = b.op('Where', [live, hNew, b.scalarF(0)]);
        h = b.op('Where', [live, hNew, h]);
        if (op === 'LSTM') c = b.op('Where', [live, cNew, c]);
      } else {
        outs[t] = hNew;
        h = hNew;
        c = cNew;
      }
    }
    let y = b.op('Concat', outs.map((v) => e.unsqueeze(v, [0])), { axis: 0 }, `${hint}_y`); // [T, B, H]
    if (reverse && lens64) y = b.op('ReverseSequence', [y, lens64], { batch_axis: 1, time_axis: 0 }, `${hint}_yrev`);
    ys.push(e.unsqueeze(y, [1]));
    hs.push(e.unsqueeze(h, [0]));
    if (op === 'LSTM') cs.push(e.unsqueeze(c, [0]));
  }
  const cat = (list: string[], axis: number) => (list.length === 1 ? list[0]! : b.op('Concat', list, { axis }));
  let y = cat(ys, 1); // [T, D, B, H]
  let yh = cat(hs, 0); // [D, B, H]
  let yc = op === 'LSTM' ? cat(cs, 0) : '';
  if (layout === 1) {
    y = e.transpose(y, [2, 0, 1, 3]);
    yh = e.transpose(yh, [1, 0, 2]);
    if (yc) yc = e.transpose(yc, [1, 0, 2]);
  }
  [y, yh, yc].forEach((v, i) => {
    if (node.output[i] && v) b.nodes.push({ op_type: 'Identity', input: [v], output: [node.output[i]!], attribute: [], name: b.name(`${hint}_out`), domain: '' });
  });
  return `unrolled over its ${steps} steps (${direction}${lens ? ', with sequence lengths' : ''})`;
}
