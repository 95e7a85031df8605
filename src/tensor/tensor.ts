// The Tensor class: a libtorch tensor owned from JavaScript, with PyTorch's method names in
// camelCase (masked_fill -> maskedFill) and PyTorch's semantics (broadcasting, type promotion,
// views sharing storage, autograd recording).

import { native, type OpArg, type TensorHandle } from '../native/binding.js';
import { op } from './dispatch.js';
import { type AnyTypedArray, type DType, dtypeCode, dtypeFromCode, typedArrayView, isFloating } from './dtype.js';
import { track } from './scope.js';

export type Shape = readonly number[];
export type TensorOrScalar = Tensor | number | boolean;

/** Wraps a raw handle returned by the addon into a tracked Tensor. */
export function wrap(h: unknown): Tensor {
  return new Tensor(h as TensorHandle);
}

function wrapMaybe(h: unknown): Tensor | null {
  return h === null || h === undefined ? null : wrap(h);
}

function wrapList(hs: unknown): Tensor[] {
  return (hs as unknown[]).map(wrap);
}

// ---- operators used by Tensor methods (resolved lazily) ----
const A = {
  add: op('add', 'Tensor'),
  addS: op('add', 'Scalar'),
  sub: op('sub', 'Tensor'),
  subS: op('sub', 'Scalar'),
  rsubS: op('rsub', 'Scalar'),
  mul: op('mul', 'Tensor'),
  mulS: op('mul', 'Scalar'),
  div: op('div', 'Tensor'),
  divS: op('div', 'Scalar'),
  divMode: op('div', 'Tensor_mode'),
  divSMode: op('div', 'Scalar_mode'),
  remainder: op('remainder', 'Tensor'),
  remainderS: op('remainder', 'Scalar'),
  powT: op('pow', 'Tensor_Tensor'),
  powS: op('pow', 'Tensor_Scalar'),
  neg: op('neg'),
  abs: op('abs'),
  exp: op('exp'),
  log: op('log'),
  log1p: op('log1p'),
  log2: op('log2'),
  sqrt: op('sqrt'),
  rsqrt: op('rsqrt'),
  sin: op('sin'),
  cos: op('cos'),
  tanh: op('tanh'),
  sigmoid: op('sigmoid'),
  relu: op('relu'),
  erf: op('erf'),
  floor: op('floor'),
  ceil: op('ceil'),
  round: op('round'),
  trunc: op('trunc'),
  sign: op('sign'),
  reciprocal: op('reciprocal'),
  square: op('square'),
  clamp: op('clamp'),
  clampT: op('clamp', 'Tensor'),
  maximum: op('maximum'),
  minimum: op('minimum'),
  atan2: op('atan2'),
  eq: op('eq', 'Tensor'),
  eqS: op('eq', 'Scalar'),
  ne: op('ne', 'Tensor'),
  neS: op('ne', 'Scalar'),
  lt: op('lt', 'Tensor'),
  ltS: op('lt', 'Scalar'),
  le: op('le', 'Tensor'),
  leS: op('le', 'Scalar'),
  gt: op('gt', 'Tensor'),
  gtS: op('gt', 'Scalar'),
  ge: op('ge', 'Tensor'),
  geS: op('ge', 'Scalar'),
  logicalAnd: op('logical_and'),
  logicalOr: op('logical_or'),
  logicalXor: op('logical_xor'),
  logicalNot: op('logical_not'),
  bitwiseAnd: op('bitwise_and', 'Tensor'),
  bitwiseOr: op('bitwise_or', 'Tensor'),
  isnan: op('isnan'),
  isfinite: op('isfinite'),
  whereSelf: op('where', 'self'),
  whereScalarOther: op('where', 'ScalarOther'),
  sum: op('sum'),
  sumDim: op('sum', 'dim_IntList'),
  mean: op('mean'),
  meanDim: op('mean', 'dim'),
  prod: op('prod'),
  prodDim: op('prod', 'dim_int'),
  max: op('max'),
  maxDim: op('max', 'dim'),
  min: op('min'),
  minDim: op('min', 'dim'),
  amax: op('amax'),
  amin: op('amin'),
  argmax: op('argmax'),
  argmin: op('argmin'),
  any: op('any'),
  anyDim: op('any', 'dim'),
  all: op('all'),
  allDim: op('all', 'dim'),
  vectorNorm: op('linalg_vector_norm'),
  std: op('std', 'correction'),
  var: op('var', 'correction'),
  cumsum: op('cumsum'),
  cumprod: op('cumprod'),
  logsumexp: op('logsumexp'),
  topk: op('topk'),
  sort: op('sort', 'stable'),
  argsort: op('argsort'),
  matmul: op('matmul'),
  mm: op('mm'),
  bmm: op('bmm'),
  softmax: op('softmax', 'int'),
  logSoftmax: op('log_softmax', 'int'),
  view: op('view'),
  reshape: op('reshape'),
  permute: op('permute'),
  transpose: op('transpose', 'int'),
  t: op('t'),
  flatten: op('flatten', 'using_ints'),
  unflatten: op('unflatten', 'int'),
  squeeze: op('squeeze'),
  squeezeDim: op('squeeze', 'dim'),
  unsqueeze: op('unsqueeze'),
  expand: op('expand'),
  expandAs: op('expand_as'),
  repeat: op('repeat'),
  narrow: op('narrow'),
  slice: op('slice', 'Tensor'),
  select: op('select', 'int'),
  indexSelect: op('index_select'),
  gather: op('gather'),
  scatter: op('scatter', 'src'),
  scatterValue: op('scatter', 'value'),
  scatterAdd: op('scatter_add'),
  maskedFillS: op('masked_fill', 'Scalar'),
  maskedFillT: op('masked_fill', 'Tensor'),
  maskedSelect: op('masked_select'),
  index: op('index', 'Tensor'),
  indexPut: op('index_put'),
  indexPut_: op('index_put_'),
  chunk: op('chunk'),
  split: op('split', 'Tensor'),
  splitSizes: op('split_with_sizes'),
  unbind: op('unbind', 'int'),
  flip: op('flip'),
  roll: op('roll'),
  clone: op('clone'),
  detach: op('detach'),
  contiguous: op('contiguous'),
  toDtype: op('to', 'dtype'),
  toDevice: op('to', 'device'),
  nonzero: op('nonzero'),
  fill_: op('fill_', 'Scalar'),
  zero_: op('zero_'),
  copy_: op('copy_'),
  add_: op('add_', 'Tensor'),
  addS_: op('add_', 'Scalar'),
  sub_: op('sub_', 'Tensor'),
  mul_: op('mul_', 'Tensor'),
  mulS_: op('mul_', 'Scalar'),
  div_: op('div_', 'Tensor'),
  divS_: op('div_', 'Scalar'),
  addcmul_: op('addcmul_'),
  addcdiv_: op('addcdiv_'),
  lerpS_: op('lerp_', 'Scalar'),
  clamp_: op('clamp_'),
  sqrt_: op('sqrt_'),
  maskedFillS_: op('masked_fill_', 'Scalar'),
  normal_: op('normal_'),
  uniform_: op('uniform_'),
  bernoulliF_: op('bernoulli_', 'float'),
  asStrided: op('as_strided'),
};

