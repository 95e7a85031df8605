// The Deformable-DETR transformer of SOC / SOC++ (state_dict prefix `transformer.`), read top to
// bottom: the multi-scale deformable attention core (two interchangeable implementations),
// MSDeformAttn, the post-norm encoder and decoder layers, the encoder (reference points from
// valid ratios), the decoder (iterative box refinement through the SOC model's `bbox_embed`),
// and DeformableTransformer (input flattening, valid ratios, memory maps for the FPN).
//
// Every frame `(b t)` is an independent batch element here; nothing mixes frames.
// Forwards are pure tensor programs: spatial shapes are JS numbers read from `.shape`, never
// values read back from tensors, so the model stays traceable.

import { Dropout, LayerNorm, Linear, Module, ModuleList, MultiheadAttention, init, F } from '../../nn/index.js';
import type { Generator } from '../../tensor/random.js';
import * as torch from '../../tensor/index.js';
import { op } from '../../tensor/dispatch.js';
import { type Tensor, wrap } from '../../tensor/tensor.js';
import { inverseSigmoid } from '../layers.js';

/** (h, w) of each feature level, level 0 (finest) first. */
export type SpatialShapes = readonly (readonly [number, number])[];

/**
 * How MSDeformAttn samples the value maps:
 * - 'gridSample': the reference's pure-PyTorch `ms_deform_attn_core_pytorch` (one grid_sample per level,
 *   then the attention-weighted sum). The parity path.
 * - 'gather': bilinear corners and weights computed once, attention weights folded into the corner
 *   weights, and one weighted gather-sum (embedding_bag) per chunk of queries. Same numbers (≤1e-5),
 *   same gradients, several times faster on CPU.
 */
export type DeformSampling = 'gridSample' | 'gather';

/** Sum of h·w over levels. */
function numTokens(shapes: SpatialShapes): number {
  return shapes.reduce((a, [h, w]) => a + h * w, 0);
}

/** Offset of each level in the concatenation of the level maps (the reference's level_start_index). */
function levelStartIndex(shapes: SpatialShapes): number[] {
  const starts: number[] = [];
  let acc = 0;
  for (const [h, w] of shapes) {
    starts.push(acc);
    acc += h * w;
  }
  return starts;
}

// ------------------------------------------------------------------------------------------------
// Sampling cores. Shared contract:
//   value             [N, S, M, D]        (S = Σ h_l·w_l, levels concatenated, row-major y then x)
//   samplingLocations [N, Lq, M, L, P, 2] (x, y) in [0, 1] of each (padded) level map
//   attentionWeights  [N, Lq, M, L, P]
//   returns           [N, Lq, M·D]        (heads concatenated, head-major)
// Bilinear sampling at pixel coordinates loc·size − 0.5 with zero padding outside the map
// (grid_sample, align_corners false).
// ------------------------------------------------------------------------------------------------

/** The reference core: per level grid_sample(value_l, 2·loc − 1), then Σ_{l,p} aw · sample. */
export function msDeformAttnCoreGridSample(value: Tensor, shapes: SpatialShapes, samplingLocations: Tensor, attentionWeights: Tensor): Tensor {
  return torch.tidy(() => {
    const [n, , m, d] = value.shape as [number, number, number, number];
    const [, lq, , nLevels, nPoints] = samplingLocations.shape as [number, number, number, number, number];
    const valueLevels = value.split(shapes.map(([h, w]) => h * w), 1);
    const grids = samplingLocations.mul(2).sub(1);
    const sampled = shapes.map(([h, w], l) => {
      const valueL = valueLevels[l]!.flatten(2).transpose(1, 2).reshape(n * m, d, h, w); // [(N M), D, h, w]
      const gridL = grids.select(3, l).transpose(1, 2).flatten(0, 1); // [(N M), Lq, P, 2]
      return F.gridSample(valueL, gridL, { mode: 'bilinear', paddingMode: 'zeros', alignCorners: false }); // [(N M), D, Lq, P]
    });
    const aw = attentionWeights.transpose(1, 2).reshape(n * m, 1, lq, nLevels * nPoints);
    // the sampled values are the big tensors here ([(N M), D, Lq, L·P]); free each as soon as it is used
    const stacked = torch.stack(sampled, -2).flatten(-2);
    for (const t of sampled) t.dispose();
    const weighted = stacked.mul(aw);
    stacked.dispose();
    const out = weighted.sum(-1).view(n, m * d, lq); // [N, (M D), Lq]
    weighted.dispose();
    return out.transpose(1, 2).contiguous();
  });
}

const embeddingBagOp = op('embedding_bag', 'padding_idx');

/** Σ_j weights[j] · table[indices[j]] over each bag [offsets[i], offsets[i+1]) → [bags, D] (aten::embedding_bag, mode sum). */
function embeddingBagSum(table: Tensor, indices: Tensor, offsets: Tensor, weights: Tensor): Tensor {
  const outs = (embeddingBagOp(table.h, indices.h, offsets.h, false, 0, false, weights.h, false, null) as unknown[]).map(wrap);
  for (const t of outs.slice(1)) t.dispose(); // offset2bag, bag_size, max_indices: bookkeeping only
  return outs[0]!;
}

