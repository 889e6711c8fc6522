import { makeNode, nameAllocator, type AttrValue } from './graph.js';
import type { GraphP, NodeP, TensorP } from './proto.js';
import { floatTensor, int64Tensor, makeTensor } from './tensor.js';

/**
 * Appends nodes and constants to a graph under fresh, clash-free names. Used by graph
 * transformations (preprocessing fold, backward pass, loss heads) and by tests that build models.
 */
export class GraphBuilder {
  readonly nodes: NodeP[] = [];
  readonly initializers: TensorP[] = [];
  private readonly fresh: (hint: string) => string;
  private readonly constCache = new Map<string, string>();

  /**
   * @param graph the graph whose names must not clash
   * @param prefix prefix of every new name
   * @param floatType element type of `constF`/`scalarF` constants: float32 (default) or float64
   */
  constructor(graph: GraphP, prefix = 'g_', readonly floatType: 'float32' | 'float64' = 'float32') {
    this.fresh = nameAllocator(graph, prefix);
  }

  /** A fresh value name. */
  name(hint: string): string {
    return this.fresh(hint);
  }

  /** Adds a node with one output and returns that output's name. */
  op(opType: string, inputs: string[], attrs: Record<string, AttrValue | undefined> = {}, hint = opType): string {
    const out = this.fresh(hint);
    this.nodes.push(makeNode(opType, inputs, [out], attrs, this.fresh(`${hint}_node`)));
    return out;
  }

  /** Adds a node with `count` outputs and returns their names. */
  opN(opType: string, inputs: string[], count: number, attrs: Record<string, AttrValue | undefined> = {}, hint = opType): string[] {
    const outs = Array.from({ length: count }, () => this.fresh(hint));
    this.nodes.push(makeNode(opType, inputs, outs, attrs, this.fresh(`${hint}_node`)));
    return outs;
  }

  /** A float32 constant (initializer). Identical small constants are shared. */
  constF(values: readonly number[] | Float32Array, dims: readonly number[] = [values.length], hint = 'cf'): string {
    return this.cached(`f:${dims.join(',')}:${values.length <= 16 ? Array.from(values).join(',') : this.fresh('u')}`, () =>
      this.floatType === 'float64' ? makeTensor(this.fresh(hint), dims, Float64Array.from(values)) : floatTensor(this.fresh(hint), values, dims),
    );
  }

  /** A float32 scalar constant. */
  scalarF(v: number): string {
    return this.constF([v], []);
  }

  /** An int64 constant (initializer), e.g. axes or shapes. */
  constI64(values: readonly number[], dims: readonly number[] = [values.length], hint = 'ci'): string {
    return this.cached(`i:${dims.join(',')}:${values.length <= 16 ? values.join(',') : this.fresh('u')}`, () => int64Tensor(this.fresh(hint), values, dims));
  }

  /** Adds a prepared tensor as an initializer under a fresh name. */
  tensor(hint: string, dims: readonly number[], data: Float32Array | Int32Array | BigInt64Array | Float64Array | Uint8Array): string {
    const t = makeTensor(this.fresh(hint), dims, data);
    this.initializers.push(t);
    return t.name!;
  }

  private cached(key: string, make: () => TensorP): string {
    const hit = this.constCache.get(key);
    if (hit) return hit;
    const t = make();
    this.initializers.push(t);
    this.constCache.set(key, t.name!);
    return t.name!;
  }
}
