// The video-level Hungarian matcher (reference `models/matcher.py`, spec training.md §5): one
// query per target trajectory across all T frames. It reads values (the assignment is solved on
// the CPU) and records no gradient, so it lives outside the model.
//
// Assignment solver: `linearSumAssignment` of src/evaluation/assignment.ts, a port of the
// shortest-augmenting-path algorithm scipy.optimize.linear_sum_assignment uses, validated there
// against scipy (ties included). No npm solver is installed, and with one target trajectory per
// clip the problem is an argmin whose tie-breaking must still be scipy's.

import { UsageError } from '../errors.js';
import { linearSumAssignment } from '../evaluation/assignment.js';
import type { SocLayerOutput } from '../models/soc/soc.js';
import * as F from '../nn/functional.js';
import { cdist, stack, tensor } from '../tensor/creation.js';
import { noGrad } from '../tensor/autograd.js';
import { tidy } from '../tensor/scope.js';
import type { Tensor } from '../tensor/tensor.js';
import { boxCxcywhToXyxy, generalizedBoxIou } from './box-ops.js';
import { type ClipTargets, padMasks, targetDims } from './targets.js';

/** Weights of the matching cost terms (reference `set_cost_*`); a zero weight skips the term. */
export interface MatcherCosts {
  /** text-similarity cost (0 in every config) */
  con: number;
  /** focal-style referred-class cost */
  cls: number;
  /** −dice of the mask trajectories */
  dice: number;
  /** L1 between cxcywh boxes */
  box: number;
  /** −GIoU */
  giou: number;
}

/** The reference's matcher weights (every SOC++ config). */
export const DEFAULT_MATCHER_COSTS: MatcherCosts = { con: 0, cls: 2, dice: 5, box: 2, giou: 2 };

/** Matched pairs of one clip: query[k] ↔ target[k] (target = row of the clip's masks), sorted by query. */
export interface ClipMatch {
  query: number[];
  target: number[];
}

/** The matching of one decoder level, with every cost matrix (rows b-major (clip, query), columns = all targets). */
export interface MatchResult {
  /** per clip */
  indices: ClipMatch[];
  /** [B·Q, ΣN] (A2D, T = 1: [B·Q, 1], broadcast over the columns) or null when its weight is 0 */
  costCls: Tensor | null;
  costBbox: Tensor | null;
  costGiou: Tensor | null;
  costDice: Tensor | null;
  costCon: Tensor | null;
  /** per clip b: [Q, N_b], the weighted total that the assignment solved (queries of b × targets of b) */
  C: Tensor[];
}

/** The decoder-level outputs the matcher reads. */
export type MatcherInputs = Pick<SocLayerOutput, 'predMasks' | 'predCls' | 'predBoxes' | 'predLogit' | 'textSentenceFeature'>;

export class HungarianMatcher {
  constructor(
    readonly costs: MatcherCosts = DEFAULT_MATCHER_COSTS,
    readonly numClasses = 1,
  ) {
    if (numClasses !== 1) throw new UsageError(`training supports num_classes = 1 only (got ${numClasses}); the reference's multi-class branch is dead code`);
  }

  /** Matches every clip's target trajectories to its queries; no gradient is recorded. */
  match(outputs: MatcherInputs, targets: ClipTargets): MatchResult {
    return noGrad(() =>
      tidy(() => {
        const [T, B, Q, h, w] = outputs.predMasks.shape as [number, number, number, number, number];
        const dims = targetDims(targets);
        if (dims.T !== T || dims.B !== B) throw new RangeError(`matcher: outputs have T=${T}, B=${B} but targets T=${dims.T}, B=${dims.B}`);
        const c = this.costs;

        // targets of every frame: all clips' rows concatenated, masks padded to the batch maximum
        const tgtMasks = padMasks(targets.flatMap((step) => step.map((t) => t.masks))); // [T·B, N, H, W]
        const perFrameMasks = targets.map((step, t) => {
          const rows = step.flatMap((tg, b) => Array.from({ length: tg.masks.shape[0]! }, (_, n) => tgtMasks.select(0, t * B + b).select(0, n)));
          return stack(rows); // [ΣN, H, W]
        });
        const tgtMasksT = stack(perFrameMasks); // [T, ΣN, H, W]
        const tgtBoxes = stack(targets.map((step) => stack(step.flatMap((tg) => tg.boxes.unbind(0))))); // [T, ΣN, 4]
        const [H, W] = tgtMasksT.shape.slice(-2) as [number, number];

        const costCon = c.con > 0 ? textReferCost(outputs) : null;
        const costCls = c.cls > 0 ? referredClassCost(outputs.predCls, targets) : null;
        const costBbox = c.box > 0 ? cdist(outputs.predBoxes.flatten(1, 2), tgtBoxes, 1).mean(0) : null;
        const costGiou = c.giou > 0 ? giouCost(outputs.predBoxes.flatten(1, 2), tgtBoxes) : null;
        let costDice: Tensor | null = null;
        if (c.dice > 0) {
          const up = F.interpolate(outputs.predMasks.reshape(T, B * Q, h, w), { size: [H, W], mode: 'bilinear', alignCorners: false });
          costDice = diceCoefficient(up, tgtMasksT).neg();
        }

        // C = con·w + cls·w + dice·w + box·w + giou·w, summed in the reference's order
        let total: Tensor | null = null;
        const add = (term: Tensor | null, weight: number) => {
          if (!term) return;
          const weighted = term.mul(weight);
          total = total ? total.add(weighted) : weighted;
        };
        add(costCon, c.con);
        add(costCls, c.cls);
        add(costDice, c.dice);
        add(costBbox, c.box);
        add(costGiou, c.giou);
        if (!total) throw new UsageError('matcher: every cost weight is 0');
        const nTotal = tgtBoxes.shape[1]!;
        const full = (total as Tensor).expand(B * Q, nTotal).reshape(B, Q, nTotal); // [B, Q, ΣN]

        const counts = targets[0]!.map((t) => t.masks.shape[0]!);
        const indices: ClipMatch[] = [];
        const C: Tensor[] = [];
        let start = 0;
        counts.forEach((n, b) => {
          const slice = full.select(0, b).narrow(1, start, n).contiguous(); // [Q, N_b]
          start += n;
          C.push(slice);
          indices.push(assignQueries(slice));
        });
        return { indices, costCls, costBbox, costGiou, costDice, costCon, C };
      }),
    );
  }
}