/** Zero border (pixels) around each level map in the gather core: corners outside the map read zeros. */
const BORDER = 2;
/**
 * Sampling points per chunk of the gather core's corner expansion: small enough to keep the 4×
 * corner tensors cache-sized, large enough that few parallel regions run (each one stalls when
 * another process holds a core). Measured on the bench between 128k and 8M.
 */
const GATHER_CHUNK_POINTS = 524288;

/**
 * The fast core. Each level map gets a 2-pixel zero border, so clamping the pixel coordinate to
 * [−2, size] makes every out-of-map corner read a zero (what grid_sample's zero padding does, with
 * the same zero gradient) and no validity masks are needed. Fractions, attention-weighted corner
 * weights and corner rows are computed once per sampling point; then, chunk by chunk, one
 * embedding_bag does the 4·L·P-term weighted sum for every (query, head). Coordinates are
 * unnormalised with grid_sample's own formula ((2·loc − 1) + 1)·size/2 − 0.5 so both cores see
 * the same fractions.
 */
export function msDeformAttnCoreGather(value: Tensor, shapes: SpatialShapes, samplingLocations: Tensor, attentionWeights: Tensor): Tensor {
  return torch.tidy(() => {
    const [n, , m, d] = value.shape as [number, number, number, number];
    const [, lq, , nLevels, nPoints] = samplingLocations.shape as [number, number, number, number, number];
    const lp = nLevels * nPoints;
    const dtype = value.dtype;

    // Zero-bordered maps, channels last: [N, S', M·D] viewed as the table [(N S' M), D].
    const padded = shapes.map(([h, w]) => [h + 2 * BORDER, w + 2 * BORDER] as const);
    const bordered = value.split(shapes.map(([h, w]) => h * w), 1).map((v, l) => {
      const [h, w] = shapes[l]!;
      return F.pad(v.reshape(n, h, w, m * d), [0, 0, BORDER, BORDER, BORDER, BORDER]).flatten(1, 2);
    });
    const table = torch.cat(bordered, 1).view(-1, d);
    const paddedTokens = numTokens(padded);
    const levelStarts = levelStartIndex(padded);

    // Per-(level, point) constants, [L·P] (each level's value repeated P times).
    const perPoint = (f: (l: number) => number) => torch.tensor(shapes.flatMap((_, l) => new Array<number>(nPoints).fill(f(l))), { dtype });
    const halfW = perPoint((l) => shapes[l]![1] / 2);
    const halfH = perPoint((l) => shapes[l]![0] / 2);
    const maxX = perPoint((l) => shapes[l]![1] + BORDER - 2);
    const maxY = perPoint((l) => shapes[l]![0] + BORDER - 2);
    const minXY = torch.full([], -BORDER, { dtype });
    // Table row of pixel (y, x) of level l, head m, frame f: ((f·S' + start'_l + (y+B)·w'_l + x+B)·M + m.
    const rowStrideY = perPoint((l) => padded[l]![1] * m);
    const levelOffset = perPoint((l) => (levelStarts[l]! + BORDER * padded[l]![1] + BORDER) * m);
    const cornerOffset = torch
      .tensor(
        [0, 1, 2, 3].map((c) => shapes.flatMap((_, l) => new Array<number>(nPoints).fill((c >> 1) * padded[l]![1] * m + (c & 1) * m))),
        { dtype: 'int32' },
      )
      .view(1, 1, 4, lp); // corners (y0,x0), (y0,x1), (y1,x0), (y1,x1)
    const headOffset = torch.arange(0, m, 1, { dtype: 'int32' }).view(1, m, 1);

    const rows = n * lq;
    const loc = samplingLocations.reshape(rows, m, lp, 2);
    const aw = attentionWeights.reshape(rows, m, lp);
    // Per-point quantities for all queries at once, [N·Lq, M, L·P], in few large ops (in-place where
    // autograd allows, and freed as soon as possible): clamped pixel coordinates, their fractional
    // parts folded with the attention weights, and the table row of each top-left corner.
    const pixel = (axis: 0 | 1, half: Tensor, max: Tensor) =>
      torch.tidy(() => loc.select(-1, axis).mul(2).add_(-1).add_(1).mul_(half).add_(-0.5).clamp(minXY, max));
    const px = pixel(0, halfW, maxX);
    const x0 = px.detach().floor();
    const fx = px.sub(x0);
    const gx = fx.rsub(1);
    px.dispose();
    const py = pixel(1, halfH, maxY);
    const y0 = py.detach().floor();
    const [ay0, ay1] = torch.tidy(() => {
      const fy = py.sub(y0);
      return [aw.mul(fy.rsub(1)), aw.mul(fy)];
    });
    py.dispose();
    const topLeft = torch.noGrad(() =>
      torch.tidy(() => {
        const row = x0.mul(m).addcmul_(y0, rowStrideY).add_(levelOffset).to('int32'); // exact integers < S'·M
        const frame = torch.arange(0, rows, 1, { dtype: 'int32' }).div(lq, 'floor').mul(paddedTokens * m).view(rows, 1, 1);
        return row.add_(frame.add(headOffset));
      }),
    );
    x0.dispose();
    y0.dispose();

    // The 4× larger corner tensors only exist one chunk of queries at a time.
    const step = Math.max(1, Math.floor(GATHER_CHUNK_POINTS / (m * lp)));
    const bagSize = 4 * lp;
    const chunks: Tensor[] = [];
    for (let r0 = 0; r0 < rows; r0 += step) {
      const r = Math.min(step, rows - r0);
      chunks.push(
        torch.tidy(() => {
          const [a0, a1, g, f] = [ay0, ay1, gx, fx].map((t) => t.narrow(0, r0, r));
          const weights = torch.stack([a0!.mul(g!), a0!.mul(f!), a1!.mul(g!), a1!.mul(f!)], 2); // [r, M, 4, L·P]
          const indices = topLeft.narrow(0, r0, r).unsqueeze(2).add(cornerOffset); // [r, M, 4, L·P]
          const offsets = torch.arange(0, r * m * bagSize, bagSize, { dtype: 'int32' });
          return embeddingBagSum(table, indices.flatten(), offsets, weights.flatten()); // [(r M), D]
        }),
      );
    }
    const out = chunks.length === 1 ? chunks[0]! : torch.cat(chunks, 0);
    return out.view(n, lq, m * d);
  });
}

