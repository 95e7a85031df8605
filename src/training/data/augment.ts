// Training augmentations of a clip and its targets (spec training.md §4), in the reference's order:
// horizontal flip → photometric distortion → (optional) crop → resize → ToTensor + Normalize with
// the boxes turned into normalised cxcywh. Every random choice comes from the sample's own seeded
// Rng, so a sample's augmentation depends only on (seed, epoch, sample index): the same on any
// worker and after a resume.
//
// Reference behaviour kept on purpose, and surprising:
//  - the flip fires when a STANDARD NORMAL draw exceeds 0.5 (torch.randn(1) > 0.5), i.e. with
//    probability 1 − Φ(0.5) ≈ 0.3085, not 0.5;
//  - a flipped empty box [0, 0, 0, 0] becomes [w, 0, w, 0] (normalised cxcywh (1, 0, 0, 0));
//  - the text swap is plain substring replacement ("bright" → "bleft", '@' → "right"), see text.ts;
//  - visibility is decided on the original mask and not revisited by the resize;
//  - one training scale in every config, so RandomResize never actually draws.
// Differences, documented: the photometric distortion clamps to [0, 255] before the uint8 cast
// (numpy's cast of out-of-range floats is undefined behaviour in the reference), and it uses this
// module's RNG instead of numpy's global one. The crop (RandomSizeCrop, unused by every reference
// pipeline) keeps the referred target even when it is cropped away: its mask is then empty, its
// box zero and it becomes invisible.

import type { Mask, RgbImage } from '../../data/types.js';
import type { Rng } from '../../data/prng.js';
import { getSizeWithAspectRatio, normalizeToChw } from '../../media/preprocess.js';
import { resizeMaskNearest, resizeRgbPil } from '../../media/resize.js';
import type { BoxXyxy, RawFrameTarget } from './annotations.js';
import { swapLeftRight } from './text.js';

/** A clip as read from disk: frames and per-frame targets (null where a frame is not annotated, A2D/JHMDB). */
export interface RawClip {
  frames: RgbImage[];
  targets: (RawFrameTarget | null)[];
  /** Normalised text (see normaliseText). */
  text: string;
  /** Other expressions on the same frames: augmented with the same random choices as the clip. */
  companions?: { targets: (RawFrameTarget | null)[]; text: string }[];
}

export interface AugmentConfig {
  /** Horizontal flip with the reference's probability (≈ 0.3085) and the left/right word swap. */
  hflip: boolean;
  /** SSD-style photometric distortion (the reference's `random_color`). */
  colorJitter: boolean;
  /** Shorter-side sizes; one is chosen per clip (the reference uses a single one). */
  scales: number[];
  /** Cap on the longer side after resizing (null: none). */
  maxSize: number | null;
  /** RandomSizeCrop(minSize, maxSize) before resizing, with probability `probability`; null: no crop. */
  crop: { minSize: number; maxSize: number; probability: number } | null;
}

/** Evaluation: resize only. */
export function evalAugment(shortSide: number, maxSize: number | null): AugmentConfig {
  return { hflip: false, colorJitter: false, scales: [shortSide], maxSize, crop: null };
}

/** One frame's target after augmentation, in the criterion's format. */
export interface PreparedFrameTarget {
  /** [h·w] 0/1, the resized mask (nearest, > 0.5) */
  mask: Uint8Array;
  /** normalised (cx, cy, w, h), float32 values */
  box: [number, number, number, number];
  visible: boolean;
  /** (h, w) after resizing */
  size: [number, number];
  /** (h, w) of the source frame */
  origSize: [number, number];
  numObjects: number;
  labels?: number[];
  area?: number[];
  imageId?: string;
  caption?: string;
}

