// Tensor factories (torch.zeros, torch.tensor, torch.randn …) and free functions that combine
// several tensors (cat, stack, where, einsum, linalg.solve …).

import { native } from '../native/binding.js';
import { op } from './dispatch.js';
import { type DType, ITEM_SIZE, dtypeCode, dtypeOfTypedArray } from './dtype.js';
import type { Generator } from './random.js';
import { Tensor, type Shape, wrap } from './tensor.js';

const F = {
  zeros: op('zeros'),
  ones: op('ones'),
  full: op('full'),
  empty: op('empty', 'memory_format'),
  arange: op('arange', 'start_step'),
  linspace: op('linspace'),
  eye: op('eye'),
  randn: op('randn', 'generator'),
  rand: op('rand', 'generator'),
  randint: op('randint', 'low_generator'),
  randperm: op('randperm', 'generator'),
  zerosLike: op('zeros_like'),
  onesLike: op('ones_like'),
  fullLike: op('full_like'),
  cat: op('cat'),
  stack: op('stack'),
  whereSelf: op('where', 'self'),
  einsum: op('einsum'),
  linalgSolve: op('linalg_solve'),
  cdist: op('cdist'),
  meshgrid: op('meshgrid', 'indexing'),
  broadcastTensors: op('broadcast_tensors'),
  triu: op('triu'),
  tril: op('tril'),
  outer: op('outer'),
  diag: op('diag'),
};

export interface FactoryOptions {
  dtype?: DType;
  device?: string;
  requiresGrad?: boolean;
}

function finish(t: Tensor, o: FactoryOptions): Tensor {
  if (o.requiresGrad) t.requiresGrad = true;
  return t;
}

const dt = (o: FactoryOptions, fallback: DType | null = 'float32') =>
  o.dtype ? dtypeCode(o.dtype) : fallback === null ? null : dtypeCode(fallback);

export function zeros(shape: Shape, o: FactoryOptions = {}): Tensor {
  return finish(wrap(F.zeros(shape, dt(o), null, o.device ?? null)), o);
}
export function ones(shape: Shape, o: FactoryOptions = {}): Tensor {
  return finish(wrap(F.ones(shape, dt(o), null, o.device ?? null)), o);
}
export function full(shape: Shape, value: number | boolean, o: FactoryOptions = {}): Tensor {
  return finish(wrap(F.full(shape, value, dt(o, typeof value === 'boolean' ? 'bool' : 'float32'), null, o.device ?? null)), o);
}
/** Uninitialised memory. */
export function empty(shape: Shape, o: FactoryOptions = {}): Tensor {
  return finish(wrap(F.empty(shape, dt(o), null, o.device ?? null)), o);
}
export function zerosLike(t: Tensor, o: FactoryOptions = {}): Tensor {
  return finish(wrap(F.zerosLike(t.h, dt(o, null))), o);
}
export function onesLike(t: Tensor, o: FactoryOptions = {}): Tensor {
  return finish(wrap(F.onesLike(t.h, dt(o, null))), o);
}
export function fullLike(t: Tensor, value: number, o: FactoryOptions = {}): Tensor {
  return finish(wrap(F.fullLike(t.h, value, dt(o, null))), o);
}
/**
 * Values from start (inclusive) to end (exclusive) by step. Like PyTorch, the dtype is int64
 * when all bounds are integers, float32 otherwise, unless given.
 */
export function arange(start: number, end?: number, step = 1, o: FactoryOptions = {}): Tensor {
  if (end === undefined) {
    end = start;
    start = 0;
  }
  const allInt = Number.isInteger(start) && Number.isInteger(end) && Number.isInteger(step);
  const d = o.dtype ?? (allInt ? 'int64' : 'float32');
  return finish(wrap(F.arange(start, end, step, dtypeCode(d), null, o.device ?? null)), o);
}
export function linspace(start: number, end: number, steps: number, o: FactoryOptions = {}): Tensor {
  return finish(wrap(F.linspace(start, end, steps, dt(o), null, o.device ?? null)), o);
}
export function eye(n: number, o: FactoryOptions = {}): Tensor {
  return finish(wrap(F.eye(n, dt(o), null, o.device ?? null)), o);
}

export interface RandomOptions extends FactoryOptions {
  generator?: Generator;
}
/** Standard normal samples (torch.randn), from `generator` or the default generator. */
export function randn(shape: Shape, o: RandomOptions = {}): Tensor {
  return finish(wrap(F.randn(shape, o.generator?.handle ?? null, dt(o), null, o.device ?? null)), o);
}
/** Uniform samples in [0, 1) (torch.rand). */
export function rand(shape: Shape, o: RandomOptions = {}): Tensor {
  return finish(wrap(F.rand(shape, o.generator?.handle ?? null, dt(o), null, o.device ?? null)), o);
}
/** Integers in [low, high) (torch.randint), int64 unless dtype is given. */
export function randint(low: number, high: number, shape: Shape, o: RandomOptions = {}): Tensor {
  return wrap(F.randint(low, high, shape, o.generator?.handle ?? null, dt(o, 'int64'), null, o.device ?? null));
}
/** A random permutation of 0..n-1 (torch.randperm). */
export function randperm(n: number, o: RandomOptions = {}): Tensor {
  return wrap(F.randperm(n, o.generator?.handle ?? null, dt(o, 'int64'), null, o.device ?? null));
}

/**
 * A tensor holding a copy of a typed array, viewed with `shape` (default: 1-D).
 * The dtype defaults to the array's own; float16/bfloat16 take raw 16-bit patterns in a Uint16Array.
 */