/** The sampling core selected by `sampling` (see DeformSampling). */
export function msDeformAttnCore(
  value: Tensor,
  shapes: SpatialShapes,
  samplingLocations: Tensor,
  attentionWeights: Tensor,
  sampling: DeformSampling,
): Tensor {
  return sampling === 'gather'
    ? msDeformAttnCoreGather(value, shapes, samplingLocations, attentionWeights)
    : msDeformAttnCoreGridSample(value, shapes, samplingLocations, attentionWeights);
}

// ------------------------------------------------------------------------------------------------
// MSDeformAttn
// ------------------------------------------------------------------------------------------------

export interface MSDeformAttnOutput {
  /** [N, Lq, C] */
  output: Tensor;
  /** [N, Lq, M, L, P, 2] (x, y) in [0, 1] of the padded maps */
  samplingLocations: Tensor;
  /** [N, Lq, M, L, P], softmax over the L·P entries of each head */
  attentionWeights: Tensor;
}

/** Multi-scale deformable attention (keys sampling_offsets, attention_weights, value_proj, output_proj). */
export class MSDeformAttn extends Module {
  readonly samplingOffsets: Linear;
  readonly attentionWeights: Linear;
  readonly valueProj: Linear;
  readonly outputProj: Linear;
  /** Which sampling core forward uses; may be changed at any time. */
  sampling: DeformSampling;

  constructor(
    readonly dModel = 256,
    readonly nLevels = 4,
    readonly nHeads = 8,
    readonly nPoints = 4,
    o: { sampling?: DeformSampling; generator?: Generator } = {},
  ) {
    super();
    if (dModel % nHeads !== 0) throw new RangeError(`MSDeformAttn: d_model ${dModel} is not divisible by n_heads ${nHeads}`);
    this.sampling = o.sampling ?? 'gather';
    const g = { generator: o.generator };
    this.samplingOffsets = this.registerModule('sampling_offsets', new Linear(dModel, nHeads * nLevels * nPoints * 2, g));
    this.attentionWeights = this.registerModule('attention_weights', new Linear(dModel, nHeads * nLevels * nPoints, g));
    this.valueProj = this.registerModule('value_proj', new Linear(dModel, dModel, g));
    this.outputProj = this.registerModule('output_proj', new Linear(dModel, dModel, g));
    this.resetParameters(o.generator);
  }

  /**
   * Offsets start at zero weight with a bias that points head m at angle 2πm/M, scaled to the
   * unit square's border and multiplied by (p+1) for point p; uniform attention; xavier projections.
   */
  resetParameters(generator?: Generator): void {
    const { nHeads: mh, nLevels: nl, nPoints: np } = this;
    init.zeros_(this.samplingOffsets.weight);
    torch.noGrad(() =>
      torch.tidy(() => {
        const thetas = torch.arange(0, mh, 1, { dtype: 'float32' }).mul((2 * Math.PI) / mh);
        let grid = torch.stack([thetas.cos(), thetas.sin()], -1); // [M, 2]
        grid = grid.div(grid.abs().amax(-1, { keepdim: true }));
        const scale = torch.arange(1, np + 1, 1, { dtype: 'float32' }).view(1, 1, np, 1);
        const bias = grid.view(mh, 1, 1, 2).repeat(1, nl, np, 1).mul(scale); // [M, L, P, 2]
        this.samplingOffsets.bias!.copy_(bias.flatten());
      }),
    );
    init.zeros_(this.attentionWeights.weight);
    init.zeros_(this.attentionWeights.bias!);
    init.xavierUniform_(this.valueProj.weight, 1, generator);
    init.zeros_(this.valueProj.bias!);
    init.xavierUniform_(this.outputProj.weight, 1, generator);
    init.zeros_(this.outputProj.bias!);
  }