type DimArg = number | readonly number[];

function dims(d: DimArg): number[] {
  return typeof d === 'number' ? [d] : [...d];
}

/** Keyword options common to reductions. */
export interface ReduceOptions {
  keepdim?: boolean;
}

/**
 * A libtorch tensor. Create tensors with the functions of `torch` (zeros, tensor, fromTypedArray …);
 * methods return new tensors unless their name ends in `_` (in place, returning `this`).
 */
export class Tensor {
  /** The addon handle; do not use outside src/tensor. */
  readonly h: TensorHandle;
  kept = false;
  private disposed = false;

  constructor(h: TensorHandle) {
    this.h = h;
    track(this);
  }

  // ---------------------------------------------------------------- metadata
  get shape(): number[] {
    return native().shape(this.h);
  }
  get dtype(): DType {
    return dtypeFromCode(native().dtype(this.h));
  }
  get ndim(): number {
    return native().meta(this.h)[1];
  }
  get numel(): number {
    return native().meta(this.h)[2];
  }
  get device(): string {
    return native().meta(this.h)[6];
  }
  get storageOffset(): number {
    return native().meta(this.h)[3];
  }
  get strides(): number[] {
    return native().strides(this.h);
  }
  /** Size of one dimension (negative counts from the end). */
  size(dim: number): number {
    const s = this.shape;
    const d = dim < 0 ? s.length + dim : dim;
    if (d < 0 || d >= s.length) throw new RangeError(`size(${dim}): tensor has ${s.length} dimensions`);
    return s[d]!;
  }
  get isFloatingPoint(): boolean {
    return isFloating(this.dtype);
  }
  isContiguous(): boolean {
    return native().meta(this.h)[7];
  }
  /** True when `other` views the same storage (same first byte of memory). */
  sharesStorageWith(other: Tensor): boolean {
    return native().storageAddress(this.h) === native().storageAddress(other.h);
  }

