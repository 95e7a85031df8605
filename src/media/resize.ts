// Frame and mask resizing that reproduces the reference bit for bit.
//
// Frames: the reference resizes PIL images with `Image.resize((w, h), BILINEAR)`. That is not the
// textbook 2-tap bilinear of sharp/libvips or F.interpolate: when shrinking, Pillow widens the
// triangle filter by the scale factor (antialiasing), turns the normalised weights into 22-bit
// fixed-point integers and keeps an 8-bit intermediate image between its horizontal and vertical
// passes. No library available to us does exactly that, so it is written out here, following
// Pillow's libImaging/Resample.c (the algorithm, not the code).
//
// Masks: the reference resizes target masks with PyTorch's legacy "nearest" interpolation
// (src = min(⌊dst · float32(in/out)⌋, in − 1)), reproduced in float32 arithmetic below.

import type { Mask, RgbImage } from '../data/types.js';

/** Pillow's fixed-point precision for 8-bit images: 32 bits − 8 for the value − 2 for overflow. */
const PRECISION_BITS = 22;
const ONE = 1 << PRECISION_BITS;
const HALF = 1 << (PRECISION_BITS - 1);

/**
 * The taps of a 1-D resampling: for output sample i, `count[i]` input samples starting at
 * `start[i]` are weighted by `weights[i · kernelSize + j]` (fixed point, sum ≈ 2^22).
 */
export interface ResampleTaps {
  start: Int32Array;
  count: Int32Array;
  kernelSize: number;
  weights: Int32Array;
}

function triangle(x: number): number {
  const a = x < 0 ? -x : x;
  return a < 1 ? 1 - a : 0;
}

/**
 * Fixed-point weights of Pillow's BILINEAR (triangle, support 1) filter mapping `inSize` samples
 * onto `outSize`, for the whole input range (Pillow's default box).
 */
export function pilBilinearTaps(inSize: number, outSize: number): ResampleTaps {
  // Pillow computes in double from float box edges; 0 and inSize are exact in float32.
  const scale = inSize / outSize;
  const filterScale = Math.max(scale, 1);
  const support = 1 * filterScale;
  const kernelSize = Math.ceil(support) * 2 + 1;
  const invFilterScale = 1 / filterScale;
  const start = new Int32Array(outSize);
  const count = new Int32Array(outSize);
  const weights = new Int32Array(outSize * kernelSize);
  const raw = new Float64Array(kernelSize);
  for (let i = 0; i < outSize; i++) {
    const center = (i + 0.5) * scale;
    // C's (int) cast truncates toward zero.
    const first = Math.max(Math.trunc(center - support + 0.5), 0);
    const n = Math.min(Math.trunc(center + support + 0.5), inSize) - first;
    let total = 0;
    for (let j = 0; j < n; j++) {
      const w = triangle((j + first - center + 0.5) * invFilterScale);
      raw[j] = w;
      total += w;
    }
    for (let j = 0; j < n; j++) {
      const w = total !== 0 ? raw[j]! / total : raw[j]!;
      // Round half away from zero, then truncate, as Pillow converts to fixed point.
      weights[i * kernelSize + j] = w < 0 ? Math.trunc(-0.5 + w * ONE) : Math.trunc(0.5 + w * ONE);
    }
    start[i] = first;
    count[i] = n;
  }
  return { start, count, kernelSize, weights };
}

/** Fixed-point accumulator → uint8: arithmetic shift, then clamp to [0, 255] (Pillow's clip8). */
function clip8(acc: number): number {
  const v = acc >> PRECISION_BITS;
  return v < 0 ? 0 : v > 255 ? 255 : v;
}

/**
 * The taps laid out for speed: every output gets `width` (a multiple of 4) entries, the unused ones
 * with weight 0 and a valid index, so the loops below can sum four taps per step with no bounds
 * checks. Weights are non-negative for BILINEAR and every partial sum stays below 2^31 (as Pillow's
 * int sums do), so int32 arithmetic is exact.
 */
interface PaddedTaps {
  width: number;
  index: Int32Array;
  weight: Int32Array;
}

