// A2D-Sentences / JHMDB-Sentences precision@K, overall IoU and mean IoU, as the reference's
// metrics.py (calculate_precision_at_k_and_iou_metrics, compute_iou) computes them: one GT instance
// per image, the top-scoring prediction (ties: the LAST in list order), float32 IoU with a 1e-6
// smoothing term, thresholds counted with a strict `>`.

import { FileFormatError, UsageError } from '../errors.js';
import { type Mask, overlapCounts } from './jf.js';
import { npMean } from './numeric.js';
import { type ImageId, prepareGroundTruth, segmentationToRle } from './coco/dataset.js';
import { intersectionUnion } from './coco/rle.js';

/** The IoU thresholds K of precision@K. */
export const PRECISION_AT_K_THRESHOLDS = [0.5, 0.6, 0.7, 0.8, 0.9] as const;

const EPS_F32 = Math.fround(1e-6);

/** One sample's intersection and union (pixel counts as float32 values) and its float32 IoU. */
export interface IouSample {
  intersection: number;
  union: number;
  /** (I + 1e-6) / (U + 1e-6) in float32 (1 for an empty prediction against an empty GT). */
  iou: number;
}

/**
 * compute_iou for one pair: float32 sums of the intersection and union, and
 * IoU = (I + 1e-6) / (U + 1e-6) computed in float32. The counts are exact up to 2^24 pixels.
 */
export function iouFromCounts(intersection: number, union: number): IouSample {
  const i = Math.fround(intersection);
  const u = Math.fround(union);
  const iou = Math.fround(Math.fround(i + EPS_F32) / Math.fround(u + EPS_F32));
  return { intersection: i, union: u, iou };
}

/** compute_iou of a predicted mask against its ground truth (same shape). */
export function maskIou(pred: Mask, gt: Mask): IouSample {
  const { intersection, union } = overlapCounts(pred, gt);
  return iouFromCounts(intersection, union);
}

export interface PrecisionAtKResult {
  /** Fraction of samples with IoU > K, keyed "0.5" … "0.9". */
  precisionAtK: Record<string, number>;
  /** ΣI / ΣU over the samples. */
  overallIou: number;
  /** Mean of the per-sample float32 IoUs. */
  meanIou: number;
}

/** Aggregates per-sample IoUs the way calculate_precision_at_k_and_iou_metrics does. */
export function precisionAtKAndIou(samples: IouSample[]): PrecisionAtKResult {
  if (samples.length === 0) throw new UsageError('precision@K needs at least one sample');
  const precisionAtK: Record<string, number> = {};
  for (const k of PRECISION_AT_K_THRESHOLDS) {
    let n = 0;
    for (const s of samples) if (s.iou > k) n++;
    precisionAtK[String(k)] = n / samples.length;
  }
  // Python float sums, left to right
  let totalI = 0;
  let totalU = 0;
  for (const s of samples) {
    totalI += s.intersection;
    totalU += s.union;
  }
  return { precisionAtK, overallIou: totalI / totalU, meanIou: npMean(samples.map((s) => s.iou)) };
}

/** A2D metrics for a COCO ground truth and a results list, plus which prediction each image used. */
export interface A2dCocoMetrics extends PrecisionAtKResult {
  perImage: { imageId: ImageId; resultIndex: number; score: number; sample: IouSample }[];
}

/**
 * calculate_precision_at_k_and_iou_metrics(coco_gt, coco_pred): for each image of the ground truth
 * (file order), its first annotation against the image's highest-scoring result (on ties the last
 * one in the results list, as `sorted(..., key=score)[-1]` picks).
 */
export function a2dMetricsFromCoco(gt: unknown, results: unknown, gtSource = 'ground truth', resultsSource = 'results'): A2dCocoMetrics {
  const prepared = prepareGroundTruth(gt, 'segm', gtSource);
  if (!Array.isArray(results)) throw new FileFormatError(resultsSource, 'results must be a JSON array');
  const firstGt = new Map<ImageId, (typeof prepared.annotations)[number]>();
  for (const a of prepared.annotations) if (!firstGt.has(a.imageId)) firstGt.set(a.imageId, a);
  const top = new Map<ImageId, number>();
  results.forEach((r: { image_id: ImageId; score: number }, i) => {
    if (typeof r?.score !== 'number') throw new FileFormatError(resultsSource, `results[${i}] needs a numeric "score"`);
    const j = top.get(r.image_id);
    if (j === undefined || r.score >= (results[j] as { score: number }).score) top.set(r.image_id, i);
  });
  const perImage: A2dCocoMetrics['perImage'] = [];
  for (const [imageId, image] of prepared.images) {
    const g = firstGt.get(imageId);
    if (!g) throw new FileFormatError(gtSource, `image ${JSON.stringify(imageId)} has no annotation (each image must hold exactly one instance)`);
    const idx = top.get(imageId);
    if (idx === undefined) throw new FileFormatError(resultsSource, `no prediction for image ${JSON.stringify(imageId)}`);
    const r = results[idx] as { segmentation: unknown; score: number };
    const rle = segmentationToRle(r.segmentation, image, resultsSource, `results[${idx}]`);
    const { intersection, union } = intersectionUnion(rle, g.rle!);
    perImage.push({ imageId, resultIndex: idx, score: r.score, sample: iouFromCounts(intersection, union) });
  }
  return { ...precisionAtKAndIou(perImage.map((p) => p.sample)), perImage };
}
