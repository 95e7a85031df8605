// Evaluation metrics of the SOC / SOC++ benchmarks, at parity with the official evaluators:
// J / F / J&F (DAVIS toolkit), A2D/JHMDB precision@K and IoU (metrics.py), and COCO mask / box
// mAP (pycocotools COCOeval, with its RLE codec).

export { type Mask, mask, overlapCounts, jaccard, boundaryMap, boundaryTolerance, boundaryScore, boundaryF, type BoundaryScore } from './jf.js';
export {
  type MaskStack,
  frameOf,
  perFrameJF,
  type PerFrameScores,
  dbStatistics,
  type Statistics,
  summarizeObjects,
  evaluateSemisupervised,
  evaluateUnsupervised,
  type MatchedScores,
  type ObjectStatistics,
  type DavisSummary,
} from './davis.js';
export { linearSumAssignment } from './assignment.js';
export {
  PRECISION_AT_K_THRESHOLDS,
  iouFromCounts,
  maskIou,
  precisionAtKAndIou,
  a2dMetricsFromCoco,
  type IouSample,
  type PrecisionAtKResult,
  type A2dCocoMetrics,
} from './a2d.js';
export * as rle from './coco/rle.js';
export type { Rle, CompressedRle, UncompressedRle, Bbox } from './coco/rle.js';
export {
  cocoEval,
  type CocoEvalOptions,
  type CocoEvalResult,
  type CategoryStats,
  type EvalParams,
  type EvalImage,
  type IouMatrix,
  type Evaluation,
  type Accumulation,
  type Summary,
  STAT_LABELS,
  defaultParams,
  evaluate,
  accumulate,
  summarize,
  topScoringPerImage,
} from './coco/cocoeval.js';
export {
  type CocoDataset,
  type CocoAnnotation,
  type CocoResult,
  type ImageId,
  type CategoryId,
  type IouType,
  type GtInstance,
  type DtInstance,
  prepareGroundTruth,
  prepareResults,
} from './coco/dataset.js';
