// Video Swin Transformer 3D as SOC / SOC++ use it (reference: models/video_swin_transformer.py;
// spec: architecture.md §3). The temporal patch size is 1, so time is never downsampled and every
// stage yields one feature map per frame. The module tree gives the reference's state-dict keys
// by construction: `patch_embed.*`, `layers.{i}.blocks.{j}.*`, `downsamples.{i}.*` (the reference
// wrapper moves each stage's PatchMerging out of the stage and drops the final norm). Mounted by
// `Joiner` below, the keys become `backbone.0.body.*`.
//
// Forward passes are pure tensor programs (shapes only, no values read back), and every module's
// forward runs in its own scope so intermediates are freed as soon as it returns.

import { z } from 'zod';
import { Dropout, LayerNorm, Linear, Module, ModuleList, Conv3d, init } from '../../nn/index.js';
import * as F from '../../nn/functional.js';
import * as torch from '../../tensor/index.js';
import type { Tensor } from '../../tensor/index.js';
import { PositionEmbeddingSine2D, joinFeatures, type BackboneOutput } from './position_encoding.js';

type Triple = [number, number, number];

/**
 * Called with a module-relative name (`patch_embed`, `layers.0`, `downsamples.0`) and that output.
 * The tensor is valid only during the call (it belongs to the forward's scope): clone().keep() to retain it.
 */
export type ForwardHook = (name: string, value: Tensor) => void;

// ---------------------------------------------------------------------------------------------
// configuration

const triple = z.tuple([z.number().int().positive(), z.number().int().positive(), z.number().int().positive()]);

/** Hyper-parameters of SwinTransformer3D with the reference's defaults (swin-t). */
export const SwinConfigSchema = z
  .object({
    patchSize: triple.default([1, 4, 4]),
    inChans: z.number().int().positive().default(3),
    embedDim: z.number().int().positive().default(96),
    depths: z.array(z.number().int().positive()).min(1).default([2, 2, 6, 2]),
    numHeads: z.array(z.number().int().positive()).min(1).default([3, 6, 12, 24]),
    windowSize: triple.default([8, 7, 7]),
    mlpRatio: z.number().positive().default(4),
    qkvBias: z.boolean().default(true),
    /** Overrides head_dim^-0.5 when set. */
    qkScale: z.number().positive().nullable().default(null),
    dropRate: z.number().min(0).max(1).default(0),
    attnDropRate: z.number().min(0).max(1).default(0),
    /** Stochastic depth grows linearly from 0 to this over all blocks (training only). */
    dropPathRate: z.number().min(0).max(1).default(0.2),
    patchNorm: z.boolean().default(true),
  })
  .strict()
  .refine((c) => c.depths.length === c.numHeads.length, { message: 'depths and numHeads must have the same length' })
  .refine((c) => c.numHeads.every((h, i) => (c.embedDim * 2 ** i) % h === 0), {
    message: 'every stage width embedDim·2^i must be divisible by its number of heads',
  });

export type SwinConfig = z.infer<typeof SwinConfigSchema>;

const base = SwinConfigSchema.parse({});

/** The reference's three backbones (`video-swin-t/s/b` in its configs). */
export const SWIN_PRESETS = {
  'swin-t': base,
  'swin-s': { ...base, depths: [2, 2, 18, 2] },
  'swin-b': { ...base, embedDim: 128, depths: [2, 2, 18, 2], numHeads: [4, 8, 16, 32] },
} satisfies Record<string, SwinConfig>;

export type SwinPresetName = keyof typeof SWIN_PRESETS;

/**
 * A config from a preset name (`swin-t`, `video-swin-b`, …), from camelCase fields (validated,
 * missing fields take the swin-t defaults), or from the reference's snake_case dict
 * (`embed_dim`, `num_heads`, `window_size`, … as in a fixture's `backbone_swin_config`).
 */
export function swinConfig(spec: string | Record<string, unknown>): SwinConfig {
  if (typeof spec === 'string') {
    const name = spec.replace(/^video-/, '') as SwinPresetName;
    const preset = SWIN_PRESETS[name];
    if (!preset) throw new RangeError(`unknown Video-Swin backbone '${spec}' (expected one of ${Object.keys(SWIN_PRESETS).join(', ')})`);
    return structuredClone(preset);
  }
  const camel: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(spec)) {
    if (k === 'use_checkpoint' || k === 'useCheckpoint') continue; // activation checkpointing: no numeric effect
    camel[k.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase())] = v;
  }
  return SwinConfigSchema.parse(camel);
}