/** A clip ready to collate: plain typed arrays, so it can cross a worker boundary without copying. */
export interface PreparedClip {
  /** Index of the sample in the epoch's sample list. */
  sampleIndex: number;
  text: string;
  numFrames: number;
  height: number;
  width: number;
  /** [T, 3, h, w] float32, ImageNet-normalised */
  video: Float32Array;
  targets: (PreparedFrameTarget | null)[];
  /** Whether the horizontal flip fired (for logs and tests). */
  flipped: boolean;
  /** Other expressions on the same (augmented) frames, each with its own targets. */
  companions?: { text: string; targets: (PreparedFrameTarget | null)[] }[];
}

/** A standard normal draw (Box–Muller): the reference decides its flips with torch.randn(1) > 0.5. */
export function standardNormal(rng: Rng): number {
  const u1 = rng.next();
  const u2 = rng.next();
  return Math.sqrt(-2 * Math.log(1 - u1)) * Math.cos(2 * Math.PI * u2);
}

/** Applies the augmentations and the normalisation; `rng` drives every random choice. */
export function augmentClip(clip: RawClip, config: AugmentConfig, rng: Rng, sampleIndex = 0): PreparedClip {
  let frames = clip.frames;
  const first = frames[0];
  if (!first) throw new RangeError('augmentClip: a clip needs at least one frame');
  const origSize: [number, number] = [first.height, first.width];
  // the clip's expression, then its companions: every geometric step applies to all of them alike
  let labelled = [clip, ...(clip.companions ?? [])].map((e) => ({ text: e.text, targets: e.targets.map((t) => (t ? { ...t } : null)) }));
  const eachTarget = (fn: (t: RawFrameTarget) => RawFrameTarget) => {
    labelled = labelled.map((e) => ({ text: e.text, targets: e.targets.map((t) => t && fn(t)) }));
  };

  const flipped = config.hflip && standardNormal(rng) > 0.5;
  if (flipped) {
    frames = frames.map(flipImage);
    eachTarget((t) => ({ ...t, mask: flipMask(t.mask), box: flipBox(t.box, t.mask.width) }));
    labelled = labelled.map((e) => ({ ...e, text: swapLeftRight(e.text) }));
  }
  if (config.colorJitter && standardNormal(rng) > 0.5) frames = frames.map((f) => photometricDistort(f, rng));

  if (config.crop && rng.next() < config.crop.probability) {
    const { width: W, height: H } = frames[0]!;
    const cw = rng.int(Math.min(config.crop.minSize, W), Math.min(W, config.crop.maxSize));
    const ch = rng.int(Math.min(config.crop.minSize, H), Math.min(H, config.crop.maxSize));
    const top = rng.int(0, H - ch);
    const left = rng.int(0, W - cw);
    frames = frames.map((f) => cropImage(f, top, left, ch, cw));
    eachTarget((t) => cropTarget(t, top, left, ch, cw));
  }

  const shortSide = config.scales.length === 1 ? config.scales[0]! : rng.pick(config.scales);
  const { width: w0, height: h0 } = frames[0]!;
  const [h, w] = getSizeWithAspectRatio(w0, h0, shortSide, config.maxSize);
  const resizedFrames = frames.map((f) => (f.width === w && f.height === h ? f : resizeRgbPil(f, w, h)));
  const rw = Math.fround(w / w0);
  const rh = Math.fround(h / h0);
  const plane = 3 * h * w;
  const video = new Float32Array(resizedFrames.length * plane);
  resizedFrames.forEach((f, t) => normalizeToChw(f, video, t * plane));

  const prepare = (t: RawFrameTarget | null): PreparedFrameTarget | null => {
    if (!t) return null;
    const mask = t.mask.width === w && t.mask.height === h ? t.mask.data : resizeMaskNearest(t.mask, w, h).data;
    const [x1, y1, x2, y2] = t.box.map((v, i) => Math.fround(v * (i % 2 === 0 ? rw : rh))) as BoxXyxy;
    const f = Math.fround;
    const box: [number, number, number, number] = [f(f(f(x1 + x2) / 2) / w), f(f(f(y1 + y2) / 2) / h), f(f(x2 - x1) / w), f(f(y2 - y1) / h)];
    return {
      mask: Uint8Array.from(mask, (v) => (v ? 1 : 0)),
      box,
      visible: t.visible,
      size: [h, w],
      origSize,
      numObjects: t.numObjects,
      ...(t.labels ? { labels: t.labels } : {}),
      // area × the resize's area ratio, in float64 like the reference's float64 area tensor
      ...(t.area ? { area: t.area.map((a) => a * ((w / w0) * (h / h0))) } : {}),
      ...(t.imageId !== undefined ? { imageId: t.imageId } : {}),
      ...(t.caption !== undefined ? { caption: t.caption } : {}),
    };
  };
  const [main, ...companions] = labelled.map((e) => ({ text: e.text, targets: e.targets.map(prepare) }));
  return { sampleIndex, text: main!.text, numFrames: frames.length, height: h, width: w, video, targets: main!.targets, flipped, ...(companions.length ? { companions } : {}) };
}