  /**
   * query [N, Lq, C]; referencePoints [N, Lq, L, 2] (x, y in [0, 1] of the padded maps) or
   * [N, Lq, L, 4] (cx, cy, w, h); inputFlatten [N, S, C] with S = Σ h_l·w_l; paddingMask [N, S]
   * (true = padded position, its value is zeroed) or null.
   */
  forward(query: Tensor, referencePoints: Tensor, inputFlatten: Tensor, shapes: SpatialShapes, paddingMask: Tensor | null = null): MSDeformAttnOutput {
    return torch.tidy(() => {
      const [n, lq] = query.shape as [number, number];
      const [, s] = inputFlatten.shape as [number, number];
      const { nHeads: mh, nLevels: nl, nPoints: np } = this;
      if (shapes.length !== nl) throw new RangeError(`MSDeformAttn: ${shapes.length} spatial shapes for ${nl} levels`);
      if (numTokens(shapes) !== s) throw new RangeError(`MSDeformAttn: input has ${s} tokens but the spatial shapes sum to ${numTokens(shapes)}`);

      // (nested scopes and early disposal keep the full-size intermediates from piling up)
      const value = torch.tidy(() => {
        const v = this.valueProj.forward(inputFlatten);
        return (paddingMask ? v.maskedFill(paddingMask.unsqueeze(-1), 0) : v).view(n, s, mh, this.dModel / mh);
      });
      const attentionWeights = torch.tidy(() =>
        this.attentionWeights.forward(query).view(n, lq, mh, nl * np).softmax(-1).view(n, lq, mh, nl, np),
      );
      const samplingLocations = torch.tidy(() => {
        const offsets = this.samplingOffsets.forward(query).view(n, lq, mh, nl, np, 2);
        const refDim = referencePoints.shape[referencePoints.ndim - 1];
        if (refDim === 2) {
          // offsets are in pixels of each level: normalise by (w, h)
          const normalizer = torch.tensor(shapes.map(([h, w]) => [w, h]), { dtype: offsets.dtype }).view(1, 1, 1, nl, 1, 2);
          return referencePoints.unsqueeze(2).unsqueeze(4).add(offsets.div(normalizer));
        }
        if (refDim === 4) {
          // offsets are relative to the box: P points span half its size
          const ref = referencePoints.unsqueeze(2).unsqueeze(4); // [N, Lq, 1, L, 1, 4]
          return ref.narrow(-1, 0, 2).add(offsets.div(np).mul(ref.narrow(-1, 2, 2)).mul(0.5));
        }
        throw new RangeError(`MSDeformAttn: last dim of reference points must be 2 or 4, got ${refDim}`);
      });
      const sampled = msDeformAttnCore(value, shapes, samplingLocations, attentionWeights, this.sampling);
      value.dispose();
      const output = this.outputProj.forward(sampled);
      sampled.dispose();
      return { output, samplingLocations, attentionWeights };
    });
  }
}

// ------------------------------------------------------------------------------------------------
// Encoder
// ------------------------------------------------------------------------------------------------

/**
 * linear2(dropout(relu(linear1(x)))), freeing the wide hidden activations ([.., d_ffn]) as soon as
 * they are consumed instead of at the end of the layer's scope (autograd keeps what it needs).
 */
function feedForward(x: Tensor, linear1: Linear, dropout: Dropout, linear2: Linear): Tensor {
  const pre = linear1.forward(x);
  const hidden = F.relu(pre);
  pre.dispose();
  const dropped = dropout.forward(hidden);
  if (dropped !== hidden) hidden.dispose();
  const out = linear2.forward(dropped);
  dropped.dispose();
  return out;
}

/** Post-norm encoder layer: deformable self-attention over all levels, then the FFN. */
export class DeformableTransformerEncoderLayer extends Module {
  readonly selfAttn: MSDeformAttn;
  readonly dropout1: Dropout;
  readonly norm1: LayerNorm;
  readonly linear1: Linear;
  readonly dropout2: Dropout;
  readonly linear2: Linear;
  readonly dropout3: Dropout;
  readonly norm2: LayerNorm;

  constructor(dModel = 256, dFfn = 1024, dropout = 0.1, nLevels = 4, nHeads = 8, nPoints = 4, o: { sampling?: DeformSampling; generator?: Generator } = {}) {
    super();
    this.selfAttn = this.registerModule('self_attn', new MSDeformAttn(dModel, nLevels, nHeads, nPoints, o));
    this.dropout1 = this.registerModule('dropout1', new Dropout(dropout));
    this.norm1 = this.registerModule('norm1', new LayerNorm(dModel));
    this.linear1 = this.registerModule('linear1', new Linear(dModel, dFfn, o));
    this.dropout2 = this.registerModule('dropout2', new Dropout(dropout));
    this.linear2 = this.registerModule('linear2', new Linear(dFfn, dModel, o));
    this.dropout3 = this.registerModule('dropout3', new Dropout(dropout));
    this.norm2 = this.registerModule('norm2', new LayerNorm(dModel));
  }

  /** src, pos [N, S, C]; referencePoints [N, S, L, 2]; paddingMask [N, S] → [N, S, C]. */
  forward(src: Tensor, pos: Tensor | null, referencePoints: Tensor, shapes: SpatialShapes, paddingMask: Tensor | null = null): Tensor {
    return torch.tidy(() => {
      const query = pos ? src.add(pos) : src;
      const { output: attn, samplingLocations, attentionWeights } = this.selfAttn.forward(query, referencePoints, src, shapes, paddingMask);
      samplingLocations.dispose(); // not needed here; free the big tensors early
      attentionWeights.dispose();
      const x = this.norm1.forward(src.add(this.dropout1.forward(attn)));
      const ffn = feedForward(x, this.linear1, this.dropout2, this.linear2);
      return this.norm2.forward(x.add(this.dropout3.forward(ffn)));
    });
  }
}

export class DeformableTransformerEncoder extends Module {
  readonly layers: ModuleList<DeformableTransformerEncoderLayer>;