/** Stage widths embedDim·2^i. */
export function stageChannels(c: SwinConfig): number[] {
  return c.depths.map((_, i) => c.embedDim * 2 ** i);
}

// ---------------------------------------------------------------------------------------------
// pure helpers

/**
 * Window and shift actually used for a feature of size `xSize` (D, H, W): in any dimension where
 * the feature is not larger than the window, the window shrinks to the feature and the shift is 0.
 */
export function getWindowSize(xSize: readonly number[], windowSize: readonly number[], shiftSize: readonly number[]): { window: Triple; shift: Triple } {
  const window = [...windowSize] as Triple;
  const shift = [...shiftSize] as Triple;
  for (let i = 0; i < 3; i++) {
    if (xSize[i]! <= windowSize[i]!) {
      window[i] = xSize[i]!;
      shift[i] = 0;
    }
  }
  return { window, shift };
}

/**
 * [B, D, H, W, C] → [B·nW, wd·wh·ww, C]. Windows are ordered (b, d-block, h-block, w-block),
 * tokens inside a window row-major in (d, h, w). D, H, W must be multiples of the window.
 */
export function windowPartition(x: Tensor, ws: readonly number[]): Tensor {
  return torch.tidy(() => {
    const [b, d, h, w, c] = x.shape as [number, number, number, number, number];
    const [wd, wh, ww] = ws as Triple;
    return x
      .view(b, d / wd, wd, h / wh, wh, w / ww, ww, c)
      .permute(0, 1, 3, 5, 2, 4, 6, 7)
      .contiguous()
      .view(-1, wd * wh * ww, c);
  });
}

/** Inverse of windowPartition: [B·nW, wd, wh, ww, C] → [B, D, H, W, C]. */
export function windowReverse(windows: Tensor, ws: readonly number[], b: number, d: number, h: number, w: number): Tensor {
  return torch.tidy(() => {
    const [wd, wh, ww] = ws as Triple;
    return windows
      .view(b, d / wd, h / wh, w / ww, wd, wh, ww, -1)
      .permute(0, 1, 4, 2, 5, 3, 6, 7)
      .contiguous()
      .view(b, d, h, w, -1);
  });
}

/**
 * Region label (0, 1, 2) of position i along a padded axis of length p for a shifted window:
 * [0, p−w) | [p−w, p−s) | [p−s, p). With shift 0 the whole axis is one region.
 */
function regionOf(i: number, p: number, w: number, s: number): number {
  if (s === 0) return 0;
  return i < p - w ? 0 : i < p - s ? 1 : 2;
}

/**
 * The shifted-window attention mask [nW, N, N] for a padded (Dp, Hp, Wp) grid: 0 between tokens
 * of the same region, −100 otherwise (the regions a cyclic shift brought together). Only shapes
 * enter, so under tracing it is a constant.
 */
export function computeMask(dp: number, hp: number, wp: number, ws: readonly number[], ss: readonly number[]): Tensor {
  return torch.tidy(() => {
    const labels = new Float32Array(dp * hp * wp);
    let k = 0;
    for (let d = 0; d < dp; d++) {
      const rd = regionOf(d, dp, ws[0]!, ss[0]!);
      for (let h = 0; h < hp; h++) {
        const rh = regionOf(h, hp, ws[1]!, ss[1]!);
        for (let w = 0; w < wp; w++) labels[k++] = rd * 9 + rh * 3 + regionOf(w, wp, ws[2]!, ss[2]!);
      }
    }
    const img = torch.fromTypedArray(labels, [1, dp, hp, wp, 1]);
    const win = windowPartition(img, ws).squeeze(-1); // [nW, N]
    const differs = win.unsqueeze(1).ne(win.unsqueeze(2)); // [nW, N, N]
    return torch.zerosLike(differs, { dtype: 'float32' }).maskedFill_(differs, -100);
  });
}

// Masks are reused by every shifted block of a stage and across calls (the reference memoises
// them too). A few shapes are enough in practice; the oldest entry is freed beyond that.
const MASK_CACHE_LIMIT = 8;
const maskCache = new Map<string, Tensor>();

