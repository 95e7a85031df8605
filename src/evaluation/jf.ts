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

/**
 * J, the region similarity: |S∩A∖V| / |(S∪A)∖V|, and 1 when that union is empty.
 * @param gt annotation A
 * @param pred segmentation S
 * @param voidMask optional void pixels V, excluded from both counts
 */
export function jaccard(gt: Mask, pred: Mask, voidMask?: Mask): number {
  checkSameShape(gt, pred, 'jaccard');
  if (voidMask) checkSameShape(gt, voidMask, 'jaccard (void mask)');
  const a = gt.data;
  const s = pred.data;
  const v = voidMask?.data;
  let inter = 0;
  let union = 0;
  for (let i = 0; i < a.length; i++) {
    if (v && v[i]) continue;
    const ai = a[i] !== 0;
    const si = s[i] !== 0;
    if (ai || si) {
      union++;
      if (ai && si) inter++;
    }
  }
  return union === 0 ? 1 : inter / union;
}

/**
 * The 1-pixel boundary map of a mask (`_seg2bmap` at the mask's own size): a pixel is on the
 * boundary when it differs from its right, lower or lower-right neighbour (outside the image
 * counts as background), except that the last row only compares with the right neighbour, the
 * last column only with the lower one, and the bottom-right pixel is never a boundary.
 */
export function boundaryMap(m: Mask, voidMask?: Mask): Uint8Array {
  const { height: h, width: w } = m;
  const src = m.data;
  const vd = voidMask?.data;
  const fg = (i: number): number => (src[i] !== 0 && !(vd && vd[i]) ? 1 : 0);
  const seg = new Uint8Array(h * w);
  for (let i = 0; i < seg.length; i++) seg[i] = fg(i);
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

/**
 * For every pixel, the horizontal distance to the nearest set pixel of `map` in the same row
 * (a large value when the row has none). One forward and one backward pass per row.
 */
function rowDistances(map: Uint8Array, h: number, w: number): Int32Array {
  const far = 1 << 30;
  const d = new Int32Array(h * w);
  for (let y = 0; y < h; y++) {
    const row = y * w;
    let lastSeen = -far;
    for (let x = 0; x < w; x++) {
      if (map[row + x]) lastSeen = x;
      d[row + x] = x - lastSeen;
    }
    let nextSeen = far + w;
    for (let x = w - 1; x >= 0; x--) {
      if (map[row + x]) nextSeen = x;
      const r = nextSeen - x;
      if (r < d[row + x]!) d[row + x] = r;
    }
  }
  return d;
}

/**
 * Counts the set pixels of `points` that lie inside the dilation of `target` by a disk of radius
 * r — i.e. Σ(points ∧ cv2.dilate(target, disk(r))), with pixels outside the image contributing
 * nothing. Uses per-row nearest distances, so the cost is O(H·W + |points|·(2r+1)).
 */
function countWithinDisk(points: Uint8Array, target: Uint8Array, h: number, w: number, r: number): number {
  const dist = rowDistances(target, h, w);
  const hw = diskHalfWidths(r);
  let count = 0;
  for (let y = 0; y < h; y++) {
    const row = y * w;
    for (let x = 0; x < w; x++) {
      if (!points[row + x]) continue;
      const y0 = Math.max(0, y - r);
      const y1 = Math.min(h - 1, y + r);
      for (let yy = y0; yy <= y1; yy++) {
        if (dist[yy * w + x]! <= hw[Math.abs(yy - y)]!) {
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
    precision = countWithinDisk(predB, gtB, h, w, boundPix) / nPred;
    recall = countWithinDisk(gtB, predB, h, w, boundPix) / nGt;
  }
  const f = precision + recall === 0 ? 0 : (2 * precision * recall) / (precision + recall);
  return { f, precision, recall, predBoundary: nPred, gtBoundary: nGt, boundPix };
}

/** F, the boundary F-measure of `pred` against `gt` (see {@link boundaryScore}). */
export function boundaryF(gt: Mask, pred: Mask, voidMask?: Mask, boundTh = 0.008): number {
  return boundaryScore(gt, pred, voidMask, boundTh).f;
}
