// torch.nn.functional in TypeScript: each function calls the same ATen operator PyTorch 1.13's
// Python wrapper calls, with the same argument preparation, so results match bit for bit
// where libtorch is deterministic.

import { op } from '../tensor/dispatch.js';
import { Tensor, wrap } from '../tensor/tensor.js';
import { empty, zerosLike } from '../tensor/creation.js';
import type { Generator } from '../tensor/random.js';

const A = {
  linear: op('linear'),
  conv1d: op('conv1d'),
  conv2d: op('conv2d'),
  conv3d: op('conv3d'),
  convTranspose2d: op('conv_transpose2d', 'input'),
  layerNorm: op('layer_norm'),
  groupNorm: op('group_norm'),
  gelu: op('gelu'),
  relu: op('relu'),
  leakyRelu: op('leaky_relu'),
  silu: op('silu'),
  softplus: op('softplus'),
  dropout: op('dropout'),
  nativeDropout: op('native_dropout'),
  embedding: op('embedding'),
  constantPad: op('constant_pad_nd'),
  nearest1d: op('upsample_nearest1d', 'vec'),
  nearest2d: op('upsample_nearest2d', 'vec'),
  nearest3d: op('upsample_nearest3d', 'vec'),
  linear1d: op('upsample_linear1d', 'vec'),
  bilinear2d: op('upsample_bilinear2d', 'vec'),
  trilinear3d: op('upsample_trilinear3d', 'vec'),
  gridSampler: op('grid_sampler'),
  bceLogits: op('binary_cross_entropy_with_logits'),
  bce: op('binary_cross_entropy'),
  l1Loss: op('l1_loss'),
  mseLoss: op('mse_loss'),
  crossEntropy: op('cross_entropy_loss'),
  adaptiveAvgPool2d: op('adaptive_avg_pool2d'),
  maxPool2d: op('max_pool2d'),
  avgPool2d: op('avg_pool2d'),
  baddbmm: op('baddbmm'),
  bmm: op('bmm'),
  softmax: op('softmax', 'int'),
  normalize: op('linalg_vector_norm'),
  clampMin: op('clamp_min'),
};

/** y = x Wᵀ + b (torch.nn.functional.linear). */
export function linear(x: Tensor, weight: Tensor, bias: Tensor | null = null): Tensor {
  return wrap(A.linear(x.h, weight.h, bias ? bias.h : null));
}

export interface ConvOptions {
  stride?: number | number[];
  padding?: number | number[];
  dilation?: number | number[];
  groups?: number;
}

function tuple(v: number | number[] | undefined, n: number, dflt: number): number[] {
  if (v === undefined) return new Array<number>(n).fill(dflt);
  return typeof v === 'number' ? new Array<number>(n).fill(v) : v;
}

export function conv1d(x: Tensor, weight: Tensor, bias: Tensor | null = null, o: ConvOptions = {}): Tensor {
  return wrap(A.conv1d(x.h, weight.h, bias?.h ?? null, tuple(o.stride, 1, 1), tuple(o.padding, 1, 0), tuple(o.dilation, 1, 1), o.groups ?? 1));
}
export function conv2d(x: Tensor, weight: Tensor, bias: Tensor | null = null, o: ConvOptions = {}): Tensor {
  return wrap(A.conv2d(x.h, weight.h, bias?.h ?? null, tuple(o.stride, 2, 1), tuple(o.padding, 2, 0), tuple(o.dilation, 2, 1), o.groups ?? 1));
}
export function conv3d(x: Tensor, weight: Tensor, bias: Tensor | null = null, o: ConvOptions = {}): Tensor {
  return wrap(A.conv3d(x.h, weight.h, bias?.h ?? null, tuple(o.stride, 3, 1), tuple(o.padding, 3, 0), tuple(o.dilation, 3, 1), o.groups ?? 1));
}
export function convTranspose2d(
  x: Tensor,
  weight: Tensor,
  bias: Tensor | null = null,
  o: ConvOptions & { outputPadding?: number | number[] } = {},
): Tensor {
  return wrap(
    A.convTranspose2d(
      x.h,
      weight.h,
      bias?.h ?? null,
      tuple(o.stride, 2, 1),
      tuple(o.padding, 2, 0),
      tuple(o.outputPadding, 2, 0),
      o.groups ?? 1,
      tuple(o.dilation, 2, 1),
    ),
  );
}