// ------------------------------------------------------------------------------ geometry

/** [x1, y1, x2, y2] → [w − x2, y1, w − x1, y2] with w the frame width before the flip. */
export function flipBox(box: BoxXyxy, width: number): BoxXyxy {
  return [width - box[2], box[1], width - box[0], box[3]];
}

export function flipImage(image: RgbImage): RgbImage {
  const { width, height, data } = image;
  const out = new Uint8Array(data.length);
  for (let y = 0; y < height; y++) {
    const row = y * width * 3;
    for (let x = 0; x < width; x++) {
      const s = row + x * 3;
      const d = row + (width - 1 - x) * 3;
      out[d] = data[s]!;
      out[d + 1] = data[s + 1]!;
      out[d + 2] = data[s + 2]!;
    }
  }
  return { width, height, data: out };
}

export function flipMask(mask: Mask): Mask {
  const { width, height, data } = mask;
  const out = new Uint8Array(data.length);
  for (let y = 0; y < height; y++) {
    const row = y * width;
    for (let x = 0; x < width; x++) out[row + width - 1 - x] = data[row + x]!;
  }
  return { width, height, data: out };
}

function cropImage(image: RgbImage, top: number, left: number, h: number, w: number): RgbImage {
  const out = new Uint8Array(h * w * 3);
  for (let y = 0; y < h; y++) out.set(image.data.subarray(((top + y) * image.width + left) * 3, ((top + y) * image.width + left + w) * 3), y * w * 3);
  return { width: w, height: h, data: out };
}

function cropMask(mask: Mask, top: number, left: number, h: number, w: number): Mask {
  const out = new Uint8Array(h * w);
  for (let y = 0; y < h; y++) out.set(mask.data.subarray((top + y) * mask.width + left, (top + y) * mask.width + left + w), y * w);
  return { width: w, height: h, data: out };
}

/** The reference's crop of a box (shift, min with the crop size, clamp at 0); a target cropped away becomes empty and invisible. */
function cropTarget(t: RawFrameTarget, top: number, left: number, h: number, w: number): RawFrameTarget {
  const mask = cropMask(t.mask, top, left, h, w);
  const visible = mask.data.some((v) => v !== 0);
  const clampTo = (v: number, max: number) => Math.max(0, Math.min(v, max));
  const box: BoxXyxy = visible ? [clampTo(t.box[0] - left, w), clampTo(t.box[1] - top, h), clampTo(t.box[2] - left, w), clampTo(t.box[3] - top, h)] : [0, 0, 0, 0];
  return { ...t, mask, box, visible };
}

// ------------------------------------------------------------------------------ photometric distortion

/**
 * The reference's PhotometricDistort for one frame (SSD style, on float pixels): brightness ±32
 * (p ½); then either [contrast, HSV, saturation, hue, BGR] or [HSV, saturation, hue, BGR,
 * contrast] (contrast ×U(0.5, 1.5) p ½, saturation ×U(0.5, 1.5) p ½, hue ±18° p ½); then a random
 * channel permutation (p ½). As in the reference, the RGB array is treated as BGR by the colour
 * conversions.
 */