  // ---------------------------------------------------------------- lifetime
  /** Frees the native tensor now. Views keep their storage alive until they are freed too. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    native().dispose(this.h);
  }
  get isDisposed(): boolean {
    return this.disposed;
  }
  /** Exempts this tensor from scope disposal (see tidy). */
  keep(): this {
    this.kept = true;
    return this;
  }

  // ---------------------------------------------------------------- autograd
  get requiresGrad(): boolean {
    return native().meta(this.h)[4];
  }
  set requiresGrad(on: boolean) {
    native().setRequiresGrad(this.h, on);
  }
  requiresGrad_(on = true): this {
    native().setRequiresGrad(this.h, on);
    return this;
  }
  get isLeaf(): boolean {
    return native().meta(this.h)[5];
  }
  /** The accumulated gradient (a new handle on it each time), or null. */
  get grad(): Tensor | null {
    return wrapMaybe(native().grad(this.h));
  }
  set grad(g: Tensor | null) {
    native().setGrad(this.h, g ? g.h : null);
  }
  /** Name of the autograd node that produced this tensor (e.g. 'AddBackward0'), or null. */
  get gradFn(): string | null {
    return native().gradFnName(this.h);
  }
  backward(gradient?: Tensor, options: { retainGraph?: boolean; createGraph?: boolean } = {}): void {
    native().backward([this.h], gradient ? [gradient.h] : null, options.retainGraph, options.createGraph ?? false);
  }
  detach(): Tensor {
    return wrap(A.detach(this.h));
  }

  // ---------------------------------------------------------------- data out
  /** A copy of the values in row-major order (int64 as BigInt64Array, 16-bit floats as raw bits). */
  toTypedArray(): AnyTypedArray {
    const dt = this.dtype;
    return typedArrayView(dt, native().toBytes(this.h));
  }
  /** The values as plain numbers in row-major order (16-bit floats converted exactly). */
  toNumbers(): number[] {
    const dt = this.dtype;
    if (dt === 'float16' || dt === 'bfloat16') {
      const f = this.to('float32');
      try {
        return Array.from(f.toTypedArray() as Float32Array);
      } finally {
        f.dispose();
      }
    }
    const a = this.toTypedArray();
    if (a instanceof BigInt64Array) return Array.from(a, (v) => Number(v));
    return Array.from(a as ArrayLike<number>);
  }
  /** Raw little-endian bytes in row-major order. */
  toBytes(): Uint8Array {
    return new Uint8Array(native().toBytes(this.h));
  }
  /** The single value of a one-element tensor. */
  item(): number {
    const n = this.numel;
    if (n !== 1) throw new RangeError(`item(): tensor has ${n} elements (shape [${this.shape}]), expected 1`);
    return this.toNumbers()[0]!;
  }
  /** Nested arrays of numbers (booleans for bool tensors), like PyTorch's tolist(). */
  toArray(): unknown {
    const shape = this.shape;
    const flat: unknown[] = this.dtype === 'bool' ? this.toNumbers().map((v) => v !== 0) : this.toNumbers();
    if (shape.length === 0) return flat[0];
    let pos = 0;
    const build = (d: number): unknown[] => {
      const out: unknown[] = [];
      for (let i = 0; i < shape[d]!; i++) out.push(d === shape.length - 1 ? flat[pos++] : build(d + 1));
      return out;
    };
    return build(0);
  }
  toString(): string {
    const shape = this.shape;
    const body = this.numel <= 64 ? JSON.stringify(this.toArray()) : '…';
    return `tensor(${body}, shape=[${shape}], dtype=${this.dtype})`;
  }

