// Frames → model input, as the reference's evaluation transforms do (spec inference-and-eval.md §1):
// RandomResize([short], max_size) with PIL bilinear, ToTensor, ImageNet Normalize, then
// `nested_tensor_from_videos_list` for the batch (zero padding bottom/right, mask true on padding).

import type { RgbImage } from '../data/types.js';
import { UsageError } from '../errors.js';
import * as F from '../nn/functional.js';
import { fromTypedArray, stack, zeros } from '../tensor/creation.js';
import { tidy } from '../tensor/scope.js';
import type { Tensor } from '../tensor/tensor.js';
import { resizeBilinearPil } from './resize.js';

/** (height, width), the order the reference's `size` targets use. */
export type Size = readonly [number, number];

/** Shorter side to `shortSide`, longer side at most `maxSize` (null: unbounded). */
export interface ResizeRule {
  shortSide: number;
  maxSize: number | null;
}

/** Ref-YouTube-VOS, MeViS, Ref-DAVIS and the demo: 360 / 640. */
export const YTVOS_RESIZE: ResizeRule = { shortSide: 360, maxSize: 640 };
/** A2D-Sentences and JHMDB-Sentences: 320 / 576. */
export const A2D_RESIZE: ResizeRule = { shortSide: 320, maxSize: 576 };

export const IMAGENET_MEAN = [0.485, 0.456, 0.406] as const;
export const IMAGENET_STD = [0.229, 0.224, 0.225] as const;

/** Python 3's round() for floats: nearest integer, ties to even. */
export function pythonRound(x: number): number {
  const floor = Math.floor(x);
  const diff = x - floor; // exact for |x| < 2^52
  if (diff < 0.5) return floor;
  if (diff > 0.5) return floor + 1;
  return floor % 2 === 0 ? floor : floor + 1;
}

/**
 * The reference's `get_size_with_aspect_ratio((w, h), size, max_size)`: the resized (h, w).
 * Float steps follow Python's evaluation order so edge cases round the same way.
 */
export function getSizeWithAspectRatio(width: number, height: number, size: number, maxSize: number | null = null): Size {
  if (!(width >= 1 && height >= 1)) throw new UsageError(`cannot resize an image of ${width}x${height} pixels`);
  let s = size;
  if (maxSize !== null) {
    const minOriginal = Math.min(width, height);
    const maxOriginal = Math.max(width, height);
    if ((maxOriginal / minOriginal) * s > maxSize) s = Math.trunc(pythonRound((maxSize * minOriginal) / maxOriginal));
  }
  if ((width <= height && width === s) || (height <= width && height === s)) return [height, width];
  // Python's int() truncates toward zero.
  if (width < height) return [Math.trunc((s * height) / width), s];
  return [s, Math.trunc((s * width) / height)];
}

/** The resized (h, w) of a frame of `width`×`height` under `rule`. */
export function resizedSize(width: number, height: number, rule: ResizeRule = YTVOS_RESIZE): Size {
  const [h, w] = getSizeWithAspectRatio(width, height, rule.shortSide, rule.maxSize);
  if (h < 1 || w < 1) throw new UsageError(`a ${width}x${height} frame would resize to ${w}x${h} pixels; its aspect ratio is too extreme`);
  return [h, w];
}

// ToTensor + Normalize in float32, one table per channel: ((x / 255) − mean) / std with every step
// rounded to float32 like torch does (a double result rounded once to float32 equals the float32
// operation for +, −, ×, ÷ of float32 operands).
const NORMALIZE_TABLE: Float32Array = (() => {
  const table = new Float32Array(3 * 256);
  for (let c = 0; c < 3; c++) {
    const mean = Math.fround(IMAGENET_MEAN[c]!);
    const std = Math.fround(IMAGENET_STD[c]!);
    for (let v = 0; v < 256; v++) {
      const x = Math.fround(v / 255);
      table[c * 256 + v] = Math.fround(Math.fround(x - mean) / std);
    }
  }
  return table;
})();

/** ToTensor + ImageNet Normalize of one value of channel `c` (for checks and tests). */
export function normalizedValue(value: number, channel: number): number {
  return NORMALIZE_TABLE[channel * 256 + value]!;
}

/**
 * Writes `image` as normalised float32 CHW [3, h, w] into `out` at `offset` (or a new array).
 * The image is used as is: resize it first.
 */
export function normalizeToChw(image: RgbImage, out?: Float32Array, offset = 0): Float32Array {
  const plane = image.width * image.height;
  const dst = out ?? new Float32Array(3 * plane);
  if (dst.length < offset + 3 * plane) throw new RangeError('normalizeToChw: output array too small');
  const src = image.data;
  for (let i = 0, p = 0; i < plane; i++, p += 3) {
    dst[offset + i] = NORMALIZE_TABLE[src[p]!]!;
    dst[offset + plane + i] = NORMALIZE_TABLE[256 + src[p + 1]!]!;
    dst[offset + 2 * plane + i] = NORMALIZE_TABLE[512 + src[p + 2]!]!;
  }
  return dst;
}