function cachedMask(dp: number, hp: number, wp: number, ws: Triple, ss: Triple): Tensor {
  const key = `${dp},${hp},${wp}|${ws}|${ss}`;
  let m = maskCache.get(key);
  if (m && !m.isDisposed) return m;
  m = torch.noGrad(() => computeMask(dp, hp, wp, ws, ss)).keep();
  maskCache.set(key, m);
  while (maskCache.size > MASK_CACHE_LIMIT) {
    const [oldKey, old] = maskCache.entries().next().value as [string, Tensor];
    maskCache.delete(oldKey);
    old.dispose();
  }
  return m;
}

/** Frees the cached shifted-window masks (they are rebuilt on demand). */
export function clearSwinMaskCache(): void {
  for (const m of maskCache.values()) m.dispose();
  maskCache.clear();
}

/**
 * Relative position index of a (wd, wh, ww) window, [N, N] int64 with N = wd·wh·ww:
 * (d_i − d_j + wd − 1)·(2wh−1)(2ww−1) + (h_i − h_j + wh − 1)·(2ww−1) + (w_i − w_j + ww − 1).
 */
export function relativePositionIndex(ws: readonly number[]): Tensor {
  const [wd, wh, ww] = ws as Triple;
  const n = wd * wh * ww;
  const coords: Triple[] = [];
  for (let d = 0; d < wd; d++) for (let h = 0; h < wh; h++) for (let w = 0; w < ww; w++) coords.push([d, h, w]);
  const sd = (2 * wh - 1) * (2 * ww - 1);
  const sh = 2 * ww - 1;
  const out = new BigInt64Array(n * n);
  for (let i = 0; i < n; i++) {
    const [di, hi, wi] = coords[i]!;
    for (let j = 0; j < n; j++) {
      const [dj, hj, wj] = coords[j]!;
      out[i * n + j] = BigInt((di - dj + wd - 1) * sd + (hi - hj + wh - 1) * sh + (wi - wj + ww - 1));
    }
  }
  return torch.fromTypedArray(out, [n, n]);
}

// ---------------------------------------------------------------------------------------------
// modules


/** fc2(drop(GELU(fc1(x)))) with exact GELU. */
export class Mlp extends Module {
  readonly fc1: Linear;
  readonly fc2: Linear;
  readonly drop: Dropout;

  constructor(inFeatures: number, hiddenFeatures: number, drop = 0) {
    super();
    this.fc1 = this.registerModule('fc1', new Linear(inFeatures, hiddenFeatures));
    this.fc2 = this.registerModule('fc2', new Linear(hiddenFeatures, inFeatures));
    this.drop = this.registerModule('drop', new Dropout(drop));
  }

  forward(x: Tensor): Tensor {
    return torch.tidy(() => this.drop.forward(this.fc2.forward(this.drop.forward(F.gelu(this.fc1.forward(x))))));
  }
}

/** Multi-head self-attention inside 3-D windows, with a learned relative position bias. */
export class WindowAttention3D extends Module {
  /** Upper bound (bytes) on the attention scores formed at once; at least one window is always taken. */
  static chunkBytes = 128 * 2 ** 20;

  readonly relativePositionBiasTable: Tensor;
  readonly relativePositionIndex: Tensor;
  readonly qkv: Linear;
  readonly attnDrop: Dropout;
  readonly proj: Linear;
  readonly projDrop: Dropout;
  readonly scale: number;

  constructor(
    readonly dim: number,
    readonly windowSize: Triple,
    readonly numHeads: number,
    o: { qkvBias?: boolean; qkScale?: number | null; attnDrop?: number; projDrop?: number } = {},
  ) {
    super();
    const [wd, wh, ww] = windowSize;
    this.scale = o.qkScale ?? (dim / numHeads) ** -0.5;
    // (2wd−1)(2wh−1)(2ww−1) relative offsets × heads; 2535 × heads for the (8,7,7) window
    this.relativePositionBiasTable = this.registerParameter(
      'relative_position_bias_table',
      torch.zeros([(2 * wd - 1) * (2 * wh - 1) * (2 * ww - 1), numHeads]),
    );
    this.relativePositionIndex = this.registerBuffer('relative_position_index', relativePositionIndex(windowSize))!;
    this.qkv = this.registerModule('qkv', new Linear(dim, 3 * dim, { bias: o.qkvBias ?? true }));
    this.attnDrop = this.registerModule('attn_drop', new Dropout(o.attnDrop ?? 0));
    this.proj = this.registerModule('proj', new Linear(dim, dim));
    this.projDrop = this.registerModule('proj_drop', new Dropout(o.projDrop ?? 0));
    init.truncNormal_(this.relativePositionBiasTable, 0, 0.02);
  }

