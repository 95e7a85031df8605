// 2-D sine position encoding of the visual feature maps (reference models/position_encoding.py,
// DETR style; spec architecture.md §3.3) and the Joiner's per-level bookkeeping: each stage's
// features get the input padding mask resized (nearest) to their size and a position encoding.

import { Module } from '../../nn/index.js';
import * as F from '../../nn/functional.js';
import * as torch from '../../tensor/index.js';
import type { Tensor } from '../../tensor/index.js';

/**
 * temperature^(2·⌊i/2⌋/numPosFeats) for i < numPosFeats, float32 [numPosFeats], computed in
 * float32 like the reference (`temperature ** (2 * (dim_t // 2) / n)`).
 */
export function sineFrequencies(numPosFeats: number, temperature: number): Tensor {
  return torch.tidy(() => {
    const i = torch.arange(0, numPosFeats, 1, { dtype: 'float32' });
    const exponent = i.div(2, 'floor').mul(2).div(numPosFeats);
    return torch.full([numPosFeats], temperature).pow(exponent);
  });
}

/** [..., L] positions → [..., 2L'] with channel 2k = sin(v / dim_t[2k]), 2k+1 = cos(v / dim_t[2k+1]). */
function interleaveSinCos(v: Tensor, dimT: Tensor): Tensor {
  return torch.tidy(() => {
    const p = v.unsqueeze(-1).div(dimT); // [..., n]
    const last = p.ndim;
    return torch.stack([p.slice(-1, 0, null, 2).sin(), p.slice(-1, 1, null, 2).cos()], last).flatten(last - 1);
  });
}

export interface SineOptions {
  temperature?: number;
  normalize?: boolean;
  /** Multiplier of the normalised positions (2π by default); only meaningful with normalize. */
  scale?: number;
}

/**
 * PositionEmbeddingSine2D(numPosFeats): for a padding mask [N, h, w] (true = padded) returns
 * [N, 2·numPosFeats, h, w] = concat(y encoding, x encoding). Positions are the cumulative counts
 * of valid pixels along each axis; when normalised, (pos − 0.5) / (last + 1e-6) · scale.
 */
export class PositionEmbeddingSine2D extends Module {
  readonly temperature: number;
  readonly normalize: boolean;
  readonly scale: number;

  constructor(
    readonly numPosFeats = 64,
    o: SineOptions = {},
  ) {
    super();
    this.temperature = o.temperature ?? 10000;
    this.normalize = o.normalize ?? false;
    if (o.scale !== undefined && !this.normalize) throw new RangeError('PositionEmbeddingSine2D: scale needs normalize = true');
    this.scale = o.scale ?? 2 * Math.PI;
  }

  forward(mask: Tensor): Tensor {
    return torch.tidy(() => {
      const notMask = mask.logicalNot();
      let y = notMask.cumsum(1).float(); // [N, h, w]
      let x = notMask.cumsum(2).float();
      if (this.normalize) {
        const eps = 1e-6;
        y = y.sub(0.5).div(y.slice(1, -1).add(eps)).mul(this.scale);
        x = x.sub(0.5).div(x.slice(2, -1).add(eps)).mul(this.scale);
      }
      const dimT = sineFrequencies(this.numPosFeats, this.temperature);
      return torch.cat([interleaveSinCos(y, dimT), interleaveSinCos(x, dimT)], 3).permute(0, 3, 1, 2);
    });
  }
}

/**
 * PositionEmbeddingSine1D(numPosFeats) for token masks [B, S] (true = pad): returns [B, numPosFeats, S].
 * Unlike the 2-D encoding, normalisation has no −0.5 offset: x / (x_last + 1e-6) · scale.
 */
export class PositionEmbeddingSine1D extends Module {
  readonly temperature: number;
  readonly normalize: boolean;
  readonly scale: number;

  constructor(
    readonly numPosFeats = 256,
    o: SineOptions = {},
  ) {
    super();
    this.temperature = o.temperature ?? 10000;
    this.normalize = o.normalize ?? false;
    if (o.scale !== undefined && !this.normalize) throw new RangeError('PositionEmbeddingSine1D: scale needs normalize = true');
    this.scale = o.scale ?? 2 * Math.PI;
  }

  forward(mask: Tensor): Tensor {
    return torch.tidy(() => {
      let x = mask.logicalNot().cumsum(1).float(); // [B, S]
      if (this.normalize) x = x.div(x.slice(1, -1).add(1e-6)).mul(this.scale);
      const dimT = sineFrequencies(this.numPosFeats, this.temperature);
      return interleaveSinCos(x, dimT).permute(0, 2, 1);
    });
  }
}

/**
 * The input padding mask [N, H, W] resized to (h, w) with PyTorch's legacy nearest rule
 * (src = ⌊dst·in/out⌋), as a bool mask [N, h, w].
 */
export function resizePaddingMask(mask: Tensor, size: readonly [number, number]): Tensor {
  return torch.tidy(() => F.interpolate(mask.unsqueeze(0).float(), { size, mode: 'nearest' }).select(0, 0).to('bool'));
}

/** A feature map with its padding mask (the reference's NestedTensor). */
export interface NestedFeature {
  /** [(b t), C, h, w] */
  tensors: Tensor;
  /** [(b t), h, w], true = padded */
  mask: Tensor;
}

export interface BackboneOutput {
  features: NestedFeature[];
  /** [(b t), 2·numPosFeats, h, w] per level */
  pos: Tensor[];
}

/**
 * The Joiner's second half: pairs every stage output [(b t), C, h, w] with the nearest-resized
 * padding mask and its 2-D sine position encoding. `mask` is the flattened input mask [(b t), H, W].
 */
export function joinFeatures(stages: readonly Tensor[], mask: Tensor, positionEmbedding: PositionEmbeddingSine2D): BackboneOutput {
  return torch.tidy(() => {
    const features = stages.map((tensors) => {
      const [h, w] = tensors.shape.slice(-2) as [number, number];
      return { tensors, mask: resizePaddingMask(mask, [h, w]) };
    });
    const pos = features.map((f) => positionEmbedding.forward(f.mask));
    return { features, pos };
  });
}
