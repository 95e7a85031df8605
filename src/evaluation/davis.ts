// Video-level J / F statistics and the J&F aggregate of the DAVIS-2017 toolkit used by the reference
// (davis2017/evaluation.py, davis2017/utils.py db_statistics, eval_davis.py).

import { linearSumAssignment } from './assignment.js';
import { UsageError } from '../errors.js';
import { type Mask, boundaryF, jaccard } from './jf.js';
import { npMean, npNanMean, pairwiseSum, roundHalfEven } from './numeric.js';

/** A stack of binary masks [T, H, W] (row-major frames, one after the other). */
export interface MaskStack {
  data: Uint8Array;
  frames: number;
  height: number;
  width: number;
}

/** Frame t of a stack as a mask (a view, no copy). */
export function frameOf(stack: MaskStack, t: number): Mask {
  const n = stack.height * stack.width;
  return { data: stack.data.subarray(t * n, (t + 1) * n), height: stack.height, width: stack.width };
}

/** Per-frame J and F of one object (`_evaluate_semisupervised` for one ground-truth object). */
export interface PerFrameScores {
  j: Float64Array;
  f: Float64Array;
}

/**
 * J and F of every frame of a predicted object against its ground truth. `voidMasks`, when given,
 * are excluded from both (the unsupervised DAVIS task passes the void pixels of the annotation).
 */
export function perFrameJF(gt: MaskStack, pred: MaskStack, voidMasks?: MaskStack, boundTh = 0.008): PerFrameScores {
  if (gt.frames !== pred.frames || gt.height !== pred.height || gt.width !== pred.width) {
    throw new UsageError(`ground truth is ${gt.frames}×${gt.height}×${gt.width} but the prediction is ${pred.frames}×${pred.height}×${pred.width}`);
  }
  const j = new Float64Array(gt.frames);
  const f = new Float64Array(gt.frames);
  for (let t = 0; t < gt.frames; t++) {
    const v = voidMasks ? frameOf(voidMasks, t) : undefined;
    j[t] = jaccard(frameOf(gt, t), frameOf(pred, t), v);
    f[t] = boundaryF(frameOf(gt, t), frameOf(pred, t), v, boundTh);
  }
  return { j, f };
}

function emptyLike(s: MaskStack): MaskStack {
  return { data: new Uint8Array(s.data.length), frames: s.frames, height: s.height, width: s.width };
}

/**
 * `_evaluate_semisupervised`: J and F of result object i against ground-truth object i. Missing
 * result objects count as empty masks; more result objects than ground-truth ones is an error.
 */
export function evaluateSemisupervised(gtObjects: MaskStack[], resObjects: MaskStack[], boundTh = 0.008): PerFrameScores[] {
  if (resObjects.length > gtObjects.length) {
    throw new UsageError(`the prediction has ${resObjects.length} objects but the ground truth only ${gtObjects.length} (an index higher than the number of objects)`);
  }
  return gtObjects.map((gt, i) => perFrameJF(gt, resObjects[i] ?? emptyLike(gt), undefined, boundTh));
}

/** One ground-truth object's scores after the unsupervised matching. */
export interface MatchedScores extends PerFrameScores {
  /** Index of the ground-truth object and of the proposal assigned to it. */
  gtIndex: number;
  proposalIndex: number;
}

/**
 * `_evaluate_unsupervised` (the Ref-DAVIS protocol of eval_davis.py): J and F of every proposal
 * against every ground-truth object (void pixels excluded), proposals assigned to objects by a
 * linear sum assignment maximising the mean over frames of (J + F) / 2. Missing proposals are
 * empty masks; more than `maxProposals` is an error. The result is in the reference's order
 * (by proposal index), which is the order its per-object statistics are listed in.
 */