  /**
   * x [B·nW, N, C]; mask [nW, N, N] (0 / −100) or null. N may be smaller than the full window
   * (shrunk to a small input); the bias then uses the top-left N×N block of the full index table,
   * as the reference does.
   */
  forward(x: Tensor, mask: Tensor | null): Tensor {
    return torch.tidy(() => {
      const [bw, n, c] = x.shape as [number, number, number];
      const h = this.numHeads;
      const qkv = this.qkv.forward(x).reshape(bw, n, 3, h, c / h).permute(2, 0, 3, 1, 4); // [3, B·nW, h, N, C/h]
      const q = qkv.select(0, 0).mul(this.scale);
      const k = qkv.select(0, 1);
      const v = qkv.select(0, 2);
      const idx = this.relativePositionIndex.slice(0, 0, n).slice(1, 0, n).reshape(-1);
      const bias = this.relativePositionBiasTable.indexSelect(0, idx).view(n, n, -1).permute(2, 0, 1).contiguous(); // [h, N, N]

      // Windows are independent, so the [windows, h, N, N] scores are formed a few windows at a
      // time: the same arithmetic, but the working set stays small (no multi-GB score tensors).
      const nW = mask ? mask.shape[0]! : bw;
      const step = Math.max(1, Math.min(nW, Math.floor(WindowAttention3D.chunkBytes / (h * n * n * 4))));
      const outs: Tensor[] = [];
      for (let b0 = 0; b0 < bw; b0 += nW) {
        for (let w0 = 0; w0 < nW; w0 += step) {
          const w1 = Math.min(nW, w0 + step);
          const rows = (t: Tensor) => t.slice(0, b0 + w0, b0 + w1);
          const chunk = torch.tidy(() => {
            const scores = rows(q).matmul(rows(k).transpose(-2, -1)); // [w, h, N, N]
            scores.add_(bias);
            if (mask) scores.add_(mask.slice(0, w0, w1).unsqueeze(1));
            return this.attnDrop.forward(scores.softmax(-1)).matmul(rows(v)); // [w, h, N, C/h]
          });
          outs.push(chunk);
        }
      }
      const out = (outs.length === 1 ? outs[0]! : torch.cat(outs, 0)).transpose(1, 2).reshape(bw, n, c); // heads concatenated
      return this.projDrop.forward(this.proj.forward(out));
    });
  }
}

/** One (shifted-)window attention block with its MLP, both pre-norm with residuals. */
export class SwinTransformerBlock3D extends Module {
  readonly norm1: LayerNorm;
  readonly attn: WindowAttention3D;
  readonly norm2: LayerNorm;
  readonly mlp: Mlp;

  constructor(
    readonly dim: number,
    numHeads: number,
    readonly windowSize: Triple,
    readonly shiftSize: Triple,
    o: { mlpRatio?: number; qkvBias?: boolean; qkScale?: number | null; drop?: number; attnDrop?: number; dropPath?: number } = {},
  ) {
    super();
    for (let i = 0; i < 3; i++) {
      if (!(shiftSize[i]! >= 0 && shiftSize[i]! < windowSize[i]!)) throw new RangeError(`shift ${shiftSize} must lie in [0, window ${windowSize})`);
    }
    this.dropPath = o.dropPath ?? 0;
    this.norm1 = this.registerModule('norm1', new LayerNorm(dim));
    this.attn = this.registerModule(
      'attn',
      new WindowAttention3D(dim, windowSize, numHeads, { qkvBias: o.qkvBias, qkScale: o.qkScale, attnDrop: o.attnDrop, projDrop: o.drop }),
    );
    this.norm2 = this.registerModule('norm2', new LayerNorm(dim));
    this.mlp = this.registerModule('mlp', new Mlp(dim, Math.trunc(dim * (o.mlpRatio ?? 4)), o.drop ?? 0));
  }

