// Region (J) and boundary (F) similarity of binary masks, as the DAVIS-2017 toolkit shipped with the
// reference (davis2017/metrics.py: db_eval_iou, f_measure, _seg2bmap) computes them.
//
// Masks are Uint8Array [H, W] in row-major order; any non-zero value is foreground.

import { UsageError } from '../errors.js';

/** A binary mask: `data[y * width + x]`, non-zero = foreground. */
export interface Mask {
  data: Uint8Array;
  height: number;
  width: number;
}

/** Wraps a typed array as a mask after checking its size. */
export function mask(data: Uint8Array, height: number, width: number): Mask {
  if (data.length !== height * width) {
    throw new UsageError(`mask data has ${data.length} values but its shape is ${height}×${width}`);
  }
  return { data, height, width };
}

function checkSameShape(a: Mask, b: Mask, what: string): void {
  if (a.height !== b.height || a.width !== b.width) {
    throw new UsageError(`${what}: shapes differ (${a.height}×${a.width} vs ${b.height}×${b.width})`);
  }
}

/** |A∩B| and |A∪B| of two masks of one shape, not counting `voidMask` pixels. */
export function overlapCounts(a: Mask, b: Mask, voidMask?: Mask): { intersection: number; union: number } {
  checkSameShape(a, b, 'mask overlap');
  if (voidMask) checkSameShape(a, voidMask, 'mask overlap (void mask)');
  const ad = a.data;
  const bd = b.data;
  const v = voidMask?.data;
  let intersection = 0;
  let union = 0;
  for (let i = 0; i < ad.length; i++) {
    if (v && v[i]) continue;
    const ai = ad[i] !== 0;
    const bi = bd[i] !== 0;
    if (ai || bi) {
      union++;
      if (ai && bi) intersection++;
    }
  }
  return { intersection, union };
}

/**
 * J, the region similarity: |S∩A∖V| / |(S∪A)∖V|, and 1 when that union is empty.
 * @param gt annotation A
 * @param pred segmentation S
 * @param voidMask optional void pixels V, excluded from both counts
 */
export function jaccard(gt: Mask, pred: Mask, voidMask?: Mask): number {
  const { intersection, union } = overlapCounts(gt, pred, voidMask);
  return union === 0 ? 1 : intersection / union;
}

/**
 * The 1-pixel boundary map of a mask (`_seg2bmap` at the mask's own size; void pixels count as
 * background): a pixel is on the boundary when it differs from its right, lower or lower-right
 * neighbour. In the last row only the right neighbour is compared, in the last column only the
 * lower one, and the bottom-right pixel is never a boundary — so foreground touching the bottom or
 * right border has no boundary along it.
 */
export function boundaryMap(m: Mask, voidMask?: Mask): Uint8Array {
  const { height: h, width: w } = m;
  const src = m.data;
  const vd = voidMask?.data;
  const seg = new Uint8Array(h * w);
  if (vd) for (let i = 0; i < seg.length; i++) seg[i] = src[i] !== 0 && vd[i] === 0 ? 1 : 0;
  else for (let i = 0; i < seg.length; i++) seg[i] = src[i] !== 0 ? 1 : 0;
  const b = new Uint8Array(h * w);
  if (h === 0 || w === 0) return b;
  for (let y = 0; y < h - 1; y++) {
    const row = y * w;
    for (let x = 0; x < w - 1; x++) {
      const p = seg[row + x]!;
      b[row + x] = (p ^ seg[row + x + 1]!) | (p ^ seg[row + w + x]!) | (p ^ seg[row + w + x + 1]!);
    }
    // last column: only the pixel below counts
    b[row + w - 1] = seg[row + w - 1]! ^ seg[row + 2 * w - 1]!;
  }
  // last row: only the pixel to the right counts
  const last = (h - 1) * w;
  for (let x = 0; x < w - 1; x++) b[last + x] = seg[last + x]! ^ seg[last + x + 1]!;
  b[last + w - 1] = 0;
  return b;
}

/** Boundary tolerance in pixels: `bound_th` itself when ≥ 1, else ceil(bound_th · ‖(H, W)‖). */
export function boundaryTolerance(height: number, width: number, boundTh = 0.008): number {
  return boundTh >= 1 ? boundTh : Math.ceil(boundTh * Math.sqrt(height * height + width * width));
}

/**
 * For a disk of radius r (`skimage.morphology.disk`: offsets with dx² + dy² ≤ r²), the largest
 * |dx| allowed at each |dy| = 0..r.
 */
function diskHalfWidths(r: number): Int32Array {
  const hw = new Int32Array(r + 1);
  for (let dy = 0; dy <= r; dy++) {
    let dx = Math.floor(Math.sqrt(r * r - dy * dy));
    while (dx * dx + dy * dy > r * r) dx--;
    while ((dx + 1) * (dx + 1) + dy * dy <= r * r) dx++;
    hw[dy] = dx;
  }
  return hw;
}