  constructor(layers: DeformableTransformerEncoderLayer[]) {
    super();
    this.layers = this.registerModule('layers', new ModuleList(layers));
  }

  /**
   * Cell centres of every level, normalised by the valid (unpadded) extent of that level, then
   * scaled back by each level's valid ratio: [N, S, L, 2] (x, y).
   * validRatios [N, L, 2] (x, y).
   */
  static getReferencePoints(shapes: SpatialShapes, validRatios: Tensor): Tensor {
    return torch.tidy(() => {
      const perLevel = shapes.map(([h, w], l) => {
        const [refY, refX] = torch.meshgrid(
          [torch.linspace(0.5, h - 0.5, h, { dtype: validRatios.dtype }), torch.linspace(0.5, w - 0.5, w, { dtype: validRatios.dtype })],
          'ij',
        );
        const ratio = validRatios.select(1, l); // [N, 2]
        const y = refY.reshape(-1).unsqueeze(0).div(ratio.narrow(1, 1, 1).mul(h));
        const x = refX.reshape(-1).unsqueeze(0).div(ratio.narrow(1, 0, 1).mul(w));
        return torch.stack([x, y], -1); // [N, h·w, 2]
      });
      return torch.cat(perLevel, 1).unsqueeze(2).mul(validRatios.unsqueeze(1));
    });
  }

  /**
   * src, pos [N, S, C]; validRatios [N, L, 2]; paddingMask [N, S] → memory [N, S, C].
   * `onLayer` sees each layer's output while it is alive (clone it to keep it).
   */
  forward(
    src: Tensor,
    shapes: SpatialShapes,
    validRatios: Tensor,
    pos: Tensor | null = null,
    paddingMask: Tensor | null = null,
    onLayer?: (index: number, output: Tensor) => void,
  ): Tensor {
    return torch.tidy(() => {
      const referencePoints = DeformableTransformerEncoder.getReferencePoints(shapes, validRatios);
      let output = src;
      for (const [i, layer] of this.layers.items.entries()) {
        const next = layer.forward(output, pos, referencePoints, shapes, paddingMask);
        onLayer?.(i, next);
        if (output !== src) output.dispose();
        output = next;
      }
      return output;
    });
  }
}

// ------------------------------------------------------------------------------------------------
// Decoder
// ------------------------------------------------------------------------------------------------

/**
 * Post-norm decoder layer. Keys in the reference's order: cross_attn, norm1, self_attn, norm2,
 * linear1, linear2, norm3. Runs self-attention first, then the deformable cross-attention, then the FFN.
 */
export class DeformableTransformerDecoderLayer extends Module {
  readonly crossAttn: MSDeformAttn;
  readonly dropout1: Dropout;
  readonly norm1: LayerNorm;
  readonly selfAttn: MultiheadAttention;
  readonly dropout2: Dropout;
  readonly norm2: LayerNorm;
  readonly linear1: Linear;
  readonly dropout3: Dropout;
  readonly linear2: Linear;
  readonly dropout4: Dropout;
  readonly norm3: LayerNorm;

  constructor(dModel = 256, dFfn = 1024, dropout = 0.1, nLevels = 4, nHeads = 8, nPoints = 4, o: { sampling?: DeformSampling; generator?: Generator } = {}) {
    super();
    this.crossAttn = this.registerModule('cross_attn', new MSDeformAttn(dModel, nLevels, nHeads, nPoints, o));
    this.dropout1 = this.registerModule('dropout1', new Dropout(dropout));
    this.norm1 = this.registerModule('norm1', new LayerNorm(dModel));
    this.selfAttn = this.registerModule('self_attn', new MultiheadAttention(dModel, nHeads, { dropout, generator: o.generator }));
    this.dropout2 = this.registerModule('dropout2', new Dropout(dropout));
    this.norm2 = this.registerModule('norm2', new LayerNorm(dModel));
    this.linear1 = this.registerModule('linear1', new Linear(dModel, dFfn, o));
    this.dropout3 = this.registerModule('dropout3', new Dropout(dropout));
    this.linear2 = this.registerModule('linear2', new Linear(dFfn, dModel, o));
    this.dropout4 = this.registerModule('dropout4', new Dropout(dropout));
    this.norm3 = this.registerModule('norm3', new LayerNorm(dModel));
  }

  /**
   * tgt, queryPos [N, Q, C]; referencePoints [N, Q, L, 2|4]; src [N, S, C] (encoder memory);
   * paddingMask [N, S]. Returns the updated queries with the cross-attention's sampling locations
   * and attention weights.
   */
  forward(
    tgt: Tensor,
    queryPos: Tensor | null,
    referencePoints: Tensor,
    src: Tensor,
    shapes: SpatialShapes,
    paddingMask: Tensor | null = null,
  ): MSDeformAttnOutput {
    return torch.tidy(() => {
      // self-attention over the Q queries of each frame (sequence-first); q and k are one tensor
      const qk = (queryPos ? tgt.add(queryPos) : tgt).transpose(0, 1);
      const sa = this.selfAttn.forward(qk, qk, tgt.transpose(0, 1)).output.transpose(0, 1);
      let x = this.norm2.forward(tgt.add(this.dropout2.forward(sa)));

      const ca = this.crossAttn.forward(queryPos ? x.add(queryPos) : x, referencePoints, src, shapes, paddingMask);
      x = this.norm1.forward(x.add(this.dropout1.forward(ca.output)));

      const ffn = feedForward(x, this.linear1, this.dropout3, this.linear2);
      const output = this.norm3.forward(x.add(this.dropout4.forward(ffn)));
      return { output, samplingLocations: ca.samplingLocations, attentionWeights: ca.attentionWeights };
    });
  }
}