  /** Stochastic-depth probability of this block (used in training only). */
  readonly dropPath: number;

  /** x [B, D, H, W, C] channels-last; mask from computeMask for the padded grid, used when shifted. */
  forward(x: Tensor, mask: Tensor | null): Tensor {
    return torch.tidy(() => {
      const [b, d, h, w, c] = x.shape as [number, number, number, number, number];
      const { window: ws, shift: ss } = getWindowSize([d, h, w], this.windowSize, this.shiftSize);
      const shifted = ss.some((s) => s > 0);

      // LayerNorm first, then zero padding: padded tokens enter attention as exact zeros.
      let y = this.norm1.forward(x);
      const padD = (ws[0] - (d % ws[0])) % ws[0];
      const padB = (ws[1] - (h % ws[1])) % ws[1];
      const padR = (ws[2] - (w % ws[2])) % ws[2];
      if (padD || padB || padR) y = F.pad(y, [0, 0, 0, padR, 0, padB, 0, padD]);
      const [, dp, hp, wp] = y.shape as [number, number, number, number];
      if (shifted) y = y.roll([-ss[0], -ss[1], -ss[2]], [1, 2, 3]);

      const windows = windowPartition(y, ws); // [B·nW, N, C]
      const attended = this.attn.forward(windows, shifted ? mask : null).view(-1, ws[0], ws[1], ws[2], c);
      y = windowReverse(attended, ws, b, dp, hp, wp); // [B, Dp, Hp, Wp, C]
      if (shifted) y = y.roll([ss[0], ss[1], ss[2]], [1, 2, 3]);
      if (padD || padB || padR) y = y.slice(1, 0, d).slice(2, 0, h).slice(3, 0, w).contiguous();

      const x1 = x.add(F.dropPath(y, this.dropPath, this.training));
      return x1.add(F.dropPath(this.mlp.forward(this.norm2.forward(x1)), this.dropPath, this.training));
    });
  }
}

/** One stage: `depth` blocks alternating unshifted and shifted (window/2) windows. No downsampling here. */
export class BasicLayer extends Module {
  readonly blocks: ModuleList<SwinTransformerBlock3D>;
  readonly shiftSize: Triple;

  constructor(
    dim: number,
    depth: number,
    numHeads: number,
    readonly windowSize: Triple,
    o: { mlpRatio?: number; qkvBias?: boolean; qkScale?: number | null; drop?: number; attnDrop?: number; dropPath?: number[] } = {},
  ) {
    super();
    this.shiftSize = windowSize.map((v) => Math.floor(v / 2)) as Triple;
    const blocks: SwinTransformerBlock3D[] = [];
    for (let i = 0; i < depth; i++) {
      blocks.push(
        new SwinTransformerBlock3D(dim, numHeads, windowSize, i % 2 === 0 ? [0, 0, 0] : this.shiftSize, {
          ...o,
          dropPath: o.dropPath?.[i] ?? 0,
        }),
      );
    }
    this.blocks = this.registerModule('blocks', new ModuleList(blocks));
  }

  /** x [B, C, D, H, W] → [B, C, D, H, W]. */
  forward(x: Tensor): Tensor {
    return torch.tidy(() => {
      const [, , d, h, w] = x.shape as [number, number, number, number, number];
      const { window: ws, shift: ss } = getWindowSize([d, h, w], this.windowSize, this.shiftSize);
      const grid = [d, h, w].map((s, i) => Math.ceil(s / ws[i]!) * ws[i]!) as Triple;
      const mask = ss.some((s) => s > 0) ? cachedMask(grid[0], grid[1], grid[2], ws, ss) : null;
      let y = x.permute(0, 2, 3, 4, 1); // [B, D, H, W, C]
      for (const blk of this.blocks) {
        const next = blk.forward(y, mask);
        if (y !== x) y.dispose(); // keep only one activation of the stage alive
        y = next;
      }
      return y.permute(0, 4, 1, 2, 3);
    });
  }
}

/** 2×2 spatial patch merging: [B, D, H, W, C] → [B, D, ⌈H/2⌉, ⌈W/2⌉, 2C]. */
export class PatchMerging extends Module {
  readonly reduction: Linear;
  readonly norm: LayerNorm;