  // ---------------------------------------------------------------- conversion
  to(dtype: DType, options: { copy?: boolean } = {}): Tensor {
    return wrap(A.toDtype(this.h, dtypeCode(dtype), false, options.copy ?? false));
  }
  toDevice(device: string): Tensor {
    return wrap(A.toDevice(this.h, device, this.dtypeCodeNow(), false, false));
  }
  private dtypeCodeNow(): number {
    return native().dtype(this.h);
  }
  float(): Tensor {
    return this.to('float32');
  }
  double(): Tensor {
    return this.to('float64');
  }
  long(): Tensor {
    return this.to('int64');
  }
  int(): Tensor {
    return this.to('int32');
  }
  bool(): Tensor {
    return this.to('bool');
  }
  clone(): Tensor {
    return wrap(A.clone(this.h));
  }
  contiguous(): Tensor {
    return wrap(A.contiguous(this.h));
  }

  // ---------------------------------------------------------------- views and reshaping
  view(...shape: number[]): Tensor {
    return wrap(A.view(this.h, shape));
  }
  reshape(...shape: number[]): Tensor {
    return wrap(A.reshape(this.h, shape));
  }
  permute(...order: number[]): Tensor {
    return wrap(A.permute(this.h, order));
  }
  transpose(dim0: number, dim1: number): Tensor {
    return wrap(A.transpose(this.h, dim0, dim1));
  }
  /** 2-D transpose. */
  t(): Tensor {
    return wrap(A.t(this.h));
  }
  flatten(startDim = 0, endDim = -1): Tensor {
    return wrap(A.flatten(this.h, startDim, endDim));
  }
  unflatten(dim: number, sizes: Shape): Tensor {
    return wrap(A.unflatten(this.h, dim, sizes));
  }
  squeeze(dim?: number): Tensor {
    return wrap(dim === undefined ? A.squeeze(this.h) : A.squeezeDim(this.h, dim));
  }
  unsqueeze(dim: number): Tensor {
    return wrap(A.unsqueeze(this.h, dim));
  }
  expand(...shape: number[]): Tensor {
    return wrap(A.expand(this.h, shape));
  }
  expandAs(other: Tensor): Tensor {
    return wrap(A.expandAs(this.h, other.h));
  }
  repeat(...times: number[]): Tensor {
    return wrap(A.repeat(this.h, times));
  }
  narrow(dim: number, start: number, length: number): Tensor {
    return wrap(A.narrow(this.h, dim, start, length));
  }
  /** x[..., start:end:step, ...] along `dim` (end null = to the end; negatives count from the end). */
  slice(dim: number, start: number | null = null, end: number | null = null, step = 1): Tensor {
    return wrap(A.slice(this.h, dim, start, end, step));
  }
  /** x[..., index, ...] along `dim` (drops the dimension). */
  select(dim: number, index: number): Tensor {
    return wrap(A.select(this.h, dim, index));
  }
  indexSelect(dim: number, index: Tensor): Tensor {
    return wrap(A.indexSelect(this.h, dim, index.h));
  }
  gather(dim: number, index: Tensor): Tensor {
    return wrap(A.gather(this.h, dim, index.h));
  }
  scatter(dim: number, index: Tensor, src: Tensor | number): Tensor {
    return wrap(typeof src === 'number' ? A.scatterValue(this.h, dim, index.h, src) : A.scatter(this.h, dim, index.h, src.h));
  }
  scatterAdd(dim: number, index: Tensor, src: Tensor): Tensor {
    return wrap(A.scatterAdd(this.h, dim, index.h, src.h));
  }
  maskedFill(mask: Tensor, value: number | Tensor): Tensor {
    return wrap(typeof value === 'number' ? A.maskedFillS(this.h, mask.h, value) : A.maskedFillT(this.h, mask.h, value.h));
  }
  maskedSelect(mask: Tensor): Tensor {
    return wrap(A.maskedSelect(this.h, mask.h));
  }
  /** Advanced indexing x[i0, i1, …] with index tensors (null = take the whole dimension). */
  index(indices: readonly (Tensor | null)[]): Tensor {
    return wrap(A.index(this.h, indices.map((t) => (t ? t.h : null))));
  }
  indexPut(indices: readonly (Tensor | null)[], values: Tensor, accumulate = false): Tensor {
    return wrap(A.indexPut(this.h, indices.map((t) => (t ? t.h : null)), values.h, accumulate));
  }
  indexPut_(indices: readonly (Tensor | null)[], values: Tensor, accumulate = false): this {
    A.indexPut_(this.h, indices.map((t) => (t ? t.h : null)), values.h, accumulate);
    return this;
  }
  chunk(chunks: number, dim = 0): Tensor[] {
    return wrapList(A.chunk(this.h, chunks, dim));
  }
  /** Splits into pieces of `size` (number) or of the listed sizes. */
  split(size: number | readonly number[], dim = 0): Tensor[] {
    return wrapList(typeof size === 'number' ? A.split(this.h, size, dim) : A.splitSizes(this.h, size, dim));
  }
  unbind(dim = 0): Tensor[] {
    return wrapList(A.unbind(this.h, dim));
  }
  flip(dim: DimArg): Tensor {
    return wrap(A.flip(this.h, dims(dim)));
  }
  roll(shifts: DimArg, dim: DimArg): Tensor {
    return wrap(A.roll(this.h, dims(shifts), dims(dim)));
  }
  /** A view with explicit sizes, strides and storage offset over this tensor's storage. */
  asStrided(size: Shape, stride: Shape, storageOffset = 0): Tensor {
    return wrap(A.asStrided(this.h, size, stride, storageOffset));
  }
  nonzero(): Tensor {
    return wrap(A.nonzero(this.h));
  }