/** What the box-refinement heads must offer: [.., C] → [.., 4] box deltas in logit space. */
export interface BoxHead extends Module {
  forward(x: Tensor): Tensor;
}

/** Per decoder layer values that the reference exposes through its forward hooks. */
export interface DecoderLayerRecord {
  /** the layer's output queries [N, Q, C] (= hs[l]) */
  output: Tensor;
  /** [N, Q, M, L, P, 2] */
  samplingLocations: Tensor;
  /** [N, Q, M, L, P] */
  attentionWeights: Tensor;
  /** bbox_embed[l](output) [N, Q, 4], or null without box refinement */
  boxDelta: Tensor | null;
}

export interface DeformableTransformerDecoderOutput {
  /** [Ld, N, Q, C] with returnIntermediate, else the last layer's [N, Q, C] */
  hs: Tensor;
  /** reference points after each layer (sigmoid space, detached): [Ld, N, Q, 4] (2 without box refinement), or the last one */
  interReferences: Tensor;
  /** the 30 sampling locations with the largest attention weights, divided by the valid ratios: [Ld, N, Q, 30, 2], or the last one */
  interSamples: Tensor;
  layers: DecoderLayerRecord[];
}

/** Number of top-weighted sampling points the decoder reports per query (reference: 30). */
const TOP_SAMPLES = 30;

/**
 * Decoder with optional iterative box refinement: when the SOC model hands over its `bbox_embed`
 * heads (setBboxEmbed), each layer refines the reference points through bbox_embed[l]; the
 * refined references are detached.
 */
export class DeformableTransformerDecoder extends Module {
  readonly layers: ModuleList<DeformableTransformerDecoderLayer>;
  bboxEmbed: ModuleList<BoxHead> | null = null;

  constructor(
    layers: DeformableTransformerDecoderLayer[],
    readonly returnIntermediate = true,
  ) {
    super();
    this.layers = this.registerModule('layers', new ModuleList(layers));
    this.registerModule('bbox_embed', null); // slot after `layers`, filled by setBboxEmbed
  }

  get numLayers(): number {
    return this.layers.length;
  }

  /**
   * Enables iterative box refinement with the model's own heads (one per layer). The same module
   * objects stay registered at the model's top level, so their weights appear under both
   * `bbox_embed.*` and `transformer.decoder.bbox_embed.*`, as in the reference. Null disables it.
   */
  setBboxEmbed(heads: ModuleList<BoxHead> | null): void {
    if (heads && heads.length < this.numLayers) {
      throw new RangeError(`setBboxEmbed: ${heads.length} heads for ${this.numLayers} decoder layers`);
    }
    this.bboxEmbed = this.registerModule('bbox_embed', heads);
  }

  /**
   * tgt, queryPos [N, Q, C]; referencePoints [N, Q, 2] (sigmoid space); src [N, S, C];
   * validRatios [N, L, 2]; paddingMask [N, S].
   */
  forward(
    tgt: Tensor,
    referencePoints: Tensor,
    src: Tensor,
    shapes: SpatialShapes,
    validRatios: Tensor,
    queryPos: Tensor | null = null,
    paddingMask: Tensor | null = null,
  ): DeformableTransformerDecoderOutput {
    return torch.tidy(() => {
      let output = tgt;
      let ref = referencePoints;
      const records: DecoderLayerRecord[] = [];
      const refs: Tensor[] = [];
      const samples: Tensor[] = [];
      const ratios4 = torch.cat([validRatios, validRatios], -1);
      this.layers.items.forEach((layer, lid) => {
        // references of the valid region → coordinates of each padded level map: [N, Q, L, 2|4]
        const refInput = ref.unsqueeze(2).mul((ref.shape[ref.ndim - 1] === 4 ? ratios4 : validRatios).unsqueeze(1));
        const r = layer.forward(output, queryPos, refInput, src, shapes, paddingMask);
        output = r.output;
        samples.push(topWeightedSamples(r.samplingLocations, r.attentionWeights, validRatios));

        let boxDelta: Tensor | null = null;
        if (this.bboxEmbed) {
          boxDelta = this.bboxEmbed.at(lid).forward(output);
          const refined =
            ref.shape[ref.ndim - 1] === 4
              ? boxDelta.add(inverseSigmoid(ref))
              : torch.cat([boxDelta.narrow(-1, 0, 2).add(inverseSigmoid(ref)), boxDelta.narrow(-1, 2, boxDelta.shape[boxDelta.ndim - 1]! - 2)], -1);
          ref = refined.sigmoid().detach();
        }
        refs.push(ref);
        records.push({ output, samplingLocations: r.samplingLocations, attentionWeights: r.attentionWeights, boxDelta });
      });
      if (!this.returnIntermediate) {
        return { hs: output, interReferences: ref, interSamples: samples[samples.length - 1]!, layers: records };
      }
      return { hs: torch.stack(records.map((x) => x.output)), interReferences: torch.stack(refs), interSamples: torch.stack(samples), layers: records };
    });
  }
}