  constructor(readonly dim: number) {
    super();
    this.reduction = this.registerModule('reduction', new Linear(4 * dim, 2 * dim, { bias: false }));
    this.norm = this.registerModule('norm', new LayerNorm(4 * dim));
  }

  forward(x: Tensor): Tensor {
    return torch.tidy(() => {
      const [, , h, w] = x.shape as [number, number, number, number];
      const y = h % 2 || w % 2 ? F.pad(x, [0, 0, 0, w % 2, 0, h % 2]) : x;
      // channel order: (even h, even w), (odd h, even w), (even h, odd w), (odd h, odd w)
      const parts = [
        y.slice(2, 0, null, 2).slice(3, 0, null, 2),
        y.slice(2, 1, null, 2).slice(3, 0, null, 2),
        y.slice(2, 0, null, 2).slice(3, 1, null, 2),
        y.slice(2, 1, null, 2).slice(3, 1, null, 2),
      ];
      return this.reduction.forward(this.norm.forward(torch.cat(parts, -1)));
    });
  }
}

/** Conv3d patchify (kernel = stride = patch size) after zero padding to whole patches, then LayerNorm. */
export class PatchEmbed3D extends Module {
  readonly proj: Conv3d;
  readonly norm: LayerNorm | null;

  constructor(
    readonly patchSize: Triple,
    inChans: number,
    readonly embedDim: number,
    patchNorm: boolean,
  ) {
    super();
    this.proj = this.registerModule('proj', new Conv3d(inChans, embedDim, [...patchSize], { stride: [...patchSize] }));
    this.norm = this.registerModule('norm', patchNorm ? new LayerNorm(embedDim) : null);
  }

  /** x [B, 3, D, H, W] → [B, C0, ⌈D/pd⌉, ⌈H/ph⌉, ⌈W/pw⌉]. */
  forward(x: Tensor): Tensor {
    return torch.tidy(() => {
      const [, , d, h, w] = x.shape as [number, number, number, number, number];
      const [pd, ph, pw] = this.patchSize;
      // pads right / bottom / end; the input is already normalised, so padding is 0 in that space
      let y = x;
      if (w % pw) y = F.pad(y, [0, pw - (w % pw)]);
      if (h % ph) y = F.pad(y, [0, 0, 0, ph - (h % ph)]);
      if (d % pd) y = F.pad(y, [0, 0, 0, 0, 0, pd - (d % pd)]);
      y = this.proj.forward(y);
      if (!this.norm) return y;
      const [b, c, dd, hh, ww] = y.shape as [number, number, number, number, number];
      const tokens = this.norm.forward(y.flatten(2).transpose(1, 2)); // [B, L, C]
      return tokens.transpose(1, 2).view(b, c, dd, hh, ww);
    });
  }
}

/**
 * The Video-Swin body used by SOC (the reference's VideoSwinTransformerBackbone): patch embedding,
 * stages `layers`, PatchMerging `downsamples` between them, no final norm.
 */
export class SwinTransformer3D extends Module {
  readonly patchEmbed: PatchEmbed3D;
  readonly posDrop: Dropout;
  readonly layers: ModuleList<BasicLayer>;
  readonly downsamples: ModuleList<PatchMerging>;
  readonly numChannels: number[];
  readonly strides: number[];

  constructor(readonly config: SwinConfig) {
    super();
    const c = config;
    this.patchEmbed = this.registerModule('patch_embed', new PatchEmbed3D(c.patchSize, c.inChans, c.embedDim, c.patchNorm));
    this.posDrop = this.registerModule('pos_drop', new Dropout(c.dropRate));
    const total = c.depths.reduce((a, b) => a + b, 0);
    // stochastic depth: linearly 0 → dropPathRate over all blocks
    const dpr = Array.from({ length: total }, (_, i) => (total === 1 ? 0 : (c.dropPathRate * i) / (total - 1)));
    this.numChannels = stageChannels(c);
    this.strides = c.depths.map((_, i) => c.patchSize[1] * 2 ** i);
    const layers: BasicLayer[] = [];
    let start = 0;
    c.depths.forEach((depth, i) => {
      layers.push(
        new BasicLayer(this.numChannels[i]!, depth, c.numHeads[i]!, c.windowSize, {
          mlpRatio: c.mlpRatio,
          qkvBias: c.qkvBias,
          qkScale: c.qkScale,
          drop: c.dropRate,
          attnDrop: c.attnDropRate,
          dropPath: dpr.slice(start, start + depth),
        }),
      );
      start += depth;
    });
    this.layers = this.registerModule('layers', new ModuleList(layers));
    this.downsamples = this.registerModule('downsamples', new ModuleList(this.numChannels.slice(0, -1).map((ch) => new PatchMerging(ch))));
  }

