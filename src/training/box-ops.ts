// Box utilities of the training losses and the matcher (reference `misc.py`): cxcywh → xyxy and
// the generalised IoU with the reference's +1e-6 terms, which keep the all-zero box of an
// invisible frame finite (IoU 1e-6/1e-6 = 1 against another empty box).

import { stack } from '../tensor/creation.js';
import type { Tensor } from '../tensor/tensor.js';

/** [..., 4] (cx, cy, w, h) → [..., 4] (x0, y0, x1, y1). */
export function boxCxcywhToXyxy(boxes: Tensor): Tensor {
  const [cx, cy, w, h] = boxes.unbind(-1) as [Tensor, Tensor, Tensor, Tensor];
  const hw = w.mul(0.5);
  const hh = h.mul(0.5);
  return stack([cx.sub(hw), cy.sub(hh), cx.add(hw), cy.add(hh)], -1);
}

/** [N, 4] xyxy → [N] areas. */
export function boxArea(boxes: Tensor): Tensor {
  return boxes.select(1, 2).sub(boxes.select(1, 0)).mul(boxes.select(1, 3).sub(boxes.select(1, 1)));
}

/** Pairwise IoU and union of [N, 4] and [M, 4] xyxy boxes → ([N, M], [N, M]); iou = (I + 1e-6)/(U + 1e-6). */
export function boxIou(a: Tensor, b: Tensor): { iou: Tensor; union: Tensor } {
  const areaA = boxArea(a);
  const areaB = boxArea(b);
  const lt = a.slice(1, 0, 2).unsqueeze(1).maximum(b.slice(1, 0, 2)); // [N, M, 2]
  const rb = a.slice(1, 2, 4).unsqueeze(1).minimum(b.slice(1, 2, 4));
  const wh = rb.sub(lt).clamp(0);
  const inter = wh.select(2, 0).mul(wh.select(2, 1));
  const union = areaA.unsqueeze(1).add(areaB).sub(inter);
  return { iou: inter.add(1e-6).div(union.add(1e-6)), union };
}

/**
 * Pairwise generalised IoU of [N, 4] and [M, 4] xyxy boxes → [N, M]:
 * iou − ((E − U) + 1e-6)/(E + 1e-6) with E the enclosing box's area.
 */
export function generalizedBoxIou(a: Tensor, b: Tensor): Tensor {
  const { iou, union } = boxIou(a, b);
  const lt = a.slice(1, 0, 2).unsqueeze(1).minimum(b.slice(1, 0, 2));
  const rb = a.slice(1, 2, 4).unsqueeze(1).maximum(b.slice(1, 2, 4));
  const wh = rb.sub(lt).clamp(0);
  const enclosing = wh.select(2, 0).mul(wh.select(2, 1));
  return iou.sub(enclosing.sub(union).add(1e-6).div(enclosing.add(1e-6)));
}