function padTaps(taps: ResampleTaps): PaddedTaps {
  const outSize = taps.start.length;
  const width = Math.max(4, Math.ceil(Math.max(...taps.count) / 4) * 4);
  const index = new Int32Array(outSize * width);
  const weight = new Int32Array(outSize * width);
  for (let i = 0; i < outSize; i++) {
    for (let j = 0; j < width; j++) {
      const used = j < taps.count[i]!;
      index[i * width + j] = taps.start[i]! + (used ? j : 0);
      weight[i * width + j] = used ? taps.weights[i * taps.kernelSize + j]! : 0;
    }
  }
  return { width, index, weight };
}

/**
 * Resizes interleaved uint8 pixels (`channels` per pixel, row-major) exactly as Pillow's
 * `Image.resize((outWidth, outHeight), Image.BILINEAR)` does for "L"/"RGB" images.
 */
export function resizeBilinearPil(
  pixels: Uint8Array,
  width: number,
  height: number,
  channels: number,
  outWidth: number,
  outHeight: number,
): Uint8Array {
  if (pixels.length !== width * height * channels) {
    throw new RangeError(`resizeBilinearPil: ${pixels.length} bytes for a ${width}x${height}x${channels} image`);
  }
  if (!(outWidth >= 1 && outHeight >= 1 && Number.isInteger(outWidth) && Number.isInteger(outHeight))) {
    throw new RangeError(`resizeBilinearPil: invalid output size ${outWidth}x${outHeight}`);
  }
  if (outWidth === width && outHeight === height) return pixels.slice();

  const vertical = pilBilinearTaps(height, outHeight);
  // Only the input rows the vertical pass reads go through the horizontal pass (as Pillow does).
  const firstRow = vertical.start[0]!;
  const lastRow = vertical.start[outHeight - 1]! + vertical.count[outHeight - 1]!;

  let src = pixels;
  let srcWidth = width;
  let rowOffset = 0;
  if (outWidth !== width) {
    const rows = lastRow - firstRow;
    const taps = padTaps(pilBilinearTaps(width, outWidth));
    src = channels === 3 ? horizontalPassRgb(pixels, width, firstRow, rows, taps) : horizontalPass(pixels, width, channels, firstRow, rows, taps);
    srcWidth = outWidth;
    rowOffset = firstRow;
  }
  if (outHeight === height) return src;
  return verticalPass(src, srcWidth * channels, rowOffset, padTaps(vertical));
}

/** Resamples rows [firstRow, firstRow + rows) of an RGB image along x; the result has `rows` rows. */
function horizontalPassRgb(pixels: Uint8Array, width: number, firstRow: number, rows: number, taps: PaddedTaps): Uint8Array {
  const { width: K, index, weight } = taps;
  const outWidth = index.length / K;
  const out = new Uint8Array(outWidth * rows * 3);
  let o = 0;
  for (let y = 0; y < rows; y++) {
    const rowBase = (y + firstRow) * width * 3;
    for (let x = 0; x < outWidth; x++) {
      let r = HALF;
      let g = HALF;
      let b = HALF;
      for (let j = x * K, end = j + K; j < end; j += 4) {
        const p0 = rowBase + index[j]! * 3;
        const p1 = rowBase + index[j + 1]! * 3;
        const p2 = rowBase + index[j + 2]! * 3;
        const p3 = rowBase + index[j + 3]! * 3;
        const k0 = weight[j]!;
        const k1 = weight[j + 1]!;
        const k2 = weight[j + 2]!;
        const k3 = weight[j + 3]!;
        r = (r + Math.imul(pixels[p0]!, k0) + Math.imul(pixels[p1]!, k1) + Math.imul(pixels[p2]!, k2) + Math.imul(pixels[p3]!, k3)) | 0;
        g = (g + Math.imul(pixels[p0 + 1]!, k0) + Math.imul(pixels[p1 + 1]!, k1) + Math.imul(pixels[p2 + 1]!, k2) + Math.imul(pixels[p3 + 1]!, k3)) | 0;
        b = (b + Math.imul(pixels[p0 + 2]!, k0) + Math.imul(pixels[p1 + 2]!, k1) + Math.imul(pixels[p2 + 2]!, k2) + Math.imul(pixels[p3 + 2]!, k3)) | 0;
      }
      out[o++] = clip8(r);
      out[o++] = clip8(g);
      out[o++] = clip8(b);
    }
  }
  return out;
}