/** LayerNorm over the trailing `normalizedShape` dimensions. */
export function layerNorm(x: Tensor, normalizedShape: readonly number[], weight: Tensor | null = null, bias: Tensor | null = null, eps = 1e-5): Tensor {
  return wrap(A.layerNorm(x.h, normalizedShape, weight?.h ?? null, bias?.h ?? null, eps, true));
}
export function groupNorm(x: Tensor, numGroups: number, weight: Tensor | null = null, bias: Tensor | null = null, eps = 1e-5): Tensor {
  return wrap(A.groupNorm(x.h, numGroups, weight?.h ?? null, bias?.h ?? null, eps, true));
}

/** GELU, exact erf form by default ('tanh' for the approximation). */
export function gelu(x: Tensor, approximate: 'none' | 'tanh' = 'none'): Tensor {
  return wrap(A.gelu(x.h, approximate));
}
export function relu(x: Tensor): Tensor {
  return wrap(A.relu(x.h));
}
export function leakyRelu(x: Tensor, negativeSlope = 0.01): Tensor {
  return wrap(A.leakyRelu(x.h, negativeSlope));
}
export function silu(x: Tensor): Tensor {
  return wrap(A.silu(x.h));
}
export function sigmoid(x: Tensor): Tensor {
  return x.sigmoid();
}
export function softmax(x: Tensor, dim: number): Tensor {
  return x.softmax(dim);
}
export function logSoftmax(x: Tensor, dim: number): Tensor {
  return x.logSoftmax(dim);
}

/**
 * Dropout with PyTorch's semantics: identity when not training or p = 0; otherwise zeroes
 * elements with probability p (default generator) and rescales by 1/(1-p).
 */
export function dropout(x: Tensor, p: number, training: boolean): Tensor {
  if (!training || p === 0) return x;
  return wrap(A.dropout(x.h, p, training));
}

export function embedding(indices: Tensor, weight: Tensor, paddingIdx = -1): Tensor {
  return wrap(A.embedding(weight.h, indices.h, paddingIdx, false, false));
}

/**
 * Constant padding; `pad` lists (before, after) pairs starting from the LAST dimension,
 * as torch.nn.functional.pad does.
 */
export function pad(x: Tensor, padding: readonly number[], value = 0): Tensor {
  return wrap(A.constantPad(x.h, padding, value));
}

export type InterpolateMode = 'nearest' | 'bilinear' | 'linear' | 'trilinear';

export interface InterpolateOptions {
  size?: number | readonly number[];
  scaleFactor?: number | readonly number[];
  mode?: InterpolateMode;
  /** Only for linear modes; PyTorch's default is false. */
  alignCorners?: boolean;
}

/**
 * torch.nn.functional.interpolate for nearest (PyTorch's legacy 'nearest': src = floor(dst·in/out))
 * and (bi/tri)linear modes. With `size`, the kernels derive scales from the sizes; with
 * `scaleFactor` they use 1/scale, exactly as PyTorch passes them.
 */
export function interpolate(x: Tensor, o: InterpolateOptions): Tensor {
  const mode = o.mode ?? 'nearest';
  const spatial = x.ndim - 2;
  if (spatial < 1 || spatial > 3) throw new RangeError(`interpolate: expected a 3-D, 4-D or 5-D input, got ${x.ndim}-D`);
  if ((o.size === undefined) === (o.scaleFactor === undefined)) {
    throw new TypeError('interpolate: give exactly one of size and scaleFactor');
  }
  const size = o.size === undefined ? null : typeof o.size === 'number' ? new Array<number>(spatial).fill(o.size) : [...o.size];
  const scales =
    o.scaleFactor === undefined ? null : typeof o.scaleFactor === 'number' ? new Array<number>(spatial).fill(o.scaleFactor) : [...o.scaleFactor];
  if (size && size.length !== spatial) throw new RangeError(`interpolate: size has ${size.length} entries for ${spatial} spatial dims`);
  if (mode === 'nearest') {
    const f = [A.nearest1d, A.nearest2d, A.nearest3d][spatial - 1]!;
    return wrap(f(x.h, size, scales));
  }
  const expected = { linear: 1, bilinear: 2, trilinear: 3 }[mode];
  if (expected !== spatial) throw new RangeError(`interpolate: mode '${mode}' needs a ${expected + 2}-D input, got ${x.ndim}-D`);
  const f = [A.linear1d, A.bilinear2d, A.trilinear3d][spatial - 1]!;
  return wrap(f(x.h, size, o.alignCorners ?? false, scales));
}

const GRID_MODE = { bilinear: 0, nearest: 1, bicubic: 2 } as const;
const GRID_PADDING = { zeros: 0, border: 1, reflection: 2 } as const;

