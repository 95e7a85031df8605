// The torch.nn layers the reference uses, with PyTorch's parameter names, shapes and default
// initialisation (same RNG calls in the same order, from the given or default generator).

import { empty, ones, zeros } from '../tensor/creation.js';
import type { Generator } from '../tensor/random.js';
import type { Tensor } from '../tensor/tensor.js';
import * as F from './functional.js';
import * as init from './init.js';
import { Module } from './module.js';

/** Options every layer accepts for its initialisation. */
export interface InitOptions {
  generator?: Generator;
}

/** y = x Wᵀ + b; weight [out, in], bias [out]. */
export class Linear extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor | null;

  constructor(
    readonly inFeatures: number,
    readonly outFeatures: number,
    o: InitOptions & { bias?: boolean } = {},
  ) {
    super();
    this.weight = this.registerParameter('weight', empty([outFeatures, inFeatures]));
    this.bias = o.bias === false ? this.registerParameter('bias', null) : this.registerParameter('bias', empty([outFeatures]));
    // PyTorch's reset_parameters: kaiming_uniform(a=√5) = U(±1/√in), then the bias U(±1/√in).
    init.kaimingUniform_(this.weight, Math.sqrt(5), 'fan_in', o.generator);
    if (this.bias) {
      const bound = inFeatures > 0 ? 1 / Math.sqrt(inFeatures) : 0;
      init.uniform_(this.bias, -bound, bound, o.generator);
    }
  }

  forward(x: Tensor): Tensor {
    return F.linear(x, this.weight, this.bias);
  }
}

export interface ConvConfig extends InitOptions {
  stride?: number | number[];
  padding?: number | number[];
  dilation?: number | number[];
  groups?: number;
  bias?: boolean;
}

/** Shared body of Conv1d/2d/3d: weight [out, in/groups, *kernel], bias [out]. */
abstract class ConvNd extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor | null;
  protected readonly opts: F.ConvOptions;

  constructor(inChannels: number, outChannels: number, kernel: number[], o: ConvConfig) {
    super();
    const groups = o.groups ?? 1;
    this.weight = this.registerParameter('weight', empty([outChannels, inChannels / groups, ...kernel]));
    this.bias = o.bias === false ? this.registerParameter('bias', null) : this.registerParameter('bias', empty([outChannels]));
    this.opts = { stride: o.stride, padding: o.padding, dilation: o.dilation, groups };
    init.kaimingUniform_(this.weight, Math.sqrt(5), 'fan_in', o.generator);
    if (this.bias) {
      const { fanIn } = init.calculateFans(this.weight);
      const bound = fanIn > 0 ? 1 / Math.sqrt(fanIn) : 0;
      init.uniform_(this.bias, -bound, bound, o.generator);
    }
  }
}

const kernelOf = (k: number | number[], n: number) => (typeof k === 'number' ? new Array<number>(n).fill(k) : k);

export class Conv1d extends ConvNd {
  constructor(inChannels: number, outChannels: number, kernel: number | number[], o: ConvConfig = {}) {
    super(inChannels, outChannels, kernelOf(kernel, 1), o);
  }
  forward(x: Tensor): Tensor {
    return F.conv1d(x, this.weight, this.bias, this.opts);
  }
}

export class Conv2d extends ConvNd {
  constructor(inChannels: number, outChannels: number, kernel: number | number[], o: ConvConfig = {}) {
    super(inChannels, outChannels, kernelOf(kernel, 2), o);
  }
  forward(x: Tensor): Tensor {
    return F.conv2d(x, this.weight, this.bias, this.opts);
  }
}

export class Conv3d extends ConvNd {
  constructor(inChannels: number, outChannels: number, kernel: number | number[], o: ConvConfig = {}) {
    super(inChannels, outChannels, kernelOf(kernel, 3), o);
  }
  forward(x: Tensor): Tensor {
    return F.conv3d(x, this.weight, this.bias, this.opts);
  }
}

/** LayerNorm over the trailing dimensions; weight 1, bias 0. */
export class LayerNorm extends Module {
  readonly weight: Tensor | null;
  readonly bias: Tensor | null;
  readonly normalizedShape: number[];

  constructor(
    normalizedShape: number | number[],
    readonly eps = 1e-5,
    elementwiseAffine = true,
  ) {
    super();
    this.normalizedShape = typeof normalizedShape === 'number' ? [normalizedShape] : normalizedShape;
    this.weight = elementwiseAffine ? this.registerParameter('weight', ones(this.normalizedShape)) : null;
    this.bias = elementwiseAffine ? this.registerParameter('bias', zeros(this.normalizedShape)) : null;
  }

