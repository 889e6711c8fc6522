import type { Rule } from './context.js';
import { Add } from './rules/Add.js';
import { BatchNormalization } from './rules/BatchNormalization.js';
import { Conv } from './rules/Conv.js';
import { Div } from './rules/Div.js';
import { Flatten } from './rules/Flatten.js';
import { Gemm } from './rules/Gemm.js';
import { GlobalAveragePool } from './rules/GlobalAveragePool.js';
import { Identity } from './rules/Identity.js';
import { MatMul } from './rules/MatMul.js';
import { MaxPool } from './rules/MaxPool.js';
import { Mul } from './rules/Mul.js';
import { Neg } from './rules/Neg.js';
import { Relu } from './rules/Relu.js';
import { Reshape } from './rules/Reshape.js';
import { Sub } from './rules/Sub.js';

/**
 * Every vector–Jacobian rule, keyed by ONNX op type (default domain). One explicit list: an op
 * missing here is an UnsupportedOpError naming it, never a silent zero.
 *
 * Ops through which no gradient flows (Shape, Size, Constant, ConstantOfShape, Range, Equal,
 * comparisons, ArgMax, …) need no entry: their outputs are not float, or their inputs are not on
 * the input→loss path, so the walk never asks for them.
 */
export const rules: Readonly<Record<string, Rule>> = {
  Add,
  BatchNormalization,
  Conv,
  Div,
  Dropout: Identity,
  Flatten,
  Gemm,
  GlobalAveragePool,
  Identity,
  MatMul,
  MaxPool,
  Mul,
  Neg,
  Relu,
  Reshape,
  Sub,
};

/** Op types listed as having zero gradient almost everywhere (documented in `gauntlet list`). */
export const NO_GRADIENT: readonly string[] = ['Shape', 'Size', 'Constant', 'ConstantOfShape', 'Range', 'Equal', 'Less', 'Greater', 'ArgMax', 'ArgMin', 'NonZero'];
