// SOC's output side: the FPN spatial decoder (mask features at stride 4), the CondInst-style
// dynamic mask head with relative coordinates, and SOC++'s BMRW refinement of the video queries.

import { Conv2d, GroupNorm, Module } from '../../nn/index.js';
import * as F from '../../nn/functional.js';
import * as init from '../../nn/init.js';
import { arange, cat, einsum, eye, linalgSolve, meshgrid, stack } from '../../tensor/creation.js';
import { tidy } from '../../tensor/scope.js';
import type { Tensor } from '../../tensor/tensor.js';

/**
 * FPN-like decoder (reference `FPNSpatialDecoder`, keys lay1..lay5, gn1..gn5, adapter1..3, out_lay):
 * from the stride-32 memory up through strides 16, 8 and the backbone's stride-4 features.
 */
export class FPNSpatialDecoder extends Module {
  readonly lay1: Conv2d;
  readonly gn1: GroupNorm;
  readonly lay2: Conv2d;
  readonly gn2: GroupNorm;
  readonly lay3: Conv2d;
  readonly gn3: GroupNorm;
  readonly lay4: Conv2d;
  readonly gn4: GroupNorm;
  readonly adapter1: Conv2d;
  readonly adapter2: Conv2d;
  readonly adapter3: Conv2d | null = null;
  readonly lay5: Conv2d | null = null;
  readonly gn5: GroupNorm | null = null;
  readonly outLay: Conv2d;

  /** fpnDims: channels of the stride-16, stride-8 and (optional) stride-4 features. */
  constructor(contextDim: number, fpnDims: number[], maskKernelsDim = 8) {
    super();
    const inter = [contextDim, contextDim / 2, contextDim / 4, contextDim / 8, contextDim / 16];
    const conv3 = (i: number, o: number) => new Conv2d(i, o, 3, { padding: 1 });
    this.lay1 = this.registerModule('lay1', conv3(contextDim, inter[0]!));
    this.gn1 = this.registerModule('gn1', new GroupNorm(8, inter[0]!));
    this.lay2 = this.registerModule('lay2', conv3(inter[0]!, inter[1]!));
    this.gn2 = this.registerModule('gn2', new GroupNorm(8, inter[1]!));
    this.lay3 = this.registerModule('lay3', conv3(inter[1]!, inter[2]!));
    this.gn3 = this.registerModule('gn3', new GroupNorm(8, inter[2]!));
    this.lay4 = this.registerModule('lay4', conv3(inter[2]!, inter[3]!));
    this.gn4 = this.registerModule('gn4', new GroupNorm(8, inter[3]!));
    this.adapter1 = this.registerModule('adapter1', new Conv2d(fpnDims[0]!, inter[1]!, 1));
    this.adapter2 = this.registerModule('adapter2', new Conv2d(fpnDims[1]!, inter[2]!, 1));
    if (fpnDims.length === 3) {
      this.adapter3 = this.registerModule('adapter3', new Conv2d(fpnDims[2]!, inter[3]!, 1));
      this.lay5 = this.registerModule('lay5', conv3(inter[3]!, inter[4]!));
      this.gn5 = this.registerModule('gn5', new GroupNorm(8, inter[4]!));
      this.outLay = this.registerModule('out_lay', conv3(inter[4]!, maskKernelsDim));
    } else {
      this.outLay = this.registerModule('out_lay', conv3(inter[3]!, maskKernelsDim));
    }
    for (const m of this.modules()) {
      if (m instanceof Conv2d) {
        init.kaimingUniform_(m.weight, 1);
        init.zeros_(m.bias!);
      }
    }
  }

  /** x [N, C, h32, w32]; features = [stride 16, stride 8, stride 4] maps → [N, maskKernelsDim, h4, w4]. */
  forward(x: Tensor, features: Tensor[]): Tensor {
    return tidy(() => {
      const up = (y: Tensor, like: Tensor) => F.interpolate(y, { size: like.shape.slice(-2), mode: 'nearest' });
      let y = F.relu(this.gn1.forward(this.lay1.forward(x)));
      y = F.relu(this.gn2.forward(this.lay2.forward(y)));
      let fpn = this.adapter1.forward(features[0]!);
      y = fpn.add(up(y, fpn));
      y = F.relu(this.gn3.forward(this.lay3.forward(y)));
      fpn = this.adapter2.forward(features[1]!);
      y = fpn.add(up(y, fpn));
      y = F.relu(this.gn4.forward(this.lay4.forward(y)));
      if (this.adapter3) {
        fpn = this.adapter3.forward(features[2]!);
        y = fpn.add(up(y, fpn));
        y = F.relu(this.gn5!.forward(this.lay5!.forward(y)));
      }
      return this.outLay.forward(y);
    });
  }
}