  /**
   * samples [(b t), 3, H, W] (batch-major: row b·T + t), numFrames = T. Returns one feature map per
   * stage, [(b t), C_i, h_i, w_i] with h_i = ⌈H/4⌉ halved (rounding up) per stage.
   */
  forward(samples: Tensor, numFrames: number, hook?: ForwardHook): Tensor[] {
    return torch.tidy(() => {
      const [n, ch, h, w] = samples.shape as [number, number, number, number];
      if (n % numFrames) throw new RangeError(`SwinTransformer3D: ${n} frames are not a whole number of clips of ${numFrames}`);
      const b = n / numFrames;
      let x = this.posDrop.forward(this.patchEmbed.forward(samples.view(b, numFrames, ch, h, w).transpose(1, 2))); // [B, C0, T, h, w]
      hook?.('patch_embed', x);
      const outs: Tensor[] = [];
      this.layers.items.forEach((layer, i) => {
        const y = layer.forward(x); // [B, C, T, h, w]
        hook?.(`layers.${i}`, y);
        if (i < this.downsamples.length) {
          const merged = this.downsamples.at(i).forward(y.permute(0, 2, 3, 4, 1)); // [B, T, h/2, w/2, 2C]
          hook?.(`downsamples.${i}`, merged);
          x = merged.permute(0, 4, 1, 2, 3);
        }
        const [, c, t, hh, ww] = y.shape as [number, number, number, number, number];
        outs.push(y.transpose(1, 2).reshape(b * t, c, hh, ww).contiguous()); // contiguous NCHW, as the fixtures were computed
      });
      return outs;
    });
  }
}

/** The reference's `Backbone`: holds the Swin body as `body` (keys `body.*`), plus its strides/channels. */
export class Backbone extends Module {
  readonly body: SwinTransformer3D;

  constructor(config: SwinConfig) {
    super();
    this.body = this.registerModule('body', new SwinTransformer3D(config));
  }

  get numChannels(): number[] {
    return this.body.numChannels;
  }
  get strides(): number[] {
    return this.body.strides;
  }
}

/**
 * The reference's `Joiner` = Sequential(Backbone, PositionEmbeddingSine2D): keys `0.body.*`
 * (so `backbone.0.body.*` when registered as `backbone`); index 1 has no parameters.
 */
export class Joiner extends Module {
  readonly backbone: Backbone;
  readonly positionEmbedding: PositionEmbeddingSine2D;

  /** dModel: transformer width; the 2-D position encoding has dModel/2 features per axis. */
  constructor(config: SwinConfig, dModel: number) {
    super();
    this.backbone = this.registerModule('0', new Backbone(config));
    this.positionEmbedding = this.registerModule('1', new PositionEmbeddingSine2D(dModel / 2, { normalize: true }));
  }

  get numChannels(): number[] {
    return this.backbone.numChannels;
  }
  get strides(): number[] {
    return this.backbone.strides;
  }

  /**
   * video [T, B, 3, H, W] (time-major, as collated), mask [T, B, H, W] (true = padded pixel).
   * Returns per stage the `(b t)` features with their nearest-resized masks, the 2-D sine
   * position encodings [(b t), dModel, h, w], and the flattened input mask [(b t), H, W].
   * Hooks see `0.body.<module>` names for the Swin body.
   */
  forward(video: Tensor, mask: Tensor, hook?: ForwardHook): BackboneOutput & { mask: Tensor } {
    return torch.tidy(() => {
      const [t, b, c, h, w] = video.shape as [number, number, number, number, number];
      const frames = video.transpose(0, 1).reshape(b * t, c, h, w); // (b t) order
      const flatMask = mask.transpose(0, 1).reshape(b * t, h, w);
      const stages = this.backbone.body.forward(frames, t, hook ? (n, v) => hook(`0.body.${n}`, v) : undefined);
      return { ...joinFeatures(stages, flatMask, this.positionEmbedding), mask: flatMask };
    });
  }
}