/**
 * The sampling locations (divided by the valid ratios) of the 30 largest attention weights of each
 * query, in descending weight order: [N, Q, 30, 2]. Reported by the reference, unused downstream.
 */
function topWeightedSamples(samplingLocations: Tensor, attentionWeights: Tensor, validRatios: Tensor): Tensor {
  return torch.tidy(() => {
    const [n, q, , nl] = samplingLocations.shape as [number, number, number, number];
    const loc = samplingLocations.div(validRatios.reshape(n, 1, 1, nl, 1, 2)).reshape(n, q, -1, 2);
    const weights = attentionWeights.reshape(n, q, -1);
    const k = Math.min(TOP_SAMPLES, weights.shape[2]!);
    const { indices } = weights.topk(k, 2);
    return loc.gather(2, indices.unsqueeze(-1).expand(n, q, k, 2));
  });
}

// ------------------------------------------------------------------------------------------------
// DeformableTransformer
// ------------------------------------------------------------------------------------------------

export interface DeformableTransformerOptions {
  dModel?: number;
  nHeads?: number;
  numEncoderLayers?: number;
  numDecoderLayers?: number;
  dimFeedforward?: number;
  dropout?: number;
  numFeatureLevels?: number;
  encNPoints?: number;
  decNPoints?: number;
  /** The reference's return_intermediate_dec; SOC always builds it true. */
  returnIntermediateDec?: boolean;
  /** Sampling core of every MSDeformAttn (default 'gather', the fast one). */
  sampling?: DeformSampling;
  /** Generator for the initialisation (default: the global one). */
  generator?: Generator;
}

/** The inputs flattened over levels, as the encoder and decoder take them. */
export interface FlattenedLevels {
  /** [N, S, C] */
  srcFlatten: Tensor;
  /** [N, S] (true = padded) */
  maskFlatten: Tensor;
  /** pos + level_embed[l], [N, S, C] */
  lvlPosEmbedFlatten: Tensor;
  /** (h, w) per level */
  spatialShapes: [number, number][];
  /** offset of each level in S */
  levelStartIndex: number[];
  /** [N, L, 2] (x, y): valid fraction of each level map */
  validRatios: Tensor;
}

export interface DeformableTransformerOutput {
  /** decoder queries of every layer [Ld, (b t), Q, C] */
  hs: Tensor;
  /** encoder memory of the first numFeatureLevels − 1 levels as maps [(b t), C, h_l, w_l] */
  memoryFeatures: Tensor[];
  /** sigmoid(reference_points(query_embed)) [(b t), Q, 2] */
  initReference: Tensor;
  /** refined references after each decoder layer [Ld, (b t), Q, 4] */
  interReferences: Tensor;
  /** top-30 sampling points per query [Ld, (b t), Q, 30, 2] (unused by SOC) */
  interSamples: Tensor;
  /** encoder output [(b t), S, C] */
  memory: Tensor;
  /** reference_points(query_embed) before the sigmoid [(b t), Q, 2] */
  referencePointsLogits: Tensor;
  /** per decoder layer: output, sampling locations, attention weights, box delta */
  decoderLayers: DecoderLayerRecord[];
}

/**
 * The deformable transformer as SOC builds it (two_stage false; defaults are the reference class's,
 * SOC passes d_model 256, 8 heads, 3 + 3 layers, FFN 2048, 4 levels, 4 + 4 points). Keys:
 * level_embed, encoder.layers.*, decoder.layers.*, decoder.bbox_embed.* (once setBboxEmbed is
 * called), reference_points.
 */
export class DeformableTransformer extends Module {
  readonly dModel: number;
  readonly nHeads: number;
  readonly numFeatureLevels: number;
  readonly levelEmbed: Tensor;
  readonly encoder: DeformableTransformerEncoder;
  readonly decoder: DeformableTransformerDecoder;
  readonly referencePoints: Linear;

  constructor(o: DeformableTransformerOptions = {}) {
    super();
    const dModel = (this.dModel = o.dModel ?? 256);
    const nHeads = (this.nHeads = o.nHeads ?? 8);
    const levels = (this.numFeatureLevels = o.numFeatureLevels ?? 4);
    const dFfn = o.dimFeedforward ?? 1024;
    const dropout = o.dropout ?? 0.1;
    const layerOpts = { sampling: o.sampling ?? 'gather', generator: o.generator };
    const encoderLayers = clones(o.numEncoderLayers ?? 6, () => new DeformableTransformerEncoderLayer(dModel, dFfn, dropout, levels, nHeads, o.encNPoints ?? 4, layerOpts));
    const decoderLayers = clones(o.numDecoderLayers ?? 6, () => new DeformableTransformerDecoderLayer(dModel, dFfn, dropout, levels, nHeads, o.decNPoints ?? 4, layerOpts));
    this.levelEmbed = this.registerParameter('level_embed', torch.empty([levels, dModel]));
    this.encoder = this.registerModule('encoder', new DeformableTransformerEncoder(encoderLayers));
    this.decoder = this.registerModule('decoder', new DeformableTransformerDecoder(decoderLayers, o.returnIntermediateDec ?? true));
    this.referencePoints = this.registerModule('reference_points', new Linear(dModel, 2, { generator: o.generator }));
    this.resetParameters(o.generator);
  }

