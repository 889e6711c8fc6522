import type { Rule } from './context.js';
import { Abs } from './rules/Abs.js';
import { Add } from './rules/Add.js';
import { BatchNormalization } from './rules/BatchNormalization.js';
import { Cast } from './rules/Cast.js';
import { Clip } from './rules/Clip.js';
import { Conv } from './rules/Conv.js';
import { Cos } from './rules/Cos.js';
import { Div } from './rules/Div.js';
import { Elu } from './rules/Elu.js';
import { Erf } from './rules/Erf.js';
import { Exp } from './rules/Exp.js';
import { Flatten } from './rules/Flatten.js';
import { Gelu } from './rules/Gelu.js';
import { Gemm } from './rules/Gemm.js';
import { GlobalAveragePool } from './rules/GlobalAveragePool.js';
import { HardSigmoid } from './rules/HardSigmoid.js';
import { HardSwish } from './rules/HardSwish.js';
import { Identity } from './rules/Identity.js';
import { InstanceNormalization } from './rules/InstanceNormalization.js';
import { LayerNormalization } from './rules/LayerNormalization.js';
import { LeakyRelu } from './rules/LeakyRelu.js';
import { Log } from './rules/Log.js';
import { LogSoftmax } from './rules/LogSoftmax.js';
import { MatMul } from './rules/MatMul.js';
import { Max } from './rules/Max.js';
import { MaxPool } from './rules/MaxPool.js';
import { Mean } from './rules/Mean.js';
import { Min } from './rules/Min.js';
import { Mul } from './rules/Mul.js';
import { Neg } from './rules/Neg.js';
import { PRelu } from './rules/PRelu.js';
import { Pow } from './rules/Pow.js';
import { Reciprocal } from './rules/Reciprocal.js';
import { ReduceMean } from './rules/ReduceMean.js';
import { ReduceSum } from './rules/ReduceSum.js';
import { Relu } from './rules/Relu.js';
import { Reshape } from './rules/Reshape.js';
import { Sigmoid } from './rules/Sigmoid.js';
import { Sin } from './rules/Sin.js';
import { Softmax } from './rules/Softmax.js';
import { Softplus } from './rules/Softplus.js';
import { Sqrt } from './rules/Sqrt.js';
import { Sub } from './rules/Sub.js';
import { Sum } from './rules/Sum.js';
import { Tanh } from './rules/Tanh.js';
import { Where } from './rules/Where.js';

/**
 * Every vector–Jacobian rule, keyed by ONNX op type (default domain). One explicit list: an op
 * missing here is an UnsupportedOpError naming it, never a silent zero.
 *
 * Ops through which no gradient flows (Shape, Size, Constant, ConstantOfShape, Range, Equal,
 * comparisons, ArgMax, …) need no entry: their outputs are not float, or their inputs are not on
 * the input→loss path, so the walk never asks for them.
 */
export const rules: Readonly<Record<string, Rule>> = {
  Abs,
  Add,
  BatchNormalization,
  Cast,
  Clip,
  Conv,
  Cos,
  Div,
  Dropout: Identity,
  Elu,
  Erf,
  Exp,
  Flatten,
  Gelu,
  Gemm,
  GlobalAveragePool,
  HardSigmoid,
  HardSwish,
  Identity,
  InstanceNormalization,
  LayerNormalization,
  LeakyRelu,
  Log,
  LogSoftmax,
  MatMul,
  Max,
  MaxPool,
  Mean,
  Min,
  Mul,
  Neg,
  PRelu,
  Pow,
  Reciprocal,
  ReduceMean,
  ReduceSum,
  Relu,
  Reshape,
  Sigmoid,
  Sin,
  Softmax,
  Softplus,
  Sqrt,
  Sub,
  Sum,
  Tanh,
  Where,
};

/** Op types listed as having zero gradient almost everywhere (documented in `gauntlet list`). */
export const NO_GRADIENT: readonly string[] = ['Shape', 'Size', 'Constant', 'ConstantOfShape', 'Range', 'Equal', 'Less', 'Greater', 'ArgMax', 'ArgMin', 'NonZero'];