/** The set pixels of a map, row by row: columns `xs[rowStart[y] .. rowStart[y+1])`, ascending. */
interface RowLists {
  rowStart: Int32Array;
  xs: Int32Array;
}

function rowLists(map: Uint8Array, h: number, w: number, count: number): RowLists {
  const rowStart = new Int32Array(h + 1);
  const xs = new Int32Array(count);
  let n = 0;
  for (let y = 0; y < h; y++) {
    rowStart[y] = n;
    const row = y * w;
    for (let x = 0; x < w; x++) if (map[row + x]) xs[n++] = x;
  }
  rowStart[h] = n;
  return { rowStart, xs };
}

/** Whether row y of `target` has a set pixel in columns [lo, hi] (binary search). */
function rowHasWithin(target: RowLists, y: number, lo: number, hi: number): boolean {
  let a = target.rowStart[y]!;
  let b = target.rowStart[y + 1]!;
  while (a < b) {
    const mid = (a + b) >>> 1;
    if (target.xs[mid]! < lo) a = mid + 1;
    else b = mid;
  }
  return a < target.rowStart[y + 1]! && target.xs[a]! <= hi;
}

/**
 * Counts the set pixels of `points` that lie inside the dilation of `target` by a disk of radius
 * r — i.e. Σ(points ∧ cv2.dilate(target, disk(r))), with pixels outside the image contributing
 * nothing — by looking, for each point, for a target pixel within the disk's half-width in each
 * of the 2r+1 rows around it.
 */
function countWithinDisk(points: RowLists, target: RowLists, h: number, r: number): number {
  const hw = diskHalfWidths(r);
  let count = 0;
  for (let y = 0; y < h; y++) {
    const y0 = Math.max(0, y - r);
    const y1 = Math.min(h - 1, y + r);
    for (let p = points.rowStart[y]!; p < points.rowStart[y + 1]!; p++) {
      const x = points.xs[p]!;
      for (let yy = y0; yy <= y1; yy++) {
        const half = hw[Math.abs(yy - y)]!;
        if (rowHasWithin(target, yy, x - half, x + half)) {
          count++;
          break;
        }
      }
    }
  }
  return count;
}

/** Boundary precision, recall and F-measure of one prediction against its ground truth. */
export interface BoundaryScore {
  f: number;
  precision: number;
  recall: number;
  /** Boundary pixels of the prediction / of the ground truth. */
  predBoundary: number;
  gtBoundary: number;
  /** Tolerance (disk radius) used, in pixels. */
  boundPix: number;
}

/**
 * F, the boundary F-measure (`f_measure(foreground=pred, gt)`): precision = fraction of predicted
 * boundary pixels within `boundPix` of a ground-truth boundary pixel, recall the other way round.
 * Empty boundaries: none predicted but some expected → P=1, R=0; the reverse → P=0, R=1;
 * both empty → P=R=1. F = 2PR/(P+R), or 0 when P+R = 0.
 */
export function boundaryScore(gt: Mask, pred: Mask, voidMask?: Mask, boundTh = 0.008): BoundaryScore {
  checkSameShape(gt, pred, 'boundary F');
  if (voidMask) checkSameShape(gt, voidMask, 'boundary F (void mask)');
  const { height: h, width: w } = gt;
  const boundPix = boundaryTolerance(h, w, boundTh);
  if (!Number.isInteger(boundPix)) {
    throw new UsageError(`boundary tolerance ${boundPix} px is not an integer (bound_th ≥ 1 must be a whole number of pixels)`);
  }
  const predB = boundaryMap(pred, voidMask);
  const gtB = boundaryMap(gt, voidMask);
  let nPred = 0;
  let nGt = 0;
  for (let i = 0; i < predB.length; i++) {
    nPred += predB[i]!;
    nGt += gtB[i]!;
  }
  let precision: number;
  let recall: number;
  if (nPred === 0 && nGt > 0) {
    precision = 1;
    recall = 0;
  } else if (nPred > 0 && nGt === 0) {
    precision = 0;
    recall = 1;
  } else if (nPred === 0 && nGt === 0) {
    precision = 1;
    recall = 1;
  } else {
    const predRows = rowLists(predB, h, w, nPred);
    const gtRows = rowLists(gtB, h, w, nGt);
    precision = countWithinDisk(predRows, gtRows, h, boundPix) / nPred;
    recall = countWithinDisk(gtRows, predRows, h, boundPix) / nGt;
  }
  const f = precision + recall === 0 ? 0 : (2 * precision * recall) / (precision + recall);
  return { f, precision, recall, predBoundary: nPred, gtBoundary: nGt, boundPix };
}

/** F, the boundary F-measure of `pred` against `gt` (see {@link boundaryScore}). */
export function boundaryF(gt: Mask, pred: Mask, voidMask?: Mask, boundTh = 0.008): number {
  return boundaryScore(gt, pred, voidMask, boundTh).f;
}