  // ---------------------------------------------------------------- arithmetic
  add(other: TensorOrScalar, alpha = 1): Tensor {
    return wrap(other instanceof Tensor ? A.add(this.h, other.h, alpha) : A.addS(this.h, other, alpha));
  }
  sub(other: TensorOrScalar, alpha = 1): Tensor {
    return wrap(other instanceof Tensor ? A.sub(this.h, other.h, alpha) : A.subS(this.h, other, alpha));
  }
  /** other - this */
  rsub(other: number): Tensor {
    return wrap(A.rsubS(this.h, other, 1));
  }
  mul(other: TensorOrScalar): Tensor {
    return wrap(other instanceof Tensor ? A.mul(this.h, other.h) : A.mulS(this.h, other));
  }
  /** True division, or 'floor' / 'trunc' rounding. */
  div(other: TensorOrScalar, roundingMode?: 'floor' | 'trunc'): Tensor {
    if (roundingMode) {
      return wrap(other instanceof Tensor ? A.divMode(this.h, other.h, roundingMode) : A.divSMode(this.h, other, roundingMode));
    }
    return wrap(other instanceof Tensor ? A.div(this.h, other.h) : A.divS(this.h, other));
  }
  remainder(other: TensorOrScalar): Tensor {
    return wrap(other instanceof Tensor ? A.remainder(this.h, other.h) : A.remainderS(this.h, other));
  }
  pow(exponent: TensorOrScalar): Tensor {
    return wrap(exponent instanceof Tensor ? A.powT(this.h, exponent.h) : A.powS(this.h, exponent));
  }
  neg(): Tensor {
    return wrap(A.neg(this.h));
  }
  abs(): Tensor {
    return wrap(A.abs(this.h));
  }
  exp(): Tensor {
    return wrap(A.exp(this.h));
  }
  log(): Tensor {
    return wrap(A.log(this.h));
  }
  log1p(): Tensor {
    return wrap(A.log1p(this.h));
  }
  log2(): Tensor {
    return wrap(A.log2(this.h));
  }
  sqrt(): Tensor {
    return wrap(A.sqrt(this.h));
  }
  rsqrt(): Tensor {
    return wrap(A.rsqrt(this.h));
  }
  sin(): Tensor {
    return wrap(A.sin(this.h));
  }
  cos(): Tensor {
    return wrap(A.cos(this.h));
  }
  tanh(): Tensor {
    return wrap(A.tanh(this.h));
  }
  sigmoid(): Tensor {
    return wrap(A.sigmoid(this.h));
  }
  relu(): Tensor {
    return wrap(A.relu(this.h));
  }
  erf(): Tensor {
    return wrap(A.erf(this.h));
  }
  floor(): Tensor {
    return wrap(A.floor(this.h));
  }
  ceil(): Tensor {
    return wrap(A.ceil(this.h));
  }
  round(): Tensor {
    return wrap(A.round(this.h));
  }
  trunc(): Tensor {
    return wrap(A.trunc(this.h));
  }
  sign(): Tensor {
    return wrap(A.sign(this.h));
  }
  reciprocal(): Tensor {
    return wrap(A.reciprocal(this.h));
  }
  square(): Tensor {
    return wrap(A.square(this.h));
  }
  /** Clamp to [min, max]; either bound may be null. */
  clamp(min: number | Tensor | null = null, max: number | Tensor | null = null): Tensor {
    if (min instanceof Tensor || max instanceof Tensor) {
      return wrap(A.clampT(this.h, min instanceof Tensor ? min.h : null, max instanceof Tensor ? max.h : null));
    }
    return wrap(A.clamp(this.h, min, max));
  }
  maximum(other: Tensor): Tensor {
    return wrap(A.maximum(this.h, other.h));
  }
  minimum(other: Tensor): Tensor {
    return wrap(A.minimum(this.h, other.h));
  }
  atan2(other: Tensor): Tensor {
    return wrap(A.atan2(this.h, other.h));
  }

