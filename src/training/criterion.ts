// SetCriterion (reference `models/criterion.py`, spec training.md §6): matches every decoder level
// on its own, then computes the six losses of that level. The quirks the reference has, and this
// keeps (fixture README "Semantics" 4–10):
//   - after matching, masks/boxes and targets are flattened over (t, b) with t OUTER (t·B + b) and
//     the per-clip matches repeat for every frame;
//   - num_masks = Σ rows of every (t, b) target = T·B, invisible frames included (they are empty
//     targets in both mask losses and zero boxes in both box losses);
//   - loss_cls marks the matched query positive only in frames where the object is visible;
//   - loss_con indexes the VIDEO queries with the FRAME-query index the matcher chose, divides the
//     video queries by their width C, and is not normalised by num_masks.

import { z } from 'zod';
import { UsageError } from '../errors.js';
import type { SocConfig } from '../models/soc/config.js';
import type { SocLayerOutput, SocOutput } from '../models/soc/soc.js';
import * as F from '../nn/functional.js';
import { diag, fromTypedArray, stack, tensor } from '../tensor/creation.js';
import { tidy } from '../tensor/scope.js';
import type { Tensor } from '../tensor/tensor.js';
import { boxCxcywhToXyxy, generalizedBoxIou } from './box-ops.js';
import { type ClipMatch, HungarianMatcher, type MatchResult } from './matcher.js';
import { type ClipTargets, type FrameTarget, padMasks, targetDims } from './targets.js';

/** The six loss terms of one decoder level, in the order the reference's loss dict holds them. */
export const LOSS_NAMES = ['loss_sigmoid_focal', 'loss_dice', 'loss_con', 'loss_cls', 'loss_bbox', 'loss_giou'] as const;
export type LossName = (typeof LOSS_NAMES)[number];

/**
 * The matcher and loss coefficients, under the reference's YAML names, with its values
 * (identical in every SOC++ config) as defaults.
 */
export const LossConfigSchema = z.object({
  set_cost_con: z.number().min(0).default(0),
  set_cost_cls: z.number().min(0).default(2),
  set_cost_dice: z.number().min(0).default(5),
  set_costs_box: z.number().min(0).default(2),
  set_costs_giou: z.number().min(0).default(2),
  con_loss_coef: z.number().min(0).default(1),
  dice_loss_coef: z.number().min(0).default(5),
  sigmoid_focal_loss_coef: z.number().min(0).default(2),
  class_loss_coef: z.number().min(0).default(2),
  box_loss_coef: z.number().min(0).default(2),
  giou_coef: z.number().min(0).default(2),
  eos_coef: z.number().min(0).default(0.1),
});
export type LossConfig = z.infer<typeof LossConfigSchema>;

/** Weight of every loss key: the six terms, then the same with `_0`, `_1` … per auxiliary level. */
export function weightDictOf(lc: LossConfig, auxLevels: number): Map<string, number> {
  const base: [LossName, number][] = [
    ['loss_con', lc.con_loss_coef],
    ['loss_dice', lc.dice_loss_coef],
    ['loss_sigmoid_focal', lc.sigmoid_focal_loss_coef],
    ['loss_cls', lc.class_loss_coef],
    ['loss_bbox', lc.box_loss_coef],
    ['loss_giou', lc.giou_coef],
  ];
  const out = new Map<string, number>(base);
  for (let i = 0; i < auxLevels; i++) for (const [k, v] of base) out.set(`${k}_${i}`, v);
  return out;
}