/**
 * Minimum-cost assignment of a clip's [Q, N] cost matrix (scipy's linear_sum_assignment on the
 * float32 values, ties broken as scipy does): min(Q, N) pairs sorted by query.
 */
export function assignQueries(cost: Tensor): ClipMatch {
  const [Q, N] = cost.shape as [number, number];
  const values = tidy(() => Float64Array.from(cost.to('float32').contiguous().toTypedArray() as Float32Array));
  const { rows, cols } = linearSumAssignment(values, Q, N);
  return { query: Array.from(rows), target: Array.from(cols) };
}

/**
 * Dice coefficient of every (query, target) pair, averaged over frames (reference dice_coef):
 * logits [T, P, H, W], targets [T, N, H, W] (0/1) → [P, N] of mean_t (2Σpg + 1)/(Σp + Σg + 1).
 */
export function diceCoefficient(logits: Tensor, targets: Tensor, smooth = 1): Tensor {
  const p = logits.sigmoid().flatten(2).unsqueeze(2); // [T, P, 1, HW]
  const g = targets.flatten(2).unsqueeze(1); // [T, 1, N, HW]
  const numerator = p.mul(g).sum(-1).mul(2); // [T, P, N]
  const denominator = p.sum(-1).add(g.sum(-1));
  return numerator.add(smooth).div(denominator.add(smooth)).mean(0);
}

/** Focal-style class cost per (frame, query) → pos − neg, [T, P] for class 0 (reference compute_label_cost). */
function focalClassCost(predCls: Tensor, alpha = 0.25, gamma = 2): Tensor {
  const p = predCls.sigmoid().flatten(1, 2).select(2, 0); // [T, B·Q]
  const neg = p.pow(gamma).mul(1 - alpha).mul(p.rsub(1).add(1e-8).log().neg());
  const pos = p.rsub(1).pow(gamma).mul(alpha).mul(p.add(1e-8).log().neg());
  return pos.sub(neg);
}

/**
 * Class cost [B·Q, B]: for clip b, the focal cost averaged over the frames where b's target is
 * visible (video datasets), or over the single frame regardless of visibility when T = 1 (A2D),
 * which gives one column [B·Q, 1] shared by every clip, as in the reference.
 */
export function referredClassCost(predCls: Tensor, targets: ClipTargets): Tensor {
  const cost = focalClassCost(predCls); // [T, B·Q]
  const T = cost.shape[0]!;
  if (T === 1) return cost.mean(0).unsqueeze(1);
  const B = targets[0]!.length;
  const columns: Tensor[] = [];
  for (let b = 0; b < B; b++) {
    const visible = targets.map((step, t) => (step[b]!.isRefInstVisible ? t : -1)).filter((t) => t >= 0);
    // The reference's window sampler keeps a window only if the object appears in it.
    if (visible.length === 0) throw new UsageError(`matcher: the target of clip ${b} is visible in none of the ${T} frames`);
    columns.push(cost.indexSelect(0, tensor(visible, { dtype: 'int64' })).mean(0));
  }
  return stack(columns, -1);
}

/** −GIoU of every (query, target) box pair per frame, averaged over frames: [T, P, 4], [T, N, 4] → [P, N]. */
function giouCost(pred: Tensor, target: Tensor): Tensor {
  const perFrame = pred.unbind(0).map((p, t) => generalizedBoxIou(boxCxcywhToXyxy(p), boxCxcywhToXyxy(target.select(0, t))).neg());
  return stack(perFrame).mean(0);
}

/** −softmax over the video queries of (pred_logit · text) → [B·Nv, 1] (reference text_refer_cost; weight 0 in every config). */
function textReferCost(outputs: MatcherInputs): Tensor {
  const sim = outputs.predLogit.matmul(outputs.textSentenceFeature.unsqueeze(1).transpose(1, 2)); // [B, Nv, 1]
  return sim.squeeze(-1).softmax(-1).unsqueeze(2).flatten(0, 1).neg();
}