  // ---------------------------------------------------------------- comparison and logic
  eq(other: TensorOrScalar): Tensor {
    return wrap(other instanceof Tensor ? A.eq(this.h, other.h) : A.eqS(this.h, other));
  }
  ne(other: TensorOrScalar): Tensor {
    return wrap(other instanceof Tensor ? A.ne(this.h, other.h) : A.neS(this.h, other));
  }
  lt(other: TensorOrScalar): Tensor {
    return wrap(other instanceof Tensor ? A.lt(this.h, other.h) : A.ltS(this.h, other));
  }
  le(other: TensorOrScalar): Tensor {
    return wrap(other instanceof Tensor ? A.le(this.h, other.h) : A.leS(this.h, other));
  }
  gt(other: TensorOrScalar): Tensor {
    return wrap(other instanceof Tensor ? A.gt(this.h, other.h) : A.gtS(this.h, other));
  }
  ge(other: TensorOrScalar): Tensor {
    return wrap(other instanceof Tensor ? A.ge(this.h, other.h) : A.geS(this.h, other));
  }
  logicalAnd(other: Tensor): Tensor {
    return wrap(A.logicalAnd(this.h, other.h));
  }
  logicalOr(other: Tensor): Tensor {
    return wrap(A.logicalOr(this.h, other.h));
  }
  logicalXor(other: Tensor): Tensor {
    return wrap(A.logicalXor(this.h, other.h));
  }
  logicalNot(): Tensor {
    return wrap(A.logicalNot(this.h));
  }
  bitwiseAnd(other: Tensor): Tensor {
    return wrap(A.bitwiseAnd(this.h, other.h));
  }
  bitwiseOr(other: Tensor): Tensor {
    return wrap(A.bitwiseOr(this.h, other.h));
  }
  isnan(): Tensor {
    return wrap(A.isnan(this.h));
  }
  isfinite(): Tensor {
    return wrap(A.isfinite(this.h));
  }
  /** where(cond, this, other): elements of this where cond, else other. */
  where(cond: Tensor, other: TensorOrScalar): Tensor {
    return wrap(other instanceof Tensor ? A.whereSelf(cond.h, this.h, other.h) : A.whereScalarOther(cond.h, this.h, other));
  }