/** The matcher and criterion a model config trains with (reference models/soc.py build). */
export function buildCriterion(config: SocConfig): SetCriterion {
  const parsed = LossConfigSchema.safeParse(config);
  if (!parsed.success) throw new UsageError(`invalid loss configuration: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  const lc = parsed.data;
  const matcher = new HungarianMatcher({ con: lc.set_cost_con, cls: lc.set_cost_cls, dice: lc.set_cost_dice, box: lc.set_costs_box, giou: lc.set_costs_giou }, config.num_classes);
  const aux = config.aux_loss ? config.DeformTransformer.dec_layers - 1 : 0;
  return new SetCriterion(matcher, weightDictOf(lc, aux), { eosCoef: lc.eos_coef, numClasses: config.num_classes });
}

/** The losses of one decoder level. */
export interface CriterionLevel {
  /** '' for the last decoder level, '_0', '_1' … for the auxiliary levels */
  suffix: string;
  match: MatchResult;
  numMasks: number;
  /** [B, T·Q, 1] the loss_cls target (1 at t·Q + q* in visible frames) */
  clsTarget: Tensor | null;
  /** [T·B·n, H, W] the matched queries' mask logits after up-sampling to the padded target size */
  maskLogits: Tensor | null;
}

export interface CriterionOutput {
  /** every loss term (the reference's loss_dict), main level first, then aux levels with suffixes */
  losses: Map<string, Tensor>;
  /** loss × weight for every key of the weight dict */
  weighted: Map<string, Tensor>;
  /** Σ weighted in loss-dict order (the value the trainer back-propagates) */
  total: Tensor;
  levels: CriterionLevel[];
}

type LossGroup = 'masks' | 'loss_con' | 'loss_cls' | 'boxes';

export class SetCriterion {
  /** The loss groups with a non-zero weight, in the reference's order. */
  readonly lossGroups: LossGroup[];
  readonly eosCoef: number;
  readonly numClasses: number;

  constructor(
    readonly matcher: HungarianMatcher,
    readonly weightDict: ReadonlyMap<string, number>,
    o: { eosCoef?: number; numClasses?: number } = {},
  ) {
    this.eosCoef = o.eosCoef ?? 0.1;
    this.numClasses = o.numClasses ?? 1;
    if (this.numClasses !== 1) throw new UsageError(`training supports num_classes = 1 only (got ${this.numClasses})`);
    const w = (k: LossName) => weightDict.get(k) ?? 0;
    const groups: LossGroup[] = [];
    if (w('loss_dice') > 0 || w('loss_sigmoid_focal') > 0) groups.push('masks');
    if (w('loss_con') > 0) groups.push('loss_con');
    if (w('loss_cls') > 0) groups.push('loss_cls');
    if (w('loss_bbox') > 0 || w('loss_giou') > 0) groups.push('boxes');
    this.lossGroups = groups;
  }

  /** Losses of the final level and of every auxiliary level, and their weighted sum. */
  forward(outputs: SocOutput, targets: ClipTargets): CriterionOutput {
    return tidy(() => {
      const losses = new Map<string, Tensor>();
      const levels: CriterionLevel[] = [];
      const levelOutputs: [SocLayerOutput, string][] = [[outputs, ''], ...outputs.auxOutputs.map((o, i): [SocLayerOutput, string] => [o, `_${i}`])];
      for (const [out, suffix] of levelOutputs) {
        const r = this.levelLosses(out, targets);
        for (const [k, v] of r.losses) losses.set(k + suffix, v);
        levels.push({ suffix, match: r.match, numMasks: r.numMasks, clsTarget: r.clsTarget, maskLogits: r.maskLogits });
      }
      const weighted = new Map<string, Tensor>();
      let total: Tensor | null = null;
      for (const [k, v] of losses) {
        const wk = this.weightDict.get(k);
        if (wk === undefined) continue;
        const term = v.mul(wk);
        weighted.set(k, term);
        total = total ? total.add(term) : term;
      }
      if (!total) throw new UsageError('criterion: no loss has a weight');
      return { losses, weighted, total, levels };
    });
  }

  /** Matching and the losses of one decoder level (keys without suffix). */
  levelLosses(out: SocLayerOutput, targets: ClipTargets): { losses: Map<string, Tensor>; match: MatchResult; numMasks: number; clsTarget: Tensor | null; maskLogits: Tensor | null } {
    return tidy(() => {
      const match = this.matcher.match(out, targets);
      const { T, B } = targetDims(targets);
      const flat = targets.flat(); // index t·B + b
      // One process: the all-reduce and the division by the world size are identities.
      const numMasks = Math.max(
        flat.reduce((s, t) => s + t.masks.shape[0]!, 0),
        1,
      );
      const pairs = matchedPairs(match.indices, T, B);
      const losses = new Map<string, Tensor>();
      let clsTarget: Tensor | null = null;
      let maskLogits: Tensor | null = null;
      for (const group of this.lossGroups) {
        if (group === 'masks') {
          const r = maskLosses(out.predMasks, flat, pairs, numMasks);
          losses.set('loss_sigmoid_focal', r.focal);
          losses.set('loss_dice', r.dice);
          maskLogits = r.logits;
        } else if (group === 'loss_con') {
          losses.set('loss_con', this.contrastiveLoss(out, targets, match.indices));
        } else if (group === 'loss_cls') {
          const r = referredClassLoss(out.predCls, targets, match.indices, numMasks);
          losses.set('loss_cls', r.loss);
          clsTarget = r.target;
        } else {
          const r = boxLosses(out.predBoxes, flat, pairs, numMasks);
          losses.set('loss_bbox', r.l1);
          losses.set('loss_giou', r.giou);
        }
      }
      return { losses, match, numMasks, clsTarget, maskLogits };
    });
  }

  /**
   * Video-level contrastive loss: s = (pred_logit / C) · text → [B, Nv];
   * −mean_b log_softmax(s_b)[q*_b] with q*_b the matched FRAME query of clip b. The eos weights
   * multiply entries whose target is 0, so they change nothing; kept for the same rounding.
   */
  private contrastiveLoss(out: SocLayerOutput, targets: ClipTargets, indices: ClipMatch[]): Tensor {
    const [B, Nv, C] = out.predLogit.shape as [number, number, number];
    const sim = out.predLogit.div(C).matmul(out.textSentenceFeature.unsqueeze(1).transpose(1, 2)).squeeze(-1); // [B, Nv]
    const gt = new Float32Array(B * Nv);
    const eos = new Float32Array(B * Nv).fill(this.eosCoef);
    indices.forEach((m, b) => {
      const ref = targets[0]![b]!.referredInstanceIdx;
      m.target.forEach((tgt, k) => {
        if (tgt !== ref) return;
        gt[b * Nv + m.query[k]!] = 1;
        eos[b * Nv + m.query[k]!] = 1;
      });
    });
    const logProbs = sim.logSoftmax(-1);
    const picked = fromTypedArray(gt, [B, Nv]).mul(logProbs).mul(fromTypedArray(eos, [B, Nv]));
    return picked.mean(0).sum().neg();
  }
}

/** The (flattened frame, query, target row) triples: every clip's matches repeated for each of its T frames. */
interface MatchedPairs {
  frame: number[];
  query: number[];
  targetRow: number[];
}

function matchedPairs(indices: ClipMatch[], T: number, B: number): MatchedPairs {
  const p: MatchedPairs = { frame: [], query: [], targetRow: [] };
  for (let i = 0; i < T * B; i++) {
    const m = indices[i % B]!;
    m.query.forEach((q, k) => {
      p.frame.push(i);
      p.query.push(q);
      p.targetRow.push(m.target[k]!);
    });
  }
  return p;
}

const longs = (v: number[]) => tensor(v, { dtype: 'int64' });

/**
 * RetinaNet focal loss on logits, averaged over dim 1 and summed (reference sigmoid_focal_loss):
 * l = BCE·(1 − p_t)^γ·(α·g + (1 − α)(1 − g)); returns Σ_i mean_j l_ij / normaliser.
 */
export function sigmoidFocalLoss(logits: Tensor, targets: Tensor, normaliser: number, alpha = 0.25, gamma = 2): Tensor {
  const prob = logits.sigmoid();
  const ce = F.binaryCrossEntropyWithLogits(logits, targets, { reduction: 'none' });
  const pT = prob.mul(targets).add(prob.rsub(1).mul(targets.rsub(1)));
  let loss = ce.mul(pT.rsub(1).pow(gamma));
  if (alpha >= 0) loss = targets.mul(alpha).add(targets.rsub(1).mul(1 - alpha)).mul(loss);
  return loss.mean(1).sum().div(normaliser);
}

/** Σ_i [1 − (2Σ p·g + 1)/(Σ p + Σ g + 1)] / normaliser over rows of [n, HW] logits and 0/1 targets (reference dice_loss). */
export function diceLoss(logits: Tensor, targets: Tensor, normaliser: number): Tensor {
  const p = logits.sigmoid();
  const numerator = p.mul(targets).sum(1).mul(2);
  const denominator = p.sum(-1).add(targets.sum(-1));
  return numerator.add(1).div(denominator.add(1)).rsub(1).sum().div(normaliser);
}

/** Focal and dice losses of the matched queries' masks against the zero-padded targets. */
function maskLosses(predMasks: Tensor, flat: FrameTarget[], pairs: MatchedPairs, numMasks: number): { focal: Tensor; dice: Tensor; logits: Tensor } {
  const [T, B, Q, h, w] = predMasks.shape as [number, number, number, number, number];
  const frames = longs(pairs.frame);
  const src = predMasks.reshape(T * B, Q, h, w).index([frames, longs(pairs.query)]); // [n, h, w]
  const tgt = padMasks(flat.map((t) => t.masks)).index([frames, longs(pairs.targetRow)]); // [n, H, W]
  const [H, W] = tgt.shape.slice(1) as [number, number];
  const up = F.interpolate(src.unsqueeze(1), { size: [H, W], mode: 'bilinear', alignCorners: false }).select(1, 0); // [n, H, W]
  const logits = up.flatten(1);
  const target = tgt.flatten(1);
  return { focal: sigmoidFocalLoss(logits, target, numMasks), dice: diceLoss(logits, target, numMasks), logits: up };
}

/** L1 (all four cxcywh coordinates) and 1 − GIoU of the matched boxes, each summed / num_masks. */
function boxLosses(predBoxes: Tensor, flat: FrameTarget[], pairs: MatchedPairs, numMasks: number): { l1: Tensor; giou: Tensor } {
  const [T, B, Q] = predBoxes.shape as [number, number, number];
  const src = predBoxes.reshape(T * B, Q, 4).index([longs(pairs.frame), longs(pairs.query)]); // [n, 4]
  const tgt = stack(pairs.frame.map((f, k) => flat[f]!.boxes.select(0, pairs.targetRow[k]!))); // [n, 4]
  const l1 = F.l1Loss(src, tgt, 'none').sum().div(numMasks);
  const giou = diag(generalizedBoxIou(boxCxcywhToXyxy(src), boxCxcywhToXyxy(tgt))).rsub(1).sum().div(numMasks);
  return { l1, giou };
}

/**
 * Referred-class focal loss on pred_cls rearranged to [B, T·Q, 1]: target 1 at t·Q + q* in the
 * frames where clip b's object is visible, 0 elsewhere; Σ_b mean_(t q) / num_masks × T·Q.
 */
function referredClassLoss(predCls: Tensor, targets: ClipTargets, indices: ClipMatch[], numMasks: number): { loss: Tensor; target: Tensor } {
  const [T, B, Q, K] = predCls.shape as [number, number, number, number];
  const pred = predCls.permute(1, 0, 2, 3).reshape(B, T * Q, K); // 't b q k -> b (t q) k'
  const onehot = new Float32Array(B * T * Q * K);
  indices.forEach((m, b) => {
    const ref = targets[0]![b]!.referredInstanceIdx;
    m.target.forEach((tgt, k) => {
      if (tgt !== ref) return;
      for (let t = 0; t < T; t++) if (targets[t]![b]!.isRefInstVisible) onehot[(b * T * Q + t * Q + m.query[k]!) * K] = 1;
    });
  });
  const target = fromTypedArray(onehot, [B, T * Q, K]);
  return { loss: sigmoidFocalLoss(pred, target, numMasks).mul(T * Q), target };
}
