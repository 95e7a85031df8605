// COCO detection / instance-segmentation evaluation with pycocotools' COCOeval semantics
// (evaluate → accumulate → summarize), for iouType 'segm' and 'bbox', useCats 0 and 1.
//
// Every step keeps pycocotools' floating-point order so the results are bit-identical:
// stable score sorts (numpy mergesort), the greedy matching with its ignore/crowd rules,
// cumulative TP/FP as float64, precision = tp / (fp + tp + eps), the right-to-left precision
// envelope, searchsorted sampling at the recall thresholds, and means in numpy's pairwise order.

import { UsageError } from '../../errors.js';
import { argsortDescendingStable, formatFixed, linspace, pairwiseSum } from '../numeric.js';
import {
  type CategoryId,
  type DtInstance,
  type GtInstance,
  type ImageId,
  type IouType,
  type PreparedGroundTruth,
  prepareGroundTruth,
  prepareResults,
  sortIds,
} from './dataset.js';
import { bboxIou, iou as rleIou } from './rle.js';

/** COCOeval.params for detection / segmentation. */
export interface EvalParams {
  iouType: IouType;
  /** Images evaluated, sorted as `np.unique(sorted(ids))`. */
  imgIds: ImageId[];
  /** Categories, sorted; with useCats 0 they only select which annotations take part. */
  catIds: CategoryId[];
  iouThrs: Float64Array;
  recThrs: Float64Array;
  maxDets: number[];
  areaRng: [number, number][];
  areaRngLbl: string[];
  useCats: boolean;
}

/** pycocotools' default parameters: IoU .50:.05:.95, 101 recall points, maxDets 1/10/100, 4 area ranges. */
export function defaultParams(iouType: IouType = 'segm'): EvalParams {
  return {
    iouType,
    imgIds: [],
    catIds: [],
    iouThrs: linspace(0.5, 0.95, Math.round((0.95 - 0.5) / 0.05) + 1),
    recThrs: linspace(0.0, 1.0, Math.round((1.0 - 0.0) / 0.01) + 1),
    maxDets: [1, 10, 100],
    areaRng: [
      [0 ** 2, 1e5 ** 2],
      [0 ** 2, 32 ** 2],
      [32 ** 2, 96 ** 2],
      [96 ** 2, 1e5 ** 2],
    ],
    areaRngLbl: ['all', 'small', 'medium', 'large'],
    useCats: true,
  };
}

/** COCOeval.ious[imgId, catId]: IoU of each detection (rows, score order) with each GT (columns). */
export interface IouMatrix {
  imageId: ImageId;
  /** The category, or −1 with useCats 0. */
  categoryId: CategoryId;
  /** Row order: detections sorted by score (stable), at most maxDets[-1]. */
  dtIds: number[];
  /** Column order: ground truths in annotation order (categories concatenated in sorted order with useCats 0). */
  gtIds: number[];
  /** D×G row-major; empty when there are no detections or no ground truths. */
  values: Float64Array;
}

/** One COCOeval.evalImgs entry (an image × category × area range). */
export interface EvalImage {
  imageId: ImageId;
  categoryId: CategoryId;
  aRng: [number, number];
  maxDet: number;
  /** Detections in score order (stable), at most maxDet. */
  dtIds: number[];
  /** Ground truths with the non-ignored ones first (stable). */
  gtIds: number[];
  /** T×D row-major: matched GT id per IoU threshold, 0 when unmatched. */
  dtMatches: Float64Array;
  /** T×G row-major: matched detection id per IoU threshold, 0 when unmatched. */
  gtMatches: Float64Array;
  dtScores: Float64Array;
  gtIgnore: Uint8Array;
  /** T×D row-major. */
  dtIgnore: Uint8Array;
}

export interface Evaluation {
  params: EvalParams;
  ious: IouMatrix[];
  /** In pycocotools' order: category, then area range, then image; null where an image has neither GT nor detections. */
  evalImgs: (EvalImage | null)[];
}