  // ---------------------------------------------------------------- reductions
  sum(dim?: DimArg, opts: ReduceOptions & { dtype?: DType } = {}): Tensor {
    const dt = opts.dtype ? dtypeCode(opts.dtype) : null;
    if (dim === undefined) return wrap(A.sum(this.h, dt));
    return wrap(A.sumDim(this.h, dims(dim), opts.keepdim ?? false, dt));
  }
  mean(dim?: DimArg, opts: ReduceOptions = {}): Tensor {
    if (dim === undefined) return wrap(A.mean(this.h));
    return wrap(A.meanDim(this.h, dims(dim), opts.keepdim ?? false));
  }
  prod(dim?: number, opts: ReduceOptions = {}): Tensor {
    if (dim === undefined) return wrap(A.prod(this.h));
    return wrap(A.prodDim(this.h, dim, opts.keepdim ?? false));
  }
  /** Maximum of all elements. */
  max(): Tensor {
    return wrap(A.max(this.h));
  }
  /** Maximum along a dimension with the index where it occurs. */
  maxDim(dim: number, opts: ReduceOptions = {}): { values: Tensor; indices: Tensor } {
    const [v, i] = A.maxDim(this.h, dim, opts.keepdim ?? false) as unknown[];
    return { values: wrap(v), indices: wrap(i) };
  }
  min(): Tensor {
    return wrap(A.min(this.h));
  }
  minDim(dim: number, opts: ReduceOptions = {}): { values: Tensor; indices: Tensor } {
    const [v, i] = A.minDim(this.h, dim, opts.keepdim ?? false) as unknown[];
    return { values: wrap(v), indices: wrap(i) };
  }
  amax(dim: DimArg = [], opts: ReduceOptions = {}): Tensor {
    return wrap(A.amax(this.h, dims(dim), opts.keepdim ?? false));
  }
  amin(dim: DimArg = [], opts: ReduceOptions = {}): Tensor {
    return wrap(A.amin(this.h, dims(dim), opts.keepdim ?? false));
  }
  argmax(dim?: number, opts: ReduceOptions = {}): Tensor {
    return wrap(A.argmax(this.h, dim ?? null, opts.keepdim ?? false));
  }
  argmin(dim?: number, opts: ReduceOptions = {}): Tensor {
    return wrap(A.argmin(this.h, dim ?? null, opts.keepdim ?? false));
  }
  any(dim?: number, opts: ReduceOptions = {}): Tensor {
    return wrap(dim === undefined ? A.any(this.h) : A.anyDim(this.h, dim, opts.keepdim ?? false));
  }
  all(dim?: number, opts: ReduceOptions = {}): Tensor {
    return wrap(dim === undefined ? A.all(this.h) : A.allDim(this.h, dim, opts.keepdim ?? false));
  }
  /** Vector p-norm over `dim` (all elements when omitted), like torch.linalg.vector_norm. */
  norm(p = 2, dim?: DimArg, opts: ReduceOptions = {}): Tensor {
    return wrap(A.vectorNorm(this.h, p, dim === undefined ? null : dims(dim), opts.keepdim ?? false));
  }
  /** Standard deviation with Bessel's correction by default (correction 1), like torch.std. */
  std(dim?: DimArg, opts: ReduceOptions & { correction?: number } = {}): Tensor {
    return wrap(A.std(this.h, dim === undefined ? null : dims(dim), opts.correction ?? 1, opts.keepdim ?? false));
  }
  var(dim?: DimArg, opts: ReduceOptions & { correction?: number } = {}): Tensor {
    return wrap(A.var(this.h, dim === undefined ? null : dims(dim), opts.correction ?? 1, opts.keepdim ?? false));
  }
  cumsum(dim: number): Tensor {
    return wrap(A.cumsum(this.h, dim));
  }
  cumprod(dim: number): Tensor {
    return wrap(A.cumprod(this.h, dim));
  }
  logsumexp(dim: DimArg, opts: ReduceOptions = {}): Tensor {
    return wrap(A.logsumexp(this.h, dims(dim), opts.keepdim ?? false));
  }
  topk(k: number, dim = -1, largest = true, sorted = true): { values: Tensor; indices: Tensor } {
    const [v, i] = A.topk(this.h, k, dim, largest, sorted) as unknown[];
    return { values: wrap(v), indices: wrap(i) };
  }
  /** Sorts along `dim`; `stable` keeps the order of equal elements. */
  sort(dim = -1, descending = false, stable = false): { values: Tensor; indices: Tensor } {
    const [v, i] = A.sort(this.h, stable, dim, descending) as unknown[];
    return { values: wrap(v), indices: wrap(i) };
  }
  argsort(dim = -1, descending = false): Tensor {
    return wrap(A.argsort(this.h, dim, descending));
  }