/** torch.nn.functional.grid_sample (grid in [-1, 1], x first). */
export function gridSample(
  x: Tensor,
  grid: Tensor,
  o: { mode?: keyof typeof GRID_MODE; paddingMode?: keyof typeof GRID_PADDING; alignCorners?: boolean } = {},
): Tensor {
  return wrap(A.gridSampler(x.h, grid.h, GRID_MODE[o.mode ?? 'bilinear'], GRID_PADDING[o.paddingMode ?? 'zeros'], o.alignCorners ?? false));
}

export type Reduction = 'none' | 'mean' | 'sum';
const REDUCTION: Record<Reduction, number> = { none: 0, mean: 1, sum: 2 };

export function binaryCrossEntropyWithLogits(
  logits: Tensor,
  target: Tensor,
  o: { weight?: Tensor; posWeight?: Tensor; reduction?: Reduction } = {},
): Tensor {
  return wrap(A.bceLogits(logits.h, target.h, o.weight?.h ?? null, o.posWeight?.h ?? null, REDUCTION[o.reduction ?? 'mean']));
}
export function binaryCrossEntropy(probs: Tensor, target: Tensor, o: { weight?: Tensor; reduction?: Reduction } = {}): Tensor {
  return wrap(A.bce(probs.h, target.h, o.weight?.h ?? null, REDUCTION[o.reduction ?? 'mean']));
}
export function l1Loss(input: Tensor, target: Tensor, reduction: Reduction = 'mean'): Tensor {
  return wrap(A.l1Loss(input.h, target.h, REDUCTION[reduction]));
}
export function mseLoss(input: Tensor, target: Tensor, reduction: Reduction = 'mean'): Tensor {
  return wrap(A.mseLoss(input.h, target.h, REDUCTION[reduction]));
}
/** Cross entropy over class dim 1 with integer targets (ignore_index -100, no smoothing by default). */
export function crossEntropy(logits: Tensor, target: Tensor, o: { weight?: Tensor; reduction?: Reduction; ignoreIndex?: number; labelSmoothing?: number } = {}): Tensor {
  return wrap(A.crossEntropy(logits.h, target.h, o.weight?.h ?? null, REDUCTION[o.reduction ?? 'mean'], o.ignoreIndex ?? -100, o.labelSmoothing ?? 0));
}

export function adaptiveAvgPool2d(x: Tensor, outputSize: number | [number, number]): Tensor {
  return wrap(A.adaptiveAvgPool2d(x.h, tuple(outputSize as number | number[], 2, 1)));
}
export function maxPool2d(x: Tensor, kernel: number | number[], o: { stride?: number | number[]; padding?: number | number[]; dilation?: number | number[]; ceilMode?: boolean } = {}): Tensor {
  return wrap(A.maxPool2d(x.h, tuple(kernel, 2, 1), o.stride === undefined ? [] : tuple(o.stride, 2, 1), tuple(o.padding, 2, 0), tuple(o.dilation, 2, 1), o.ceilMode ?? false));
}

/** x / max(‖x‖_p, eps) along `dim` (torch.nn.functional.normalize). */
export function normalize(x: Tensor, p = 2, dim = 1, eps = 1e-12): Tensor {
  const n = wrap(A.normalize(x.h, p, [dim], true));
  const d = wrap(A.clampMin(n.h, eps));
  n.dispose();
  const e = d.expandAs(x);
  d.dispose();
  const out = x.div(e);
  e.dispose();
  return out;
}

export interface MultiHeadAttentionWeights {
  inProjWeight: Tensor;
  inProjBias: Tensor | null;
  outProjWeight: Tensor;
  outProjBias: Tensor | null;
}

export interface MultiHeadAttentionOptions {
  /** [N, S] bool, true = ignore this key (padding). */
  keyPaddingMask?: Tensor | null;
  /** [L, S] or [N·heads, L, S]; bool (true = not allowed) or float (added to scores). */
  attnMask?: Tensor | null;
  dropout?: number;
  training?: boolean;
  needWeights?: boolean;
  averageAttnWeights?: boolean;
}

/**
 * torch.nn.functional.multi_head_attention_forward (PyTorch 1.13) for sequence-first inputs
 * query [L, N, E], key/value [S, N, E]. The packed in-projection is shared exactly as PyTorch
 * does it: one matmul when query, key and value are the same tensor object, one for k/v when
 * key and value are the same object, three otherwise (the rounding differs between these).
 * Returns the output [L, N, E] and, if asked, the weights [N, L, S] (averaged over heads).
 */