  forward(x: Tensor): Tensor {
    return F.layerNorm(x, this.normalizedShape, this.weight, this.bias, this.eps);
  }
}

/** GroupNorm over channel groups of [N, C, *]; weight 1, bias 0. */
export class GroupNorm extends Module {
  readonly weight: Tensor | null;
  readonly bias: Tensor | null;

  constructor(
    readonly numGroups: number,
    readonly numChannels: number,
    readonly eps = 1e-5,
    affine = true,
  ) {
    super();
    if (numChannels % numGroups !== 0) throw new RangeError(`GroupNorm: ${numChannels} channels are not divisible into ${numGroups} groups`);
    this.weight = affine ? this.registerParameter('weight', ones([numChannels])) : null;
    this.bias = affine ? this.registerParameter('bias', zeros([numChannels])) : null;
  }

  forward(x: Tensor): Tensor {
    return F.groupNorm(x, this.numGroups, this.weight, this.bias, this.eps);
  }
}

/** A lookup table [num, dim], initialised N(0, 1) with the padding row zeroed. */
export class Embedding extends Module {
  readonly weight: Tensor;

  constructor(
    readonly numEmbeddings: number,
    readonly embeddingDim: number,
    o: InitOptions & { paddingIdx?: number } = {},
  ) {
    super();
    this.paddingIdx = o.paddingIdx ?? -1;
    this.weight = this.registerParameter('weight', empty([numEmbeddings, embeddingDim]));
    init.normal_(this.weight, 0, 1, o.generator);
    if (o.paddingIdx !== undefined) {
      const row = this.weight.select(0, o.paddingIdx);
      init.zeros_(row);
      row.dispose();
    }
  }

  readonly paddingIdx: number;

  forward(indices: Tensor): Tensor {
    return F.embedding(indices, this.weight, this.paddingIdx);
  }
}

/** Zeroes elements with probability p in training mode (scaling the rest by 1/(1-p)). */
export class Dropout extends Module {
  constructor(readonly p = 0.5) {
    super();
  }
  forward(x: Tensor): Tensor {
    return F.dropout(x, this.p, this.training);
  }
}

export class ReLU extends Module {
  forward(x: Tensor): Tensor {
    return F.relu(x);
  }
}

export class GELU extends Module {
  forward(x: Tensor): Tensor {
    return F.gelu(x);
  }
}

export class Identity extends Module {
  forward(x: Tensor): Tensor {
    return x;
  }
}

/**
 * torch.nn.MultiheadAttention, sequence-first ([L, N, E]), with the packed `in_proj_weight`
 * [3E, E] (rows: W_q, W_k, W_v), `in_proj_bias` [3E] and `out_proj` Linear(E, E).
 */
export class MultiheadAttention extends Module {
  readonly inProjWeight: Tensor;
  readonly inProjBias: Tensor | null;
  readonly outProj: Linear;

  constructor(
    readonly embedDim: number,
    readonly numHeads: number,
    o: InitOptions & { dropout?: number; bias?: boolean } = {},
  ) {
    super();
    this.dropout = o.dropout ?? 0;
    const bias = o.bias ?? true;
    this.inProjWeight = this.registerParameter('in_proj_weight', empty([3 * embedDim, embedDim]));
    this.inProjBias = bias ? this.registerParameter('in_proj_bias', empty([3 * embedDim])) : null;
    this.outProj = this.registerModule('out_proj', new Linear(embedDim, embedDim, { bias, generator: o.generator }));
    // PyTorch's _reset_parameters, after out_proj drew its own default init.
    init.xavierUniform_(this.inProjWeight, 1, o.generator);
    if (this.inProjBias) init.zeros_(this.inProjBias);
    if (this.outProj.bias) init.zeros_(this.outProj.bias);
  }

  readonly dropout: number;

  /**
   * query [L, N, E], key/value [S, N, E]; keyPaddingMask [N, S] (true = padding).
   * Pass the same Tensor object for key and value (and query) when they are the same tensor:
   * PyTorch then shares the projection matmul, which changes rounding.
   */
  forward(
    query: Tensor,
    key: Tensor,
    value: Tensor,
    o: { keyPaddingMask?: Tensor | null; attnMask?: Tensor | null; needWeights?: boolean; averageAttnWeights?: boolean } = {},
  ): { output: Tensor; weights: Tensor | null } {
    return F.multiHeadAttention(
      query,
      key,
      value,
      this.numHeads,
      { inProjWeight: this.inProjWeight, inProjBias: this.inProjBias, outProjWeight: this.outProj.weight, outProjBias: this.outProj.bias },
      { ...o, dropout: this.dropout, training: this.training },
    );
  }
}
