import type { Rule } from './context.js';
import { Abs } from './rules/Abs.js';
import { Add } from './rules/Add.js';
import { AveragePool } from './rules/AveragePool.js';
import { BatchNormalization } from './rules/BatchNormalization.js';
import { Cast } from './rules/Cast.js';
import { Clip } from './rules/Clip.js';
import { Concat } from './rules/Concat.js';
import { Conv } from './rules/Conv.js';
import { ConvTranspose } from './rules/ConvTranspose.js';
import { Cos } from './rules/Cos.js';
import { DepthToSpace } from './rules/DepthToSpace.js';
import { Div } from './rules/Div.js';
import { Elu } from './rules/Elu.js';
import { Erf } from './rules/Erf.js';
import { Exp } from './rules/Exp.js';
import { Expand } from './rules/Expand.js';
import { Flatten } from './rules/Flatten.js';
import { Gather } from './rules/Gather.js';
import { GatherElements } from './rules/GatherElements.js';
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
import { Pad } from './rules/Pad.js';
import { Pow } from './rules/Pow.js';
import { Reciprocal } from './rules/Reciprocal.js';
import { ReduceMax } from './rules/ReduceMax.js';
import { ReduceMean } from './rules/ReduceMean.js';
import { ReduceMin } from './rules/ReduceMin.js';
import { ReduceSum } from './rules/ReduceSum.js';
import { Relu } from './rules/Relu.js';
import { Reshape } from './rules/Reshape.js';
import { ReverseSequence } from './rules/ReverseSequence.js';
import { Resize } from './rules/Resize.js';
import { Sigmoid } from './rules/Sigmoid.js';
import { Sin } from './rules/Sin.js';
import { Slice } from './rules/Slice.js';
import { Softmax } from './rules/Softmax.js';
import { Softplus } from './rules/Softplus.js';
import { SpaceToDepth } from './rules/SpaceToDepth.js';
import { Split } from './rules/Split.js';
import { Sqrt } from './rules/Sqrt.js';
import { Squeeze } from './rules/Squeeze.js';
import { Sub } from './rules/Sub.js';
import { Sum } from './rules/Sum.js';
import { Tanh } from './rules/Tanh.js';
import { Tile } from './rules/Tile.js';
import { Transpose } from './rules/Transpose.js';
import { Unsqueeze } from './rules/Unsqueeze.js';
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
  AveragePool,
  BatchNormalization,
  Cast,
  Clip,
  Concat,
  Conv,
  ConvTranspose,
  Cos,
  DepthToSpace,
  Div,
  Dropout: Identity,
  Elu,
  Erf,
  Exp,
  Expand,
  Flatten,
  Gather,
  GatherElements,
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
  Pad,
  Pow,
  Reciprocal,
  ReduceMax,
  ReduceMean,
  ReduceMin,
  ReduceSum,
  Relu,
  Reshape,
  ReverseSequence,
  Resize,
  Sigmoid,
  Sin,
  Slice,
  Softmax,
  Softplus,
  SpaceToDepth,
  Split,
  Sqrt,
  Squeeze,
  Sub,
  Sum,
  Tanh,
  Tile,
  Transpose,
  Unsqueeze,
  Where,
};

/** Op types listed as having zero gradient almost everywhere (documented in `gauntlet list`). */
export const NO_GRADIENT: readonly string[] = ['Shape', 'Size', 'Constant', 'ConstantOfShape', 'Range', 'Equal', 'Less', 'Greater', 'ArgMax', 'ArgMin', 'NonZero'];