export interface Accumulation {
  /** [T, R, K, A, M] */
  counts: [number, number, number, number, number];
  /** T×R×K×A×M, C order; −1 where a setting has no ground truth. */
  precision: Float64Array;
  /** T×K×A×M, C order. */
  recall: Float64Array;
  /** T×R×K×A×M: the score at which each precision value is reached. */
  scores: Float64Array;
}

interface Group {
  gts: GtInstance[];
  dts: DtInstance[];
  /** `dts` sorted by score, descending, stable (np.argsort(-score, kind='mergesort')). */
  sortedDts?: DtInstance[];
}

function sortedDetections(group: Group): DtInstance[] {
  if (!group.sortedDts) {
    const order = argsortDescendingStable(group.dts.map((d) => d.score));
    group.sortedDts = Array.from(order, (i) => group.dts[i]!);
  }
  return group.sortedDts;
}

/**
 * Groups ground truths and detections per (category, image) in the order `_prepare` builds them:
 * `groups[k * I + i]` for category index k and image index i. With useCats 0 there is a single
 * category slot whose groups concatenate the categories in sorted order.
 */
function buildGroups(gts: GtInstance[], dts: DtInstance[], params: EvalParams): (Group | undefined)[] {
  const I = params.imgIds.length;
  const imgIndex = new Map<ImageId, number>(params.imgIds.map((id, i) => [id, i]));
  const catIndex = new Map<CategoryId, number>(params.catIds.map((c, k) => [c, k]));
  const byCat: (Group | undefined)[] = new Array(params.catIds.length * I);
  const slot = (imageId: ImageId, catId: CategoryId): Group | undefined => {
    const i = imgIndex.get(imageId);
    const k = catIndex.get(catId);
    if (i === undefined || k === undefined) return undefined;
    return (byCat[k * I + i] ??= { gts: [], dts: [] });
  };
  for (const g of gts) slot(g.imageId, g.categoryId)?.gts.push(g);
  for (const d of dts) slot(d.imageId, d.categoryId)?.dts.push(d);
  if (params.useCats) return byCat;
  const perImage: (Group | undefined)[] = new Array(I);
  for (let i = 0; i < I; i++) {
    let merged: Group | undefined;
    for (let k = 0; k < params.catIds.length; k++) {
      const g = byCat[k * I + i];
      if (!g) continue;
      merged ??= { gts: [], dts: [] };
      merged.gts.push(...g.gts);
      merged.dts.push(...g.dts);
    }
    perImage[i] = merged;
  }
  return perImage;
}

const NO_IOUS = new Float64Array(0);

function computeIou(group: Group, params: EvalParams, imageId: ImageId, categoryId: CategoryId): IouMatrix {
  const maxDet = params.maxDets[params.maxDets.length - 1]!;
  const dts = sortedDetections(group).slice(0, maxDet);
  const gts = group.gts;
  const iscrowd = gts.map((g) => g.iscrowd);
  const values =
    params.iouType === 'segm'
      ? rleIou(dts.map((d) => d.rle!), gts.map((g) => g.rle!), iscrowd, dts.map((d) => d.rleBox!), gts.map((g) => g.rleBox!))
      : dts.length === 0 || gts.length === 0
        ? new Float64Array(0)
        : bboxIou(dts.map((d) => d.bbox!), gts.map((g) => g.bbox!), iscrowd);
  return { imageId, categoryId, dtIds: dts.map((d) => d.id), gtIds: gts.map((g) => g.id), values };
}

