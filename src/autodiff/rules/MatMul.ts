import type { Rule } from '../context.js';

/**
 * MatMul with numpy semantics (batched, broadcast, 1-D operands promoted and squeezed back):
 * dA = gy·Bᵀ, dB = Aᵀ·gy over the last two axes, each summed back over broadcast batch axes.
 */
export const MatMul: Rule = ({ node, e, gy, needs, shape }) => {
  const [a, b] = node.input as [string, string];
  const as = shape(a);
  const bs = shape(b);
  // Promote 1-D operands as numpy does, then work in ≥2-D.
  const a2s = as.length === 1 ? [1, as[0]!] : as;
  const b2s = bs.length === 1 ? [bs[0]!, 1] : bs;
  const a2 = as.length === 1 ? e.reshape(a, a2s) : a;
  const b2 = bs.length === 1 ? e.reshape(b, b2s) : b;
  const batch = broadcastShapes(a2s.slice(0, -2), b2s.slice(0, -2));
  const y2s = [...batch, a2s[a2s.length - 2]!, b2s[b2s.length - 1]!];
  const g2 = e.reshape(gy[0]!, y2s);
  const swap = (r: number) => [...Array.from({ length: r - 2 }, (_, i) => i), r - 1, r - 2];
  const out: (string | null)[] = [null, null];
  if (needs[0]) {
    const da = e.op('MatMul', [g2, e.transpose(b2, swap(b2s.length))], {}, 'matmul_da');
    const daShape = [...batch, a2s[a2s.length - 2]!, a2s[a2s.length - 1]!];
    out[0] = e.reshape(e.unbroadcast(da, daShape, a2s), as);
  }
  if (needs[1]) {
    const db = e.op('MatMul', [e.transpose(a2, swap(a2s.length)), g2], {}, 'matmul_db');
    const dbShape = [...batch, b2s[b2s.length - 2]!, b2s[b2s.length - 1]!];
    out[1] = e.reshape(e.unbroadcast(db, dbShape, b2s), bs);
  }
  return out;
};

function broadcastShapes(a: number[], b: number[]): number[] {
  const r = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < r; i++) {
    const da = a[a.length - r + i] ?? 1;
    const db = b[b.length - r + i] ?? 1;
    out.push(da === 1 ? db : da);
  }
  return out;
}