  // ---------------------------------------------------------------- linear algebra
  matmul(other: Tensor): Tensor {
    return wrap(A.matmul(this.h, other.h));
  }
  mm(other: Tensor): Tensor {
    return wrap(A.mm(this.h, other.h));
  }
  bmm(other: Tensor): Tensor {
    return wrap(A.bmm(this.h, other.h));
  }
  softmax(dim: number): Tensor {
    return wrap(A.softmax(this.h, dim));
  }
  logSoftmax(dim: number): Tensor {
    return wrap(A.logSoftmax(this.h, dim));
  }

  // ---------------------------------------------------------------- in place (return this)
  fill_(value: number): this {
    A.fill_(this.h, value);
    return this;
  }
  zero_(): this {
    A.zero_(this.h);
    return this;
  }
  copy_(src: Tensor): this {
    A.copy_(this.h, src.h, false);
    return this;
  }
  add_(other: TensorOrScalar, alpha = 1): this {
    if (other instanceof Tensor) A.add_(this.h, other.h, alpha);
    else A.addS_(this.h, other, alpha);
    return this;
  }
  sub_(other: Tensor, alpha = 1): this {
    A.sub_(this.h, other.h, alpha);
    return this;
  }
  mul_(other: TensorOrScalar): this {
    if (other instanceof Tensor) A.mul_(this.h, other.h);
    else A.mulS_(this.h, other);
    return this;
  }
  div_(other: TensorOrScalar): this {
    if (other instanceof Tensor) A.div_(this.h, other.h);
    else A.divS_(this.h, other);
    return this;
  }
  /** this += value * t1 * t2 */
  addcmul_(t1: Tensor, t2: Tensor, value = 1): this {
    A.addcmul_(this.h, t1.h, t2.h, value);
    return this;
  }
  /** this += value * t1 / t2 */
  addcdiv_(t1: Tensor, t2: Tensor, value = 1): this {
    A.addcdiv_(this.h, t1.h, t2.h, value);
    return this;
  }
  /** this += weight * (end - this) */
  lerp_(end: Tensor, weight: number): this {
    A.lerpS_(this.h, end.h, weight);
    return this;
  }
  clamp_(min: number | null = null, max: number | null = null): this {
    A.clamp_(this.h, min, max);
    return this;
  }
  sqrt_(): this {
    A.sqrt_(this.h);
    return this;
  }
  maskedFill_(mask: Tensor, value: number): this {
    A.maskedFillS_(this.h, mask.h, value);
    return this;
  }
  normal_(mean = 0, std = 1, generator?: { handle: OpArg }): this {
    A.normal_(this.h, mean, std, generator?.handle ?? null);
    return this;
  }
  uniform_(from = 0, to = 1, generator?: { handle: OpArg }): this {
    A.uniform_(this.h, from, to, generator?.handle ?? null);
    return this;
  }
  bernoulli_(p: number, generator?: { handle: OpArg }): this {
    A.bernoulliF_(this.h, p, generator?.handle ?? null);
    return this;
  }
}

export function isTensor(v: unknown): v is Tensor {
  return v instanceof Tensor;
}