  /** xavier_uniform on every ≥2-D parameter, then the MSDeformAttn scheme, reference_points xavier / bias 0, level_embed N(0, 1). */
  resetParameters(generator?: Generator): void {
    for (const p of this.parameters()) if (p.ndim > 1) init.xavierUniform_(p, 1, generator);
    for (const m of this.modules()) if (m instanceof MSDeformAttn) m.resetParameters(generator);
    init.xavierUniform_(this.referencePoints.weight, 1, generator);
    init.zeros_(this.referencePoints.bias!);
    init.normal_(this.levelEmbed, 0, 1, generator);
  }

  /** Switches the sampling core of every MSDeformAttn. */
  setSampling(sampling: DeformSampling): void {
    for (const m of this.modules()) if (m instanceof MSDeformAttn) m.sampling = sampling;
  }

  /**
   * Valid fraction (x, y) of a padded level map, counted along the first column (height) and
   * first row (width): mask [N, h, w] (true = padded) → [N, 2].
   */
  static getValidRatio(mask: Tensor): Tensor {
    return torch.tidy(() => {
      const [, h, w] = mask.shape as [number, number, number];
      const valid = mask.logicalNot();
      const validH = valid.select(2, 0).sum(1).to('float32');
      const validW = valid.select(1, 0).sum(1).to('float32');
      return torch.stack([validW.div(w), validH.div(h)], -1);
    });
  }

  /** srcs, posEmbeds [N, C, h_l, w_l], masks [N, h_l, w_l] per level → the flattened encoder inputs. */
  flattenLevels(srcs: readonly Tensor[], masks: readonly Tensor[], posEmbeds: readonly Tensor[]): FlattenedLevels {
    return torch.tidy(() => {
      if (srcs.length !== this.numFeatureLevels || masks.length !== srcs.length || posEmbeds.length !== srcs.length) {
        throw new RangeError(
          `DeformableTransformer: expected ${this.numFeatureLevels} levels of srcs, masks and pos, got ${srcs.length}, ${masks.length}, ${posEmbeds.length}`,
        );
      }
      const spatialShapes: [number, number][] = srcs.map((s) => [s.shape[2]!, s.shape[3]!]);
      const srcFlatten = torch.cat(srcs.map((s) => s.flatten(2).transpose(1, 2)), 1); // [N, S, C]
      const maskFlatten = torch.cat(masks.map((m) => m.flatten(1)), 1); // [N, S]
      const lvlPosEmbedFlatten = torch.cat(
        posEmbeds.map((p, l) => p.flatten(2).transpose(1, 2).add(this.levelEmbed.select(0, l).view(1, 1, -1))),
        1,
      );
      const validRatios = torch.stack(masks.map((m) => DeformableTransformer.getValidRatio(m)), 1); // [N, L, 2]
      return { srcFlatten, maskFlatten, lvlPosEmbedFlatten, spatialShapes, levelStartIndex: levelStartIndex(spatialShapes), validRatios };
    });
  }

  /**
   * srcs[l] [(b t), C, h_l, w_l] (level 0 finest); tgt [B, T, Q, C] (decoder content queries);
   * masks[l] [(b t), h_l, w_l] (true = padded); posEmbeds[l] like srcs; queryEmbed [Q, C].
   */
  forward(
    srcs: readonly Tensor[],
    tgt: Tensor,
    masks: readonly Tensor[],
    posEmbeds: readonly Tensor[],
    queryEmbed: Tensor,
    o: { onEncoderLayer?: (index: number, output: Tensor) => void } = {},
  ): DeformableTransformerOutput {
    return torch.tidy(() => {
      const flat = this.flattenLevels(srcs, masks, posEmbeds);
      const shapes = flat.spatialShapes;
      const memory = this.encoder.forward(flat.srcFlatten, shapes, flat.validRatios, flat.lvlPosEmbedFlatten, flat.maskFlatten, o.onEncoderLayer);

      const [b, t, q, c] = tgt.shape as [number, number, number, number];
      const tgtFlat = tgt.reshape(b * t, q, c); // b t q c -> (b t) q c
      const queryPos = queryEmbed.unsqueeze(0).expand(b * t, -1, -1);
      const referencePointsLogits = this.referencePoints.forward(queryPos);
      const initReference = referencePointsLogits.sigmoid();
      const dec = this.decoder.forward(tgtFlat, initReference, memory, shapes, flat.validRatios, queryPos, flat.maskFlatten);

      // memory of the stride-8/16/32 levels back to maps for the FPN: [(b t), C, h, w]
      const n = memory.shape[0]!;
      const memoryFeatures = shapes.slice(0, this.numFeatureLevels - 1).map(([h, w], l) =>
        memory.narrow(1, flat.levelStartIndex[l]!, h * w).reshape(n, h, w, c).permute(0, 3, 1, 2).contiguous(),
      );
      return {
        hs: dec.hs,
        memoryFeatures,
        initReference,
        interReferences: dec.interReferences,
        interSamples: dec.interSamples,
        memory,
        referencePointsLogits,
        decoderLayers: dec.layers,
      };
    });
  }
}

/**
 * n layers that start as copies of the first one, as the reference's deepcopy clones do (they share
 * initial biases; weights are re-drawn by resetParameters anyway).
 */
function clones<M extends Module>(n: number, make: () => M): M[] {
  const layers = Array.from({ length: n }, make);
  const first = layers[0];
  if (first) for (const other of layers.slice(1)) other.loadStateDict(first.stateDict());
  return layers;
}
