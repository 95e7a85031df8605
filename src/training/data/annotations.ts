// Ground truth of one training clip before augmentation, built from label maps or binary masks as
// the reference's dataset modules build it (spec training.md §3): per frame the referred mask, its
// tight box with INCLUSIVE max pixel indices ([x_min, y_min, x_max, y_max], not +1), [0, 0, 0, 0]
// when the object is absent, and visibility decided on the original-size mask.

import { SocError } from '../../errors.js';
import type { Mask } from '../../data/types.js';

/** [x1, y1, x2, y2] in pixels. */
export type BoxXyxy = [number, number, number, number];

/** One annotated frame of a clip, at the original frame size. */
export interface RawFrameTarget {
  /** The referred object's binary mask (0/1); MeViS: the union of the referred objects. */
  mask: Mask;
  box: BoxXyxy;
  visible: boolean;
  /** Objects annotated anywhere in the clip: the length of the reference's `iscrowd` (unused by the losses). */
  numObjects: number;
  /** Category index per row (Ref-YouTube-VOS from meta.json, A2D 0); unused with one class. */
  labels?: number[];
  /** A2D: pixel area of every instance of the frame (the reference's RLE areas). */
  area?: number[];
  /** A2D / JHMDB: the COCO image id of the evaluation ground truth. */
  imageId?: string;
  caption?: string;
}

/** Tight box of the non-zero pixels, inclusive max indices; zeros for an empty mask. */
export function maskBox(mask: Mask): BoxXyxy {
  const { width, height, data } = mask;
  let x1 = width;
  let y1 = height;
  let x2 = -1;
  let y2 = -1;
  for (let y = 0; y < height; y++) {
    const row = y * width;
    for (let x = 0; x < width; x++) {
      if (data[row + x] === 0) continue;
      if (x < x1) x1 = x;
      if (x > x2) x2 = x;
      if (y < y1) y1 = y;
      y2 = y;
    }
  }
  return x2 < 0 ? [0, 0, 0, 0] : [x1, y1, x2, y2];
}

/** Binary mask of the pixels holding `label`. */
export function labelMask(labels: Mask, label: number): Mask {
  const data = new Uint8Array(labels.data.length);
  for (let i = 0; i < data.length; i++) data[i] = labels.data[i] === label ? 1 : 0;
  return { width: labels.width, height: labels.height, data };
}

/** Sorted distinct non-zero values over a set of label maps (the clip's object ids). */
export function objectLabels(labelMaps: readonly Mask[]): number[] {
  const seen = new Uint8Array(256);
  for (const m of labelMaps) for (let i = 0; i < m.data.length; i++) seen[m.data[i]!] = 1;
  const out: number[] = [];
  for (let v = 1; v < 256; v++) if (seen[v]) out.push(v);
  return out;
}

/**
 * The referred target of one frame from the per-object masks of the referred objects: their
 * union, and the box [min x1, min y1, max x2, max y2] over the per-object boxes — INCLUDING the
 * [0, 0, 0, 0] box of an object absent from this frame, so the top-left corner collapses to
 * (0, 0) whenever one of several referred objects is missing (MeViS, kept for parity). With one
 * object this is simply its mask and box.
 */
export function unionTarget(objectMasks: readonly Mask[], numObjects: number, labels?: number[]): RawFrameTarget {
  const first = objectMasks[0];
  if (!first) throw new SocError('a training target needs at least one referred object');
  const data = new Uint8Array(first.data.length);
  let box: BoxXyxy | null = null;
  for (const m of objectMasks) {
    for (let i = 0; i < data.length; i++) data[i]! |= m.data[i]!;
    const b = maskBox(m);
    box = box ? [Math.min(box[0], b[0]), Math.min(box[1], b[1]), Math.max(box[2], b[2]), Math.max(box[3], b[3])] : b;
  }
  const mask = { width: first.width, height: first.height, data };
  return { mask, box: box!, visible: data.some((v) => v !== 0), numObjects, ...(labels ? { labels } : {}) };
}

/**
 * Per-frame targets of a window from its label maps (pixel value = object label): the referred
 * labels' union per frame. Every referred label must occur somewhere in the window (the sample
 * lists only keep such windows; the reference fails on any other).
 */
export function windowTargetsFromLabels(labelMaps: readonly Mask[], referredLabels: readonly number[], what: string, labels?: number[]): RawFrameTarget[] {
  const present = objectLabels(labelMaps);
  for (const l of referredLabels) {
    if (!present.includes(l)) throw new SocError(`${what}: the referred object (label ${l}) appears in none of the window's annotation PNGs`);
  }
  return labelMaps.map((m) => unionTarget(referredLabels.map((l) => labelMask(m, l)), present.length, labels));
}