export function photometricDistort(image: RgbImage, rng: Rng): RgbImage {
  const n = image.width * image.height;
  const px = Float32Array.from(image.data);
  const coin = () => rng.int(0, 1) === 1;
  if (coin()) {
    const delta = Math.fround(rng.uniform(-32, 32));
    for (let i = 0; i < px.length; i++) px[i] = Math.fround(px[i]! + delta);
  }
  const contrast = () => {
    if (!coin()) return;
    const alpha = Math.fround(rng.uniform(0.5, 1.5));
    for (let i = 0; i < px.length; i++) px[i] = Math.fround(px[i]! * alpha);
  };
  const hsvSteps = () => {
    toHsv(px, n);
    if (coin()) {
      const s = Math.fround(rng.uniform(0.5, 1.5));
      for (let i = 0; i < n; i++) px[i * 3 + 1] = Math.fround(px[i * 3 + 1]! * s);
    }
    if (coin()) {
      const d = Math.fround(rng.uniform(-18, 18));
      for (let i = 0; i < n; i++) {
        let hue = Math.fround(px[i * 3]! + d);
        if (hue > 360) hue -= 360;
        if (hue < 0) hue += 360;
        px[i * 3] = hue;
      }
    }
    fromHsv(px, n);
  };
  if (coin()) {
    contrast();
    hsvSteps();
  } else {
    hsvSteps();
    contrast();
  }
  let order = [0, 1, 2];
  if (coin()) order = rng.pick([[0, 1, 2], [0, 2, 1], [1, 0, 2], [1, 2, 0], [2, 0, 1], [2, 1, 0]]);
  const out = new Uint8Array(n * 3);
  for (let i = 0; i < n; i++) {
    for (let c = 0; c < 3; c++) out[i * 3 + c] = Math.max(0, Math.min(255, Math.trunc(px[i * 3 + order[c]!]!)));
  }
  return { width: image.width, height: image.height, data: out };
}

const FLT_EPSILON = 1.1920928955078125e-7;

/** cv2.cvtColor(BGR2HSV) on float pixels, in place: H in degrees [0, 360), S in [0, 1], V as given. */
function toHsv(px: Float32Array, n: number): void {
  for (let i = 0; i < n; i++) {
    const b = px[i * 3]!;
    const g = px[i * 3 + 1]!;
    const r = px[i * 3 + 2]!;
    const v = Math.max(b, g, r);
    const vmin = Math.min(b, g, r);
    let diff = v - vmin;
    const s = diff / (Math.abs(v) + FLT_EPSILON);
    diff = 60 / (diff + FLT_EPSILON);
    let h = v === r ? (g - b) * diff : v === g ? (b - r) * diff + 120 : (r - g) * diff + 240;
    if (h < 0) h += 360;
    px[i * 3] = Math.fround(h);
    px[i * 3 + 1] = Math.fround(s);
    px[i * 3 + 2] = v;
  }
}

/** cv2.cvtColor(HSV2BGR) on float pixels, in place. */
function fromHsv(px: Float32Array, n: number): void {
  for (let i = 0; i < n; i++) {
    let h = px[i * 3]!;
    const s = px[i * 3 + 1]!;
    const v = px[i * 3 + 2]!;
    let b = v;
    let g = v;
    let r = v;
    if (s !== 0) {
      h /= 60;
      let sector = Math.floor(h);
      h -= sector;
      if (sector < 0) sector += 6;
      else if (sector >= 6) sector -= 6;
      const p = v * (1 - s);
      const q = v * (1 - s * h);
      const t = v * (1 - s * (1 - h));
      [b, g, r] = [
        [p, t, v],
        [p, v, q],
        [t, v, p],
        [v, q, p],
        [v, p, t],
        [q, p, v],
      ][sector]! as [number, number, number];
    }
    px[i * 3] = Math.fround(b);
    px[i * 3 + 1] = Math.fround(g);
    px[i * 3 + 2] = Math.fround(r);
  }
}