function evaluateImg(group: Group, ious: IouMatrix, params: EvalParams, aRng: [number, number], maxDet: number): EvalImage {
  const [lo, hi] = aRng;
  const G0 = group.gts.length;
  const gtIgnoreUnsorted = group.gts.map((g) => (g.iscrowd || g.area < lo || g.area > hi ? 1 : 0));
  // non-ignored ground truths first, stable (np.argsort(_ignore, kind='mergesort'))
  const gtind: number[] = [];
  for (let g = 0; g < G0; g++) if (!gtIgnoreUnsorted[g]) gtind.push(g);
  for (let g = 0; g < G0; g++) if (gtIgnoreUnsorted[g]) gtind.push(g);
  const gts = gtind.map((i) => group.gts[i]!);
  const dts = sortedDetections(group).slice(0, maxDet);
  const T = params.iouThrs.length;
  const G = gts.length;
  const D = dts.length;
  const gtm = new Float64Array(T * G);
  const dtm = new Float64Array(T * D);
  const gtIg = Uint8Array.from(gtind, (i) => gtIgnoreUnsorted[i]!);
  const dtIg = new Uint8Array(T * D);
  const iscrowd = gts.map((g) => g.iscrowd);
  const G1 = ious.gtIds.length;
  if (ious.values.length > 0) {
    for (let t = 0; t < T; t++) {
      const thr = params.iouThrs[t]!;
      for (let d = 0; d < D; d++) {
        let best = Math.min(thr, 1 - 1e-10);
        let m = -1;
        for (let g = 0; g < G; g++) {
          // a matched regular GT cannot take another detection; crowds can
          if (gtm[t * G + g]! > 0 && !iscrowd[g]) continue;
          // once matched to a regular GT, stop at the first ignored one (they are sorted last)
          if (m > -1 && gtIg[m] === 0 && gtIg[g] === 1) break;
          const v = ious.values[d * G1 + gtind[g]!]!;
          if (v < best) continue;
          best = v;
          m = g;
        }
        if (m === -1) continue;
        dtIg[t * D + d] = gtIg[m]!;
        dtm[t * D + d] = gts[m]!.id;
        gtm[t * G + m] = dts[d]!.id;
      }
    }
  }
  // unmatched detections outside the area range are ignored
  for (let d = 0; d < D; d++) {
    const a = dts[d]!.area;
    if (!(a < lo || a > hi)) continue;
    for (let t = 0; t < T; t++) if (dtm[t * D + d] === 0) dtIg[t * D + d] = 1;
  }
  return {
    imageId: ious.imageId,
    categoryId: ious.categoryId,
    aRng,
    maxDet,
    dtIds: dts.map((d) => d.id),
    gtIds: gts.map((g) => g.id),
    dtMatches: dtm,
    gtMatches: gtm,
    dtScores: Float64Array.from(dts, (d) => d.score),
    gtIgnore: gtIg,
    dtIgnore: dtIg,
  };
}

/**
 * COCOeval.evaluate(): IoUs per (image, category) and the per-image matching for every area
 * range at maxDets[-1].
 */
export function evaluate(gts: GtInstance[], dts: DtInstance[], params: EvalParams): Evaluation {
  const groups = buildGroups(gts, dts, params);
  const catIds: CategoryId[] = params.useCats ? params.catIds : [-1];
  const I = params.imgIds.length;
  const ious: IouMatrix[] = [];
  params.imgIds.forEach((imageId, i) => {
    catIds.forEach((catId, k) => {
      const group = groups[k * I + i];
      ious.push(group ? computeIou(group, params, imageId, catId) : { imageId, categoryId: catId, dtIds: [], gtIds: [], values: NO_IOUS });
    });
  });
  const maxDet = params.maxDets[params.maxDets.length - 1]!;
  const evalImgs: (EvalImage | null)[] = [];
  for (let k = 0; k < catIds.length; k++) {
    for (const aRng of params.areaRng) {
      for (let i = 0; i < I; i++) {
        const group = groups[k * I + i];
        evalImgs.push(group ? evaluateImg(group, ious[i * catIds.length + k]!, params, aRng, maxDet) : null);
      }
    }
  }
  return { params, ious, evalImgs };
}

/**
 * Index of the first element of the non-decreasing `a[0..n)` that is ≥ v (np.searchsorted, 'left').
 */