/** The same for any number of channels (grayscale masks, RGBA …), one channel at a time. */
function horizontalPass(pixels: Uint8Array, width: number, channels: number, firstRow: number, rows: number, taps: PaddedTaps): Uint8Array {
  const { width: K, index, weight } = taps;
  const outWidth = index.length / K;
  const out = new Uint8Array(outWidth * rows * channels);
  for (let y = 0; y < rows; y++) {
    const rowBase = (y + firstRow) * width * channels;
    for (let x = 0; x < outWidth; x++) {
      for (let c = 0; c < channels; c++) {
        let acc = HALF;
        for (let j = x * K, end = j + K; j < end; j++) acc = (acc + Math.imul(pixels[rowBase + index[j]! * channels + c]!, weight[j]!)) | 0;
        out[(y * outWidth + x) * channels + c] = clip8(acc);
      }
    }
  }
  return out;
}

/**
 * Resamples along y; `rowOffset` is the input image row held in row 0 of `pixels`. Four source rows
 * are summed per sweep along the output row; wider kernels (strong shrinking) add into `acc`.
 */
function verticalPass(pixels: Uint8Array, rowLen: number, rowOffset: number, taps: PaddedTaps): Uint8Array {
  const { width: K, index, weight } = taps;
  const outHeight = index.length / K;
  const out = new Uint8Array(rowLen * outHeight);
  const acc = new Int32Array(K > 4 ? rowLen : 0);
  for (let y = 0; y < outHeight; y++) {
    const o = y * rowLen;
    for (let j = y * K, end = j + K; j < end; j += 4) {
      const b0 = (index[j]! - rowOffset) * rowLen;
      const b1 = (index[j + 1]! - rowOffset) * rowLen;
      const b2 = (index[j + 2]! - rowOffset) * rowLen;
      const b3 = (index[j + 3]! - rowOffset) * rowLen;
      const k0 = weight[j]!;
      const k1 = weight[j + 1]!;
      const k2 = weight[j + 2]!;
      const k3 = weight[j + 3]!;
      const first = j === y * K;
      const last = j + 4 === end;
      for (let i = 0; i < rowLen; i++) {
        const s = ((first ? HALF : acc[i]!) + Math.imul(pixels[b0 + i]!, k0) + Math.imul(pixels[b1 + i]!, k1) + Math.imul(pixels[b2 + i]!, k2) + Math.imul(pixels[b3 + i]!, k3)) | 0;
        if (last) out[o + i] = clip8(s);
        else acc[i] = s;
      }
    }
  }
  return out;
}

/** An RGB frame resized as PIL's `img.resize((width, height), Image.BILINEAR)` would. */
export function resizeRgbPil(image: RgbImage, width: number, height: number): RgbImage {
  return { width, height, data: resizeBilinearPil(image.data, image.width, image.height, 3, width, height) };
}

/** Source index of each output sample under PyTorch's legacy nearest interpolation (by size). */
export function torchNearestIndices(inSize: number, outSize: number): Int32Array {
  const idx = new Int32Array(outSize);
  if (outSize === inSize) {
    for (let i = 0; i < outSize; i++) idx[i] = i;
  } else if (outSize === 2 * inSize) {
    for (let i = 0; i < outSize; i++) idx[i] = i >> 1;
  } else {
    const scale = Math.fround(inSize / outSize);
    for (let i = 0; i < outSize; i++) idx[i] = Math.min(Math.floor(Math.fround(i * scale)), inSize - 1);
  }
  return idx;
}

/**
 * A mask (or label map) resized with PyTorch's legacy nearest rule, as
 * `F.interpolate(mask[None, None].float(), (height, width), mode='nearest')` does.
 */
export function resizeMaskNearest(mask: Mask, width: number, height: number): Mask {
  const xs = torchNearestIndices(mask.width, width);
  const ys = torchNearestIndices(mask.height, height);
  const data = new Uint8Array(width * height);
  for (let y = 0; y < height; y++) {
    const row = ys[y]! * mask.width;
    for (let x = 0; x < width; x++) data[y * width + x] = mask.data[row + xs[x]!]!;
  }
  return { width, height, data };
}