/** One frame resized under `rule` with Pillow's bilinear filter (the reference's size transform). */
export function resizeFrame(image: RgbImage, rule: ResizeRule = YTVOS_RESIZE): RgbImage {
  const [h, w] = resizedSize(image.width, image.height, rule);
  return { width: w, height: h, data: resizeBilinearPil(image.data, image.width, image.height, 3, w, h) };
}

/** A clip ready for the model (batch of one). */
export interface PreprocessedVideo {
  /** [T, 1, 3, h, w] float32, ImageNet-normalised */
  video: Tensor;
  /** [T, 1, h, w] bool, true = padding (all false for a single video) */
  paddingMask: Tensor;
  /** (h, w) after resizing: the reference's `targets[t][0]['size']` */
  resizedSize: Size;
  /** (H0, W0) of the source frames */
  originalSize: Size;
}

/**
 * Builds the model input of one clip frame by frame, so the source frames can be dropped as soon
 * as they are added (only the normalised float32 clip is held). All frames must share one size.
 */
export class VideoInputBuilder {
  private data: Float32Array;
  private count = 0;
  private original: Size | null = null;
  private resized: Size | null = null;

  constructor(
    readonly rule: ResizeRule = YTVOS_RESIZE,
    private capacity = 16,
  ) {
    this.data = new Float32Array(0);
  }

  get length(): number {
    return this.count;
  }

  /** Resizes and normalises `image` and appends it; `name` only labels errors. */
  add(image: RgbImage, name = `frame ${this.count}`): void {
    if (this.original === null) {
      this.original = [image.height, image.width];
      this.resized = resizedSize(image.width, image.height, this.rule);
      this.data = new Float32Array(this.capacity * this.frameLength());
    } else if (image.height !== this.original[0] || image.width !== this.original[1]) {
      throw new UsageError(
        `${name} is ${image.width}x${image.height} but the clip's first frame is ${this.original[1]}x${this.original[0]}; all frames of a clip must have one size`,
      );
    }
    const [h, w] = this.resized!;
    const resized = image.width === w && image.height === h ? image : { width: w, height: h, data: resizeBilinearPil(image.data, image.width, image.height, 3, w, h) };
    const n = this.frameLength();
    if ((this.count + 1) * n > this.data.length) {
      this.capacity = Math.max(this.count + 1, this.capacity * 2);
      const grown = new Float32Array(this.capacity * n);
      grown.set(this.data.subarray(0, this.count * n));
      this.data = grown;
    }
    normalizeToChw(resized, this.data, this.count * n);
    this.count++;
  }

  private frameLength(): number {
    return 3 * this.resized![0] * this.resized![1];
  }

  /** The tensors of the clip (copies: the builder can be dropped or reused after `clear`). */
  build(): PreprocessedVideo {
    if (this.count === 0 || !this.resized || !this.original) throw new UsageError('no frames to preprocess');
    const [h, w] = this.resized;
    const T = this.count;
    const video = fromTypedArray(this.data.subarray(0, T * this.frameLength()), [T, 1, 3, h, w]);
    const paddingMask = zeros([T, 1, h, w], { dtype: 'bool' });
    return { video, paddingMask, resizedSize: this.resized, originalSize: this.original };
  }

  /** Forgets the frames (keeps the buffer for the next window of the same video). */
  clear(): void {
    this.count = 0;
  }
}

/** Resize + ToTensor + Normalize of a whole clip: the reference's evaluation pre-processing. */
export function preprocessVideo(frames: readonly RgbImage[], rule: ResizeRule = YTVOS_RESIZE): PreprocessedVideo {
  const builder = new VideoInputBuilder(rule, Math.max(frames.length, 1));
  frames.forEach((f, i) => builder.add(f, `frame ${i}`));
  return builder.build();
}

/** A padded batch: the reference's NestedTensor after its [B, T] → [T, B] transpose. */
export interface NestedVideos {
  /** [T, B, 3, H, W], zero in padded areas */
  tensors: Tensor;
  /** [T, B, H, W] bool, true = padding */
  mask: Tensor;
}

/**
 * `nested_tensor_from_videos_list`: videos [T_i, 3, h_i, w_i] zero-padded at the end of time and at
 * the bottom/right to the largest T, H and W; the mask is true wherever a video was padded.
 */
export function nestedTensorFromVideosList(videos: readonly Tensor[]): NestedVideos {
  if (videos.length === 0) throw new UsageError('no videos to batch');
  return tidy(() => {
    const T = Math.max(...videos.map((v) => v.shape[0]!));
    const H = Math.max(...videos.map((v) => v.shape[2]!));
    const W = Math.max(...videos.map((v) => v.shape[3]!));
    const padded: Tensor[] = [];
    const masks: Tensor[] = [];
    for (const v of videos) {
      if (v.ndim !== 4 || v.shape[1] !== 3) throw new RangeError(`nestedTensorFromVideosList: expected [T, 3, H, W], got [${v.shape}]`);
      const [t, , h, w] = v.shape as [number, number, number, number];
      const pads = [0, W - w, 0, H - h, 0, 0, 0, T - t];
      padded.push(F.pad(v, pads, 0));
      masks.push(F.pad(zeros([t, h, w]), pads.slice(0, 4).concat([0, T - t]), 1).to('bool'));
    }
    return { tensors: stack(padded, 1), mask: stack(masks, 1) };
  });
}