function searchLeft(a: Float64Array, n: number, v: number): number {
  let lo = 0;
  let hi = n;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (a[mid]! < v) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** COCOeval.accumulate(): precision / recall / scores over all images for every setting. */
export function accumulate(evaluation: Evaluation): Accumulation {
  const p = evaluation.params;
  const T = p.iouThrs.length;
  const R = p.recThrs.length;
  const K = p.useCats ? p.catIds.length : 1;
  const A = p.areaRng.length;
  const M = p.maxDets.length;
  const I = p.imgIds.length;
  const precision = new Float64Array(T * R * K * A * M).fill(-1);
  const recall = new Float64Array(T * K * A * M).fill(-1);
  const scores = new Float64Array(T * R * K * A * M).fill(-1);
  const maxDetAll = p.maxDets[M - 1]!;
  for (let k = 0; k < K; k++) {
    for (let a = 0; a < A; a++) {
      const E = evaluation.evalImgs.slice((k * A + a) * I, (k * A + a + 1) * I).filter((e): e is EvalImage => e !== null);
      if (E.length === 0) continue;
      // Concatenate every image's detections once (images in order), rank them by score with a
      // stable sort, and derive each maxDet's order by keeping the first maxDet per image: a stable
      // sort of a subsequence is the subsequence of the stable sort.
      let total = 0;
      for (const e of E) total += Math.min(e.dtIds.length, maxDetAll);
      const catScores = new Float64Array(total);
      const catRank = new Int32Array(total);
      // per threshold and detection: 1 = true positive, 2 = false positive, 0 = ignored
      const outcome = new Uint8Array(T * total);
      let npig = 0;
      let pos = 0;
      for (const e of E) {
        const D = e.dtIds.length;
        const Dk = Math.min(D, maxDetAll);
        for (let d = 0; d < Dk; d++) {
          catScores[pos + d] = e.dtScores[d]!;
          catRank[pos + d] = d;
          for (let t = 0; t < T; t++) {
            const cell = t * D + d;
            if (!e.dtIgnore[cell]) outcome[t * total + pos + d] = e.dtMatches[cell] !== 0 ? 1 : 2;
          }
        }
        pos += Dk;
        for (let g = 0; g < e.gtIgnore.length; g++) if (e.gtIgnore[g] === 0) npig++;
      }
      if (npig === 0) continue;
      const orderAll = argsortDescendingStable(catScores);
      for (let m = 0; m < M; m++) {
        const maxDet = p.maxDets[m]!;
        const order = orderAll.filter((i) => catRank[i]! < maxDet);
        const nd = order.length;
        const sortedScores = Float64Array.from(order, (i) => catScores[i]!);
        const rc = new Float64Array(nd);
        const pr = new Float64Array(nd);
        for (let t = 0; t < T; t++) {
          let tp = 0;
          let fp = 0;
          const row = t * total;
          for (let j = 0; j < nd; j++) {
            const o = outcome[row + order[j]!];
            if (o === 1) tp++;
            else if (o === 2) fp++;
            rc[j] = tp / npig;
            pr[j] = tp / (fp + tp + Number.EPSILON);
          }
          const base = ((t * K + k) * A + a) * M + m;
          recall[base] = nd ? rc[nd - 1]! : 0;
          // precision envelope: non-increasing from the right
          for (let j = nd - 1; j > 0; j--) if (pr[j]! > pr[j - 1]!) pr[j - 1] = pr[j]!;
          for (let r = 0; r < R; r++) {
            const idx = ((((t * R + r) * K + k) * A + a) * M) + m;
            const pi = searchLeft(rc, nd, p.recThrs[r]!);
            if (pi >= nd) {
              // pycocotools stops at the first index past the end and leaves the rest at 0
              for (let rr = r; rr < R; rr++) {
                const j2 = ((((t * R + rr) * K + k) * A + a) * M) + m;
                precision[j2] = 0;
                scores[j2] = 0;
              }
              break;
            }
            precision[idx] = pr[pi]!;
            scores[idx] = sortedScores[pi]!;
          }
        }
      }
    }
  }
  return { counts: [T, R, K, A, M], precision, recall, scores };
}

/** Labels of the 12 summary statistics, in pycocotools' order. */
export const STAT_LABELS = [
  'AP', 'AP50', 'AP75', 'APs', 'APm', 'APl', 'AR1', 'AR10', 'AR100', 'ARs', 'ARm', 'ARl',
] as const;

/**
 * Mean of the entries > −1 of precision[t, :, :, a, m] (ap) or recall[t, :, a, m] over the selected
 * settings, in numpy's element order and summation; −1 when there are none.
 */
function summaryValue(acc: Accumulation, p: EvalParams, ap: boolean, iouThr: number | null, areaLbl: string, maxDets: number): number {
  const [T, R, K, A, M] = acc.counts;
  const tList = iouThr === null ? [...Array(T).keys()] : [...Array(T).keys()].filter((t) => p.iouThrs[t] === iouThr);
  const aind = p.areaRngLbl.flatMap((l, i) => (l === areaLbl ? [i] : []));
  const mind = p.maxDets.flatMap((d, i) => (d === maxDets ? [i] : []));
  // s[:, :, :, aind, mind] pairs the two index lists (numpy broadcasting)
  if (aind.length !== mind.length && aind.length !== 1 && mind.length !== 1) {
    throw new UsageError(`summarize: area label '${areaLbl}' and maxDets ${maxDets} select ${aind.length} and ${mind.length} settings, which cannot be paired`);
  }
  const nPairs = aind.length === 0 || mind.length === 0 ? 0 : Math.max(aind.length, mind.length);
  const pairs = Array.from({ length: nPairs }, (_, i) => [aind[aind.length === 1 ? 0 : i]!, mind[mind.length === 1 ? 0 : i]!] as const);
  const picked: number[] = [];
  for (const t of tList) {
    if (ap) {
      for (let r = 0; r < R; r++) {
        for (let k = 0; k < K; k++) {
          for (const [a, m] of pairs) {
            const v = acc.precision[((((t * R + r) * K + k) * A + a) * M) + m]!;
            if (v > -1) picked.push(v);
          }
        }
      }
    } else {
      for (let k = 0; k < K; k++) {
        for (const [a, m] of pairs) {
          const v = acc.recall[((t * K + k) * A + a) * M + m]!;
          if (v > -1) picked.push(v);
        }
      }
    }
  }
  return picked.length === 0 ? -1 : pairwiseSum(picked) / picked.length;
}

function summaryLine(p: EvalParams, ap: boolean, iouThr: number | null, areaLbl: string, maxDets: number, value: number): string {
  const title = (ap ? 'Average Precision' : 'Average Recall').padEnd(18);
  const type = ap ? '(AP)' : '(AR)';
  const iouStr = iouThr === null
    ? `${formatFixed(p.iouThrs[0]!, 2)}:${formatFixed(p.iouThrs[p.iouThrs.length - 1]!, 2)}`
    : formatFixed(iouThr, 2);
  return ` ${title} ${type} @[ IoU=${iouStr.padEnd(9)} | area=${areaLbl.padStart(6)} | maxDets=${String(maxDets).padStart(3)} ] = ${formatFixed(value, 3)}`;
}

export interface Summary {
  /** The 12 statistics: AP, AP50, AP75, APs, APm, APl, AR1, AR10, AR100, ARs, ARm, ARl. */
  stats: number[];
  /** The lines pycocotools' summarize() prints, without trailing newlines. */
  lines: string[];
}

/** COCOeval.summarize() for detections / segmentation: the 12 statistics and their printed lines. */
export function summarize(acc: Accumulation, p: EvalParams): Summary {
  if (p.maxDets.length < 3) throw new UsageError(`summarize needs 3 maxDets values (got ${p.maxDets.length})`);
  const md = p.maxDets;
  const settings: [boolean, number | null, string, number][] = [
    [true, null, 'all', md[2]!],
    [true, 0.5, 'all', md[2]!],
    [true, 0.75, 'all', md[2]!],
    [true, null, 'small', md[2]!],
    [true, null, 'medium', md[2]!],
    [true, null, 'large', md[2]!],
    [false, null, 'all', md[0]!],
    [false, null, 'all', md[1]!],
    [false, null, 'all', md[2]!],
    [false, null, 'small', md[2]!],
    [false, null, 'medium', md[2]!],
    [false, null, 'large', md[2]!],
  ];
  const stats: number[] = [];
  const lines: string[] = [];
  for (const [ap, iouThr, areaLbl, maxDets] of settings) {
    const v = summaryValue(acc, p, ap, iouThr, areaLbl, maxDets);
    stats.push(v);
    lines.push(summaryLine(p, ap, iouThr, areaLbl, maxDets, v));
  }
  return { stats, lines };
}

/** Per-category AP / AR from the accumulated arrays (useCats 1), with summarize()'s averaging rule. */
export interface CategoryStats {
  id: CategoryId;
  name: string;
  /** AP@[.50:.95], AP@.50, AP@.75 (area all, maxDets[-1]) and AR@maxDets[-1]; −1 without ground truth. */
  ap: number;
  ap50: number;
  ap75: number;
  ar: number;
}

function perCategoryStats(acc: Accumulation, p: EvalParams, names: Map<CategoryId, string>): CategoryStats[] {
  return p.catIds.map((id, k) => {
    const single: Accumulation = {
      counts: [acc.counts[0], acc.counts[1], 1, acc.counts[3], acc.counts[4]],
      precision: pick(acc.precision, acc.counts, k, true),
      recall: pick(acc.recall, acc.counts, k, false),
      scores: new Float64Array(0),
    };
    const md = p.maxDets[p.maxDets.length - 1]!;
    return {
      id,
      name: names.get(id) ?? String(id),
      ap: summaryValue(single, p, true, null, 'all', md),
      ap50: summaryValue(single, p, true, 0.5, 'all', md),
      ap75: summaryValue(single, p, true, 0.75, 'all', md),
      ar: summaryValue(single, p, false, null, 'all', md),
    };
  });
}

/** The k-th category slice of a [T,R,K,A,M] (withR) or [T,K,A,M] array, keeping C order. */
function pick(arr: Float64Array, counts: Accumulation['counts'], k: number, withR: boolean): Float64Array {
  const [T, R, K, A, M] = counts;
  const outer = withR ? T * R : T;
  const inner = A * M;
  const out = new Float64Array(outer * inner);
  for (let o = 0; o < outer; o++) out.set(arr.subarray((o * K + k) * inner, (o * K + k + 1) * inner), o * inner);
  return out;
}

/** Options of {@link cocoEval}. */
export interface CocoEvalOptions {
  /** 'segm' (masks, default) or 'bbox'. */
  iouType?: IouType;
  /** Evaluate per category (1, default) or pool all categories (0, as the A2D/JHMDB protocol does). */
  useCats?: boolean | 0 | 1;
  /** Score only the highest-scoring detection of each image (ties: the earliest). Not pycocotools' protocol. */
  top1?: boolean;
  /** Restrict to these image ids (default: every image of the ground truth). */
  imgIds?: ImageId[];
  /** Restrict to these category ids (default: every category of the ground truth). */
  catIds?: CategoryId[];
  /** Override parameters (defaults are pycocotools'). */
  iouThrs?: ArrayLike<number>;
  recThrs?: ArrayLike<number>;
  maxDets?: number[];
  areaRng?: [number, number][];
  areaRngLbl?: string[];
  /** Names used in error messages for the two inputs (e.g. their file paths). */
  gtSource?: string;
  resultsSource?: string;
}

export interface CocoEvalResult extends Summary, Accumulation {
  params: EvalParams;
  /** Per-category AP/AR (useCats 1); empty with useCats 0. */
  perCategory: CategoryStats[];
  ious: IouMatrix[];
  evalImgs: (EvalImage | null)[];
  /** Number of detections evaluated (after --top1 and category filtering). */
  numDetections: number;
  /** Non-fatal observations about the inputs. */
  warnings: string[];
}

/**
 * Evaluates COCO results against a COCO ground truth exactly as pycocotools does:
 * `COCO(gt)`, `loadRes(results)`, `COCOeval(gt, dt, iouType)`, `params.useCats = useCats`,
 * `evaluate()`, `accumulate()`, `summarize()`.
 *
 * @param gt a ground-truth dataset `{images, annotations, categories}` (parsed JSON)
 * @param results a results list `[{image_id, category_id, score, segmentation | bbox}]`;
 *   segmentations may be compressed RLE, uncompressed RLE or polygons
 * @returns the 12 summary statistics and printed lines, the precision [T,R,K,A,M], recall
 *   [T,K,A,M] and scores arrays (Float64Array, C order; dimensions in `counts`), per-image
 *   IoUs and evalImgs, and the parameters used
 * @throws FileFormatError naming the input and entry for malformed input (unknown image ids in
 *   results, mask sizes differing from the image, annotation id 0, duplicate ids, ...)
 */
export function cocoEval(gt: unknown, results: unknown, options: CocoEvalOptions = {}): CocoEvalResult {
  const iouType = options.iouType ?? 'segm';
  if (iouType !== 'segm' && iouType !== 'bbox') throw new UsageError(`iouType must be 'segm' or 'bbox', got '${String(iouType)}'`);
  const gtSource = options.gtSource ?? 'ground truth';
  const prepared = prepareGroundTruth(gt, iouType, gtSource);
  const loaded = prepareResults(results, prepared, iouType, options.resultsSource ?? 'results');
  let detections = loaded.detections;
  if (options.top1) detections = topScoringPerImage(detections);
  const params = makeParams(prepared, iouType, options, gtSource);
  const evaluation = evaluate(prepared.annotations, detections, params);
  const acc = accumulate(evaluation);
  const summary = summarize(acc, params);
  const names = new Map(prepared.categories.map((c) => [c.id, c.name]));
  return {
    ...summary,
    ...acc,
    params,
    perCategory: params.useCats ? perCategoryStats(acc, params, names) : [],
    ious: evaluation.ious,
    evalImgs: evaluation.evalImgs,
    numDetections: detections.length,
    warnings: [...prepared.warnings, ...loaded.warnings],
  };
}

function makeParams(gt: PreparedGroundTruth, iouType: IouType, o: CocoEvalOptions, source: string): EvalParams {
  const p = defaultParams(iouType);
  p.useCats = o.useCats === undefined ? true : !!o.useCats;
  p.imgIds = sortIds(o.imgIds ?? gt.images.keys(), source, 'image ids');
  p.catIds = sortIds(o.catIds ?? gt.categories.map((c) => c.id), source, 'category ids');
  if (o.iouThrs) p.iouThrs = Float64Array.from(o.iouThrs);
  if (o.recThrs) p.recThrs = Float64Array.from(o.recThrs);
  if (o.maxDets) p.maxDets = [...o.maxDets].sort((a, b) => a - b);
  if (o.areaRng) p.areaRng = o.areaRng.map(([lo, hi]) => [lo, hi]);
  if (o.areaRngLbl) p.areaRngLbl = [...o.areaRngLbl];
  if (p.areaRngLbl.length !== p.areaRng.length) throw new UsageError(`areaRngLbl has ${p.areaRngLbl.length} labels for ${p.areaRng.length} area ranges`);
  if (p.maxDets.length === 0) throw new UsageError('maxDets must not be empty');
  return p;
}

/**
 * Keeps the highest-scoring detection of each image (ties: the earliest, as COCOeval ranks them)
 * and renumbers the kept ones 1..N, as loadRes would number the filtered list.
 */
export function topScoringPerImage(dts: DtInstance[]): DtInstance[] {
  const best = new Map<ImageId, number>();
  dts.forEach((d, i) => {
    const j = best.get(d.imageId);
    if (j === undefined || d.score > dts[j]!.score) best.set(d.imageId, i);
  });
  const keep = new Set(best.values());
  return dts.filter((_, i) => keep.has(i)).map((d, i) => ({ ...d, id: i + 1 }));
}