/** Sizes of the dynamic mask head's generated parameters, weights first then biases per layer. */
export function dynamicParamSizes(inChannels: number, channels: number, layers: number, relCoord: boolean): { weights: number[]; biases: number[] } {
  const weights: number[] = [];
  const biases: number[] = [];
  for (let l = 0; l < layers; l++) {
    if (l === 0) {
      weights.push((relCoord ? inChannels + 2 : inChannels) * channels);
      biases.push(channels);
    } else if (l === layers - 1) {
      weights.push(channels);
      biases.push(1);
    } else {
      weights.push(channels * channels);
      biases.push(channels);
    }
  }
  return { weights, biases };
}

/** Cell centres (x, y) of an h×w map at `stride`, row-major → [h·w, 2]. */
export function computeLocations(h: number, w: number, stride: number): Tensor {
  return tidy(() => {
    const xs = arange(0, w * stride, stride, { dtype: 'float32' });
    const ys = arange(0, h * stride, stride, { dtype: 'float32' });
    const [gy, gx] = meshgrid([ys, xs], 'ij');
    return stack([gx!.reshape(-1), gy!.reshape(-1)], 1).add(Math.floor(stride / 2));
  });
}

export interface DynamicMaskHeadOptions {
  channels: number;
  weightNums: number[];
  biasNums: number[];
  relCoord: boolean;
  maskFeatStride: number;
}

/**
 * Per-instance 1×1 convolutions with generated parameters (reference dynamic_mask_with_coords +
 * mask_heads_forward), with the relative coordinates (in input pixels, not normalised) of every
 * cell to the instance's reference point appended to the mask features.
 *   maskFeatures [B, T, C, h, w]; params [B, T·Q, P]; references [B, T·Q, 2] (cx, cy in [0, 1]);
 *   imageSizes [B, 2] (h, w of the unpadded input, numbers) → logits [B, T·Q, h, w].
 */
export function dynamicMaskWithCoords(maskFeatures: Tensor, params: Tensor, references: Tensor, imageSizes: Tensor, o: DynamicMaskHeadOptions): Tensor {
  return tidy(() => {
    const [b, t, c, h, w] = maskFeatures.shape as [number, number, number, number, number];
    const nq = references.shape[1]!;
    const q = nq / t;
    // (w, h) per batch element, to pixel units
    const scale = imageSizes.flip(-1).to(references.dtype).view(b, 1, 2);
    const refs = references.mul(scale);
    let feats = maskFeatures.unsqueeze(2).expand(b, t, q, c, h, w);
    if (o.relCoord) {
      const loc = computeLocations(h, w, o.maskFeatStride);
      const rel = refs.reshape(b, t, q, 1, 1, 2).sub(loc.reshape(1, 1, 1, h, w, 2)).permute(0, 1, 2, 5, 3, 4); // [b,t,q,2,h,w]
      feats = cat([feats, rel], 3);
    }
    let x = feats.reshape(1, -1, h, w);
    const n = b * nq;
    const flat = params.flatten(0, 1); // [n, P]
    const parts = flat.split([...o.weightNums, ...o.biasNums], 1);
    const layers = o.weightNums.length;
    for (let l = 0; l < layers; l++) {
      const out = l < layers - 1 ? o.channels : 1;
      const weight = parts[l]!.reshape(n * out, -1, 1, 1);
      const bias = parts[layers + l]!.reshape(n * out);
      x = F.conv2d(x, weight, bias, { groups: n });
      if (l < layers - 1) x = F.relu(x);
    }
    // mask_out_stride == mask_feat_stride: the reference's aligned_bilinear is the identity.
    return x.reshape(b, nq, h, w);
  });
}

/**
 * SOC++ BMRW: refines video queries x [N, Nv, C] against frame queries y [N, K, C] (N = L·B,
 * K = T·Q) by a closed-form random walk, solved as a linear system like torch.linalg.solve.
 */
export function bmrw(x: Tensor, y: Tensor, w = 0.5): Tensor {
  return tidy(() => {
    const unit = (f: Tensor) => f.div(f.norm(2, -1, { keepdim: true }).add(1e-9));
    const xn = unit(x);
    const yn = unit(y);
    const nv = x.shape[1]!;
    const id = eye(nv, { dtype: x.dtype });
    const z = einsum('nkd,ntd->nkt', yn, xn).mul(5).softmax(1); // [N, K, Nv], softmax over frame queries
    const zn = z.div(z.sum(-1, { keepdim: true }).add(1e-9));
    const affinity = einsum('nkt,nkd->ntd', z, zn); // [N, Nv, Nv]
    const inv = linalgSolve(id.sub(affinity.mul(w * w)), id);
    const y2x = einsum('nkt,nkd->ntd', z, y).mul(w).add(x);
    return einsum('ntk,nkd->ntd', inv, y2x).mul(1 - w);
  });
}
