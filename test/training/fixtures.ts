// Small synthetic decoder outputs and targets whose losses can be re-derived by hand: T = 2
// frames, B = 1 clip, Q = 3 queries; the object is absent from frame 1 (empty mask, zero box).
import * as torch from '../../src/tensor/index.js';
import type { ClipTargets, FrameTarget } from '../../src/training/targets.js';

export const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));
export type Box = [number, number, number, number];
export const xyxy = ([cx, cy, w, h]: Box): Box => [cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2];
export function giou(a: Box, b: Box): number {
  const [ax0, ay0, ax1, ay1] = xyxy(a);
  const [bx0, by0, bx1, by1] = xyxy(b);
  const inter = Math.max(0, Math.min(ax1, bx1) - Math.max(ax0, bx0)) * Math.max(0, Math.min(ay1, by1) - Math.max(ay0, by0));
  const union = (ax1 - ax0) * (ay1 - ay0) + (bx1 - bx0) * (by1 - by0) - inter;
  const encl = (Math.max(ax1, bx1) - Math.min(ax0, bx0)) * (Math.max(ay1, by1) - Math.min(ay0, by0));
  return (inter + 1e-6) / (union + 1e-6) - (encl - union + 1e-6) / (encl + 1e-6);
}
export function focalCost(x: number): number {
  const p = sigmoid(x);
  return 0.25 * (1 - p) ** 2 * -Math.log(p + 1e-8) - 0.75 * p ** 2 * -Math.log(1 - p + 1e-8);
}

/** A clip of T frames, one target row per frame; masks H×W. */
export function frame(mask: number[][], box: Box, visible: boolean): FrameTarget {
  const h = mask.length;
  const w = mask[0]!.length;
  return {
    masks: torch.tensor([mask.map((r) => r.map((v) => v === 1))]).keep(),
    boxes: torch.tensor([box], { dtype: 'float32' }).keep(),
    referredInstanceIdx: 0,
    isRefInstVisible: visible,
    size: [h, w],
    origSize: [h, w],
  };
}

// T = 2 frames, B = 1 clip, Q = 3 queries; frame 1 has no object (empty mask, zero box).
// Mask logits are constant per query, so the bilinear up-sampling (2×2 → 4×4) keeps them exact.
export const maskLogit = [
  [0.5, -1, 2],
  [0.3, 0.8, -0.4],
]; // [t][q]
export const clsLogit = [
  [-1, 0.5, 2],
  [0.2, -0.3, 1],
];
export const boxes: Box[][] = [
  [
    [0.5, 0.5, 0.4, 0.4],
    [0.3, 0.6, 0.2, 0.3],
    [0.55, 0.45, 0.5, 0.5],
  ],
  [
    [0.4, 0.4, 0.2, 0.2],
    [0.6, 0.5, 0.3, 0.1],
    [0.5, 0.5, 0.1, 0.1],
  ],
];
export const gtMask = [
  [1, 1, 0, 0],
  [1, 1, 0, 0],
  [0, 0, 0, 0],
  [0, 0, 0, 0],
];
export const empty = gtMask.map((r) => r.map(() => 0));
export const gtBoxes: Box[] = [
  [0.25, 0.25, 0.5, 0.5],
  [0, 0, 0, 0],
];
export const outputs = () => ({
  predMasks: torch.tensor(maskLogit.map((fr) => [fr.map((v) => [[v, v], [v, v]])]), { dtype: 'float32' }), // [2,1,3,2,2]
  predCls: torch.tensor(clsLogit.map((fr) => [fr.map((v) => [v])]), { dtype: 'float32' }), // [2,1,3,1]
  predBoxes: torch.tensor(boxes.map((fr) => [fr]), { dtype: 'float32' }), // [2,1,3,4]
  predLogit: torch.zeros([1, 3, 8]),
  textSentenceFeature: torch.zeros([1, 8]),
});
export const targets: ClipTargets = [[frame(gtMask, gtBoxes[0]!, true)], [frame(empty, gtBoxes[1]!, false)]];

