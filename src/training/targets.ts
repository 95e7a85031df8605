// Training targets in the reference's structure (spec training.md §3): the collator yields a list
// over time of tuples over the batch, `targets[t][b]`, each a dict for one frame of one clip.
// A2D-Sentences has a target only for the annotated frame; the trainer then passes the model
// `validIndices` and a one-frame list, so T = 1 from the model on.

import { zeros } from '../tensor/creation.js';
import type { Tensor } from '../tensor/tensor.js';

/** One frame of one clip. */
export interface FrameTarget {
  /** [N, h, w] bool: the referred object's mask (MeViS: the union of the referred objects); N = 1 in every dataset */
  masks: Tensor;
  /** [N, 4] float32 normalised (cx, cy, w, h); [0, 0, 0, 0] when the object is absent ([1, 0, 0, 0] after a flip) */
  boxes: Tensor;
  /** Row of masks/boxes holding the referred object (always 0). */
  referredInstanceIdx: number;
  /** Whether the referred object is visible in this frame (decided on the original-size mask). */
  isRefInstVisible: boolean;
  /** (h, w) of the resized, unpadded frame. The model reads it from targets[0][b] (dynamic mask head). */
  size: [number, number];
  /** (h, w) of the original frame. */
  origSize: [number, number];
  /** Category index per row of masks (Ref-YouTube-VOS, A2D); used only when num_classes > 1. */
  labels?: number[];
  /** [n_objects] float32 zeros (all objects of the clip); unused by the losses. */
  iscrowd?: Tensor;
  /** A2D: [n_instances] float64 RLE areas. */
  area?: Tensor;
  /** A2D: "v_<video>_f_<frame>_i_<instance>". */
  imageId?: string;
  caption?: string;
}

/** targets[t][b]: the collated targets of a batch of clips, time outer. */
export type ClipTargets = FrameTarget[][];

/** T and B of collated targets (every time step must hold the same number of clips). */
export function targetDims(targets: ClipTargets): { T: number; B: number } {
  const T = targets.length;
  if (T === 0) throw new RangeError('targets: empty list of time steps');
  const B = targets[0]!.length;
  if (B === 0 || targets.some((step) => step.length !== B)) throw new RangeError('targets: every time step must hold the same number of clips (targets[t][b])');
  return { T, B };
}

/**
 * Zero-pads [N_i, h_i, w_i] masks to the largest N, h, w (reference nested_tensor_from_tensor_list,
 * whose padding counts as background in the losses) → [len, N, H, W] float32.
 */
export function padMasks(masks: readonly Tensor[]): Tensor {
  const shapes = masks.map((m) => m.shape);
  const n = Math.max(...shapes.map((s) => s[0]!));
  const h = Math.max(...shapes.map((s) => s[1]!));
  const w = Math.max(...shapes.map((s) => s[2]!));
  const out = zeros([masks.length, n, h, w]);
  masks.forEach((m, i) => {
    const [mn, mh, mw] = m.shape as [number, number, number];
    out.select(0, i).narrow(0, 0, mn).narrow(1, 0, mh).narrow(2, 0, mw).copy_(m);
  });
  return out;
}