export function multiHeadAttention(
  query: Tensor,
  key: Tensor,
  value: Tensor,
  numHeads: number,
  w: MultiHeadAttentionWeights,
  o: MultiHeadAttentionOptions = {},
): { output: Tensor; weights: Tensor | null } {
  const [tgtLen, bsz, embedDim] = query.shape as [number, number, number];
  const srcLen = key.shape[0]!;
  const headDim = Math.floor(embedDim / numHeads);
  if (headDim * numHeads !== embedDim) throw new RangeError(`embed_dim ${embedDim} not divisible by num_heads ${numHeads}`);
  const temps: Tensor[] = [];
  const t = <T extends Tensor>(x: T): T => {
    temps.push(x);
    return x;
  };
  try {
    let q: Tensor, k: Tensor, v: Tensor;
    const W = w.inProjWeight;
    const b = w.inProjBias;
    if (key === value) {
      if (query === key) {
        [q, k, v] = t(linear(query, W, b)).chunk(3, -1).map(t) as [Tensor, Tensor, Tensor];
      } else {
        const [wq, wkv] = W.split([embedDim, 2 * embedDim]).map(t) as [Tensor, Tensor];
        const [bq, bkv] = b ? (b.split([embedDim, 2 * embedDim]).map(t) as [Tensor, Tensor]) : [null, null];
        q = t(linear(query, wq, bq));
        [k, v] = t(linear(key, wkv, bkv)).chunk(2, -1).map(t) as [Tensor, Tensor];
      }
    } else {
      const [wq, wk, wv] = W.chunk(3).map(t) as [Tensor, Tensor, Tensor];
      const [bq, bk, bv] = b ? (b.chunk(3).map(t) as [Tensor, Tensor, Tensor]) : [null, null, null];
      q = t(linear(query, wq, bq));
      k = t(linear(key, wk, bk));
      v = t(linear(value, wv, bv));
    }
    // [L, N, E] -> [N·heads, L, head_dim]
    q = t(t(t(q.contiguous()).view(tgtLen, bsz * numHeads, headDim)).transpose(0, 1));
    k = t(t(t(k.contiguous()).view(k.shape[0]!, bsz * numHeads, headDim)).transpose(0, 1));
    v = t(t(t(v.contiguous()).view(v.shape[0]!, bsz * numHeads, headDim)).transpose(0, 1));

    let mask: Tensor | null = null;
    if (o.attnMask) {
      mask = o.attnMask.ndim === 2 ? t(o.attnMask.unsqueeze(0)) : o.attnMask;
    }
    if (o.keyPaddingMask) {
      const kpm = o.keyPaddingMask;
      if (kpm.shape[0] !== bsz || kpm.shape[1] !== srcLen) {
        throw new RangeError(`key_padding_mask shape [${kpm.shape}] must be [${bsz}, ${srcLen}]`);
      }
      const expanded = t(t(t(kpm.view(bsz, 1, 1, srcLen)).expand(-1, numHeads, -1, -1)).reshape(bsz * numHeads, 1, srcLen));
      if (mask === null) mask = expanded;
      else if (mask.dtype === 'bool') mask = t(mask.logicalOr(expanded));
      else mask = t(mask.maskedFill(expanded, -Infinity));
    }
    if (mask && mask.dtype === 'bool') {
      mask = t(t(zerosLike(mask, { dtype: q.dtype })).maskedFill_(mask, -Infinity));
    }
    const qScaled = t(q.div(Math.sqrt(headDim)));
    const kT = t(k.transpose(-2, -1));
    let attn = t(wrap(mask ? A.baddbmm(mask.h, qScaled.h, kT.h, 1, 1) : A.bmm(qScaled.h, kT.h)));
    attn = t(attn.softmax(-1));
    const p = o.training ? (o.dropout ?? 0) : 0;
    if (p > 0) attn = t(dropout(attn, p, true));
    let out = t(attn.bmm(v));
    out = t(t(t(out.transpose(0, 1)).contiguous()).view(tgtLen * bsz, embedDim));
    out = t(linear(out, w.outProjWeight, w.outProjBias));
    const output = out.view(tgtLen, bsz, embedDim);
    let weights: Tensor | null = null;
    if (o.needWeights) {
      const per = t(attn.view(bsz, numHeads, tgtLen, srcLen));
      weights = o.averageAttnWeights === false ? per.clone() : t(per.sum(1)).div(numHeads);
    }
    return { output, weights };
  } finally {
    for (const x of temps) x.dispose();
  }
}

/** A generator-driven Bernoulli keep-mask helper for stochastic depth (timm DropPath). */
export function dropPath(x: Tensor, p: number, training: boolean, generator?: Generator): Tensor {
  if (p === 0 || !training) return x;
  const keep = 1 - p;
  const shape = [x.shape[0]!, ...new Array<number>(x.ndim - 1).fill(1)];
  const mask = empty(shape, { dtype: x.dtype }).bernoulli_(keep, generator);
  if (keep > 0) mask.div_(keep);
  const out = x.mul(mask);
  mask.dispose();
  return out;
}