export function fromTypedArray(data: ArrayBufferView, shape?: Shape, dtype?: DType): Tensor {
  const d = dtype ?? dtypeOfTypedArray(data);
  const n = data.byteLength / ITEM_SIZE[d];
  if (!Number.isInteger(n)) throw new RangeError(`fromTypedArray: ${data.byteLength} bytes is not a whole number of ${d} elements`);
  const s = shape ?? [n];
  const need = s.reduce((a, b) => a * b, 1);
  if (need !== n) throw new RangeError(`fromTypedArray: shape [${s}] needs ${need} elements, got ${n}`);
  return wrap(native().fromBytes(data, dtypeCode(d), s));
}

type Nested = number | boolean | readonly Nested[];

function inferShape(data: Nested): number[] {
  const shape: number[] = [];
  let cur: Nested = data;
  while (Array.isArray(cur)) {
    shape.push(cur.length);
    cur = (cur as readonly Nested[])[0] as Nested;
    if (cur === undefined) break;
  }
  return shape;
}

/**
 * A tensor from (nested) JS numbers or booleans, like torch.tensor. Integers give int64 and
 * anything else float32 unless `dtype` is given; booleans give bool.
 */
export function tensor(data: Nested, o: FactoryOptions = {}): Tensor {
  const shape = inferShape(data);
  const flat: (number | boolean)[] = Array.isArray(data) ? (data as Nested[]).flat(Infinity as 1) as (number | boolean)[] : [data as number];
  const expected = shape.reduce((a, b) => a * b, 1);
  if (flat.length !== expected) throw new RangeError(`tensor(): ragged nested array (shape [${shape}] but ${flat.length} values)`);
  const isBool = flat.length > 0 && typeof flat[0] === 'boolean';
  const allInt = flat.every((v) => typeof v === 'number' && Number.isInteger(v));
  const d: DType = o.dtype ?? (isBool ? 'bool' : allInt && flat.length > 0 ? 'int64' : 'float32');
  const nums = flat.map((v) => (typeof v === 'boolean' ? (v ? 1 : 0) : v));
  let arr: ArrayBufferView;
  switch (d) {
    case 'float64':
      arr = Float64Array.from(nums);
      break;
    case 'int64':
      arr = BigInt64Array.from(nums, (v) => BigInt(Math.trunc(v)));
      break;
    case 'int32':
      arr = Int32Array.from(nums);
      break;
    case 'int16':
      arr = Int16Array.from(nums);
      break;
    case 'int8':
      arr = Int8Array.from(nums);
      break;
    case 'uint8':
    case 'bool':
      arr = Uint8Array.from(nums, (v) => (d === 'bool' ? (v ? 1 : 0) : v));
      break;
    default: {
      const f = fromTypedArray(Float32Array.from(nums), shape);
      if (d === 'float32') return finish(f, o);
      const c = f.to(d);
      f.dispose();
      return finish(c, o);
    }
  }
  return finish(fromTypedArray(arr, shape, d), o);
}

/** A 0-dim tensor. */
export function scalarTensor(value: number, dtype: DType = 'float32'): Tensor {
  return tensor(value, { dtype });
}

export function cat(tensors: readonly Tensor[], dim = 0): Tensor {
  return wrap(F.cat(tensors.map((t) => t.h), dim));
}
export function stack(tensors: readonly Tensor[], dim = 0): Tensor {
  return wrap(F.stack(tensors.map((t) => t.h), dim));
}
/** Elementwise choice: a where cond, else b (torch.where). */
export function where(cond: Tensor, a: Tensor | number, b: Tensor | number): Tensor {
  if (a instanceof Tensor && b instanceof Tensor) return wrap(F.whereSelf(cond.h, a.h, b.h));
  if (a instanceof Tensor) return a.where(cond, b);
  // Scalar first operand: build it with b's dtype so promotion matches torch.where(cond, scalar, tensor).
  if (b instanceof Tensor) {
    const s = fullLike(b, a as number);
    return wrap(F.whereSelf(cond.h, s.h, b.h));
  }
  throw new TypeError('where(): at least one of a, b must be a tensor');
}
export function einsum(equation: string, ...operands: Tensor[]): Tensor {
  return wrap(F.einsum(equation, operands.map((t) => t.h)));
}
export function matmul(a: Tensor, b: Tensor): Tensor {
  return a.matmul(b);
}
export function bmm(a: Tensor, b: Tensor): Tensor {
  return a.bmm(b);
}
/** Solves A X = B (torch.linalg.solve; same batching rules, including its 1-D-RHS ambiguity). */
export function linalgSolve(a: Tensor, b: Tensor): Tensor {
  return wrap(F.linalgSolve(a.h, b.h, true));
}
/** Pairwise p-norm distances between the rows of x1 [.., P, M] and x2 [.., R, M]. */
export function cdist(x1: Tensor, x2: Tensor, p = 2): Tensor {
  return wrap(F.cdist(x1.h, x2.h, p, null));
}
export function meshgrid(tensors: readonly Tensor[], indexing: 'ij' | 'xy' = 'ij'): Tensor[] {
  return (F.meshgrid(tensors.map((t) => t.h), indexing) as unknown[]).map(wrap);
}
export function broadcastTensors(tensors: readonly Tensor[]): Tensor[] {
  return (F.broadcastTensors(tensors.map((t) => t.h)) as unknown[]).map(wrap);
}
export function triu(t: Tensor, diagonal = 0): Tensor {
  return wrap(F.triu(t.h, diagonal));
}
export function tril(t: Tensor, diagonal = 0): Tensor {
  return wrap(F.tril(t.h, diagonal));
}
export function outer(a: Tensor, b: Tensor): Tensor {
  return wrap(F.outer(a.h, b.h));
}
export function diag(t: Tensor, diagonal = 0): Tensor {
  return wrap(F.diag(t.h, diagonal));
}