export function evaluateUnsupervised(
  gtObjects: MaskStack[],
  proposals: MaskStack[],
  voidMasks?: MaskStack,
  maxProposals = 20,
  boundTh = 0.008,
): MatchedScores[] {
  if (proposals.length > maxProposals) {
    throw new UsageError(`the prediction has ${proposals.length} objects, more than the ${maxProposals} proposals allowed`);
  }
  if (gtObjects.length === 0) return [];
  const props = [...proposals];
  while (props.length < gtObjects.length) props.push(emptyLike(gtObjects[0]!));
  const P = props.length;
  const G = gtObjects.length;
  const scores = props.map((p) => gtObjects.map((g) => perFrameJF(g, p, voidMasks, boundTh)));
  // cost = −(mean_t J + mean_t F) / 2, means in numpy's order
  const cost = new Float64Array(P * G);
  for (let p = 0; p < P; p++) {
    for (let g = 0; g < G; g++) {
      const { j, f } = scores[p]![g]!;
      cost[p * G + g] = -((pairwiseSum(j) / j.length + pairwiseSum(f) / f.length) / 2);
    }
  }
  const { rows, cols } = linearSumAssignment(cost, P, G);
  return Array.from(rows, (p, i) => ({ ...scores[p]![cols[i]!]!, proposalIndex: p, gtIndex: cols[i]! }));
}

/** db_statistics: mean, recall (fraction > 0.5) and decay over the frames of one object. */
export interface Statistics {
  mean: number;
  recall: number;
  decay: number;
}

/**
 * db_statistics(values): M = nanmean, R = nanmean(values > 0.5), D = nanmean(first quarter) −
 * nanmean(last quarter), where the 4 bins are `values[ids[i] : ids[i+1] + 1]` with
 * `ids = uint8(round(linspace(1, N, 5) + 1e-10) − 1)`. The uint8 arithmetic wraps for videos of
 * more than 255 frames exactly as in the reference.
 */
export function dbStatistics(values: ArrayLike<number>): Statistics {
  const n = values.length;
  const mean = npNanMean(values);
  const above = Float64Array.from(values, (v) => (v > 0.5 ? 1 : 0));
  const recall = npMean(above);
  const ids = new Uint8Array(5);
  const step = (n - 1) / 4;
  for (let k = 0; k < 5; k++) {
    const x = k === 4 ? n : step === 0 ? 1 : k * step + 1;
    ids[k] = roundHalfEven(x + 1e-10) - 1;
  }
  const bin = (i: number): number[] => {
    const start = ids[i]!;
    const end = (ids[i + 1]! + 1) & 0xff;
    return Array.from(values).slice(start, end);
  };
  const decay = npNanMean(bin(0)) - npNanMean(bin(3));
  return { mean, recall, decay };
}

/** The statistics of one evaluated object (a video of Ref-DAVIS / Ref-YouTube-VOS / MeViS expression). */
export interface ObjectStatistics {
  name: string;
  J: Statistics;
  F: Statistics;
}

/** eval_davis.py's global results, under its column names. */
export interface DavisSummary {
  'J&F-Mean': number;
  'J-Mean': number;
  'J-Recall': number;
  'J-Decay': number;
  'F-Mean': number;
  'F-Recall': number;
  'F-Decay': number;
  perObject: ObjectStatistics[];
}

/**
 * The global J&F table of eval_davis.py: each column is the mean over objects of that statistic,
 * and J&F-Mean = (mean J-Mean + mean F-Mean) / 2.
 */
export function summarizeObjects(objects: { name: string; j: ArrayLike<number>; f: ArrayLike<number> }[]): DavisSummary {
  const perObject = objects.map((o) => ({ name: o.name, J: dbStatistics(o.j), F: dbStatistics(o.f) }));
  const col = (get: (o: ObjectStatistics) => number): number => npMean(perObject.map(get));
  const jm = col((o) => o.J.mean);
  const fm = col((o) => o.F.mean);
  return {
    'J&F-Mean': (jm + fm) / 2,
    'J-Mean': jm,
    'J-Recall': col((o) => o.J.recall),
    'J-Decay': col((o) => o.J.decay),
    'F-Mean': fm,
    'F-Recall': col((o) => o.F.recall),
    'F-Decay': col((o) => o.F.decay),
    perObject,
  };
}
