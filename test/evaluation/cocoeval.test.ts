// COCOeval port against the pycocotools fixtures (exact float64 equality) and hand-made cases.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { type CocoEvalResult, type EvalImage, cocoEval, defaultParams } from '../../src/evaluation/coco/cocoeval.js';
import type { CocoDataset, CocoResult } from '../../src/evaluation/coco/dataset.js';
import * as R from '../../src/evaluation/coco/rle.js';
import { FileFormatError } from '../../src/errors.js';
import { readSafetensorsArrays } from '../../src/io/safetensors.js';
import { sharedPath } from '../helpers/shared.js';

const readJson = (dir: string, name: string) => JSON.parse(readFileSync(join(dir, name), 'utf8'));

/** Asserts two float64 arrays are bit-for-bit equal, reporting the first difference. */
function assertExact(actual: ArrayLike<number>, expected: ArrayLike<number>, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < expected.length; i++) {
    if (!Object.is(actual[i], expected[i])) assert.fail(`${what}: index ${i} is ${actual[i]}, expected ${expected[i]}`);
  }
}

/** T×N row-major typed array → nested rows (for comparing with the JSON fixtures). */
const rows = (a: ArrayLike<number>, T: number): number[][] => {
  const n = T === 0 ? 0 : a.length / T;
  return Array.from({ length: T }, (_, t) => Array.from({ length: n }, (_, j) => a[t * n + j]!));
};

interface ExpectedEvalImg {
  dtIds: number[];
  gtIds: number[];
  dtMatches: number[][];
  gtMatches?: number[][];
  dtIgnore: number[][];
  gtIgnore: number[];
  dtScores: number[];
}

function assertEvalImg(actual: EvalImage | null, expected: ExpectedEvalImg | null, what: string): void {
  if (expected === null) {
    assert.equal(actual, null, `${what}: expected None`);
    return;
  }
  assert.ok(actual, `${what}: expected an evalImg`);
  assert.deepEqual(actual.dtIds, expected.dtIds, `${what} dtIds`);
  assert.deepEqual(actual.gtIds, expected.gtIds, `${what} gtIds`);
  assert.deepEqual(rows(actual.dtMatches, 10), expected.dtMatches, `${what} dtMatches`);
  if (expected.gtMatches) assert.deepEqual(rows(actual.gtMatches, 10), expected.gtMatches, `${what} gtMatches`);
  assert.deepEqual(rows(actual.dtIgnore, 10), expected.dtIgnore, `${what} dtIgnore`);
  assert.deepEqual(Array.from(actual.gtIgnore), expected.gtIgnore, `${what} gtIgnore`);
  assertExact(actual.dtScores, expected.dtScores, `${what} dtScores`);
}

const AREAS = ['all', 'small', 'medium', 'large'] as const;

test('default parameters equal pycocotools (iouThrs, recThrs bit for bit)', (t) => {
  const p = defaultParams();
  assert.deepEqual(Array.from(p.iouThrs), [0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.8999999999999999, 0.95]);
  assert.equal(p.recThrs[70], 0.7000000000000001); // k·0.01, not k/100
  const dir = sharedPath(t, 'golden', 'coco_eval');
  if (!dir) return;
  const arrays = readSafetensorsArrays(join(dir, 'cocoeval_arrays.safetensors'));
  assertExact(p.iouThrs, arrays.get('iouThrs')!.data as Float64Array, 'iouThrs');
  assertExact(p.recThrs, arrays.get('recThrs')!.data as Float64Array, 'recThrs');
  const expected = readJson(dir, 'expected.json');
  assert.deepEqual(p.maxDets, expected.params.maxDets);
  assert.deepEqual(p.areaRng, expected.params.areaRng);
  assert.deepEqual(p.areaRngLbl, expected.params.areaRngLbl);
});

test('A2D protocol fixture (segm, useCats 0): stats, arrays, summary lines, IoUs and evalImgs are exact', (t) => {
  const dir = sharedPath(t, 'golden', 'coco_eval');
  if (!dir) return;
  const expected = readJson(dir, 'expected.json');
  const r = cocoEval(readJson(dir, 'gt_coco.json'), readJson(dir, 'predictions.json'), { useCats: 0 });
  assertExact(r.stats, expected.stats, 'stats');
  assert.deepEqual(r.lines, expected.summarize_lines);
  assert.deepEqual(r.counts, expected.params.counts);
  assert.deepEqual(r.params.imgIds, expected.params.imgIds_sorted);
  const arrays = readSafetensorsArrays(join(dir, 'cocoeval_arrays.safetensors'));
  for (const name of ['precision', 'recall', 'scores'] as const) assertExact(r[name], arrays.get(name)!.data as Float64Array, name);
  const I = r.params.imgIds.length;
  expected.per_image.forEach((img: { image_id: string; gt_ids: number[]; dt_ids_score_sorted: number[]; ious: number[][]; evalImgs: Record<string, ExpectedEvalImg> }, i: number) => {
    const m = r.ious[i]!;
    assert.equal(m.imageId, img.image_id);
    assert.deepEqual(m.dtIds, img.dt_ids_score_sorted, `${img.image_id} IoU rows`);
    assert.deepEqual(m.gtIds, img.gt_ids);
    assertExact(m.values, img.ious.flat(), `${img.image_id} ious`);
    AREAS.forEach((area, a) => assertEvalImg(r.evalImgs[a * I + i]!, img.evalImgs[area]!, `${img.image_id} ${area}`));
  });
  assert.equal(r.numDetections, 200);
});

test('general fixture, useCats 0 and 1: crowds, uncompressed RLE, ignore override, empty images — exact', (t) => {
  const dir = sharedPath(t, 'golden', 'coco_eval');
  if (!dir) return;
  const gt = readJson(dir, 'general_gt_coco.json');
  const preds = readJson(dir, 'general_predictions.json');
  const expected = readJson(dir, 'general_expected.json');
  const arrays = readSafetensorsArrays(join(dir, 'general_cocoeval_arrays.safetensors'));
  for (const useCats of [0, 1] as const) {
    const e = expected[`useCats${useCats}`];
    const r = cocoEval(gt, preds, { useCats });
    assertExact(r.stats, e.stats, `useCats${useCats} stats`);
    assert.deepEqual(r.lines, e.summarize_lines);
    assert.deepEqual(r.counts, e.counts);
    assert.deepEqual(r.params.imgIds, e.imgIds_sorted);
    for (const name of ['precision', 'recall', 'scores'] as const) {
      assertExact(r[name], arrays.get(`useCats${useCats}.${name}`)!.data as Float64Array, `useCats${useCats} ${name}`);
    }
    checkPerImageCategory(r, e.per_image_category, `useCats${useCats}`);
  }
});

function checkPerImageCategory(r: CocoEvalResult, entries: { image_id: number; category_id: number; ious: number[][]; ious_rows_dt_ids: number[]; ious_cols_gt_ids: number[]; evalImgs: Record<string, ExpectedEvalImg | null> }[], label: string): void {
  const I = r.params.imgIds.length;
  const catIds = r.params.useCats ? r.params.catIds : [-1];
  for (const e of entries) {
    const what = `${label} image ${e.image_id} category ${e.category_id}`;
    const i = r.params.imgIds.indexOf(e.image_id);
    const k = catIds.indexOf(e.category_id);
    assert.ok(i >= 0 && k >= 0, what);
    const m = r.ious[i * catIds.length + k]!;
    assert.equal(m.imageId, e.image_id);
    assert.equal(m.categoryId, e.category_id);
    assert.deepEqual(m.dtIds, e.ious_rows_dt_ids, `${what} IoU rows`);
    assert.deepEqual(m.gtIds, e.ious_cols_gt_ids, `${what} IoU columns`);
    assertExact(m.values, e.ious.flat(), `${what} ious`);
    AREAS.forEach((area, a) => assertEvalImg(r.evalImgs[(k * AREAS.length + a) * I + i]!, e.evalImgs[area]!, `${what} ${area}`));
  }
}

// ---- hand-made cases ----

/** A one-category dataset of w×h images whose masks are axis-aligned rectangles. */
function rectCase(): { gt: CocoDataset; results: CocoResult[] } {
  const h = 40;
  const w = 40;
  const rect = (x0: number, y0: number, x1: number, y1: number) => {
    const m = new Uint8Array(h * w);
    for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) m[y * w + x] = 1;
    return R.toCompressed(R.encode(m, h, w));
  };
  const gt: CocoDataset = {
    images: [{ id: 1, height: h, width: w }, { id: 2, height: h, width: w }],
    categories: [{ id: 1, name: 'thing' }],
    annotations: [
      { id: 1, image_id: 1, category_id: 1, segmentation: rect(0, 0, 10, 10), area: 100, bbox: [0, 0, 10, 10], iscrowd: 0 },
      { id: 2, image_id: 2, category_id: 1, segmentation: rect(10, 10, 30, 30), area: 400, bbox: [10, 10, 20, 20], iscrowd: 0 },
    ],
  };
  const results: CocoResult[] = [
    { image_id: 1, category_id: 1, segmentation: rect(0, 0, 10, 10), score: 0.9 }, // perfect
    { image_id: 2, category_id: 1, segmentation: rect(10, 10, 30, 25), score: 0.8 }, // IoU 0.75
    { image_id: 2, category_id: 1, segmentation: rect(0, 0, 5, 5), score: 0.95 }, // false positive
  ];
  return { gt, results };
}

test('hand-computed case: AP50, AP75, AR1 and AR100 follow the matching rules', () => {
  const { gt, results } = rectCase();
  const r = cocoEval(gt, results, { useCats: 1 });
  // Ranked over both images: FP (0.95), TP (0.9), and the IoU-0.75 detection (0.8), which is a TP
  // up to threshold 0.75 (IoU == threshold matches). Precision envelope then 2/3 at every recall.
  assert.ok(Math.abs(r.stats[1]! - 2 / 3) < 1e-15, `AP50 ${r.stats[1]}`);
  assert.ok(Math.abs(r.stats[2]! - 2 / 3) < 1e-15, `AP75 ${r.stats[2]}`);
  // AR with maxDets 1: image 2's top detection is the false positive, so only image 1 is found
  assert.equal(r.stats[6], 0.5);
  // AR100: recall 1 at the 6 thresholds ≤ .75, 0.5 at the other 4
  assert.ok(Math.abs(r.stats[8]! - 0.8) < 1e-15, `AR100 ${r.stats[8]}`);
  // all ground truths are small (areas 100 and 400): medium and large have none
  assert.deepEqual([r.stats[4], r.stats[5], r.stats[10], r.stats[11]], [-1, -1, -1, -1]);
  assert.equal(r.lines[4], ' Average Precision  (AP) @[ IoU=0.50:0.95 | area=medium | maxDets=100 ] = -1.000');
  assert.deepEqual(r.perCategory.map((c) => [c.id, c.name]), [[1, 'thing']]);
  assert.equal(r.perCategory[0]!.ap50, r.stats[1]);
});

test('bbox evaluation uses the boxes; a results file with bbox decides the area from the box', () => {
  const { gt } = rectCase();
  const results: CocoResult[] = [
    { image_id: 1, category_id: 1, bbox: [0, 0, 10, 10], score: 0.9 },
    { image_id: 2, category_id: 1, bbox: [10, 10, 20, 15], score: 0.8 },
  ];
  const r = cocoEval(gt, results, { iouType: 'bbox' });
  assert.equal(r.stats[1], 1); // both match at IoU .5
  assert.deepEqual(Array.from(r.ious[1]!.values), [300 / 400]);
  // segm evaluation of box-only results rasterises the boxes as polygons
  const s = cocoEval(gt, results, { iouType: 'segm' });
  assert.deepEqual(Array.from(s.ious[1]!.values), [300 / 400]);
});

test('--top1 keeps the highest-scoring detection of each image (earliest on ties) and renumbers', () => {
  const { gt, results } = rectCase();
  const r = cocoEval(gt, results, { top1: true });
  assert.equal(r.numDetections, 2);
  // image 2 keeps the false positive (0.95), so only image 1 is found
  assert.deepEqual(r.ious.map((m) => m.dtIds), [[1], [2]]);
  assert.equal(r.stats[8], 0.5);
});

test('empty results give zero precision where ground truth exists', () => {
  const { gt } = rectCase();
  const r = cocoEval(gt, []);
  assert.deepEqual(r.stats.slice(0, 3), [0, 0, 0]);
  assert.equal(r.stats[3], 0); // both GTs are small
  assert.equal(r.stats[4], -1); // no medium GT
});

test('bad input: clear errors naming the input and entry', () => {
  const { gt, results } = rectCase();
  const opts = { gtSource: 'gt.json', resultsSource: 'pred.json' };
  const expectError = (fn: () => unknown, re: RegExp) => assert.throws(fn, (e: unknown) => e instanceof FileFormatError && re.test(e.message));
  expectError(() => cocoEval(gt, [{ ...results[0]!, image_id: 99 }], opts), /^pred\.json: 1 image id\(s\) are not in the ground truth's images \(99\)/);
  const wrongSize = { ...results[0]!, segmentation: R.toCompressed(R.encode(new Uint8Array(20 * 20), 20, 20)) };
  expectError(() => cocoEval(gt, [wrongSize], opts), /^pred\.json: results\[0\]\.segmentation\.size is 20×20 but its image 1 is 40×40/);
  const zeroId = { ...gt, annotations: gt.annotations.map((a, i) => (i === 0 ? { ...a, id: 0 } : a)) };
  expectError(() => cocoEval(zeroId, results, opts), /^gt\.json: annotations\[0\] has id 0/);
  const dupId = { ...gt, annotations: gt.annotations.map((a) => ({ ...a, id: 5 })) };
  expectError(() => cocoEval(dupId, results, opts), /annotation id 5 appears twice/);
  expectError(() => cocoEval({ images: [] }, results, opts), /^gt\.json: the "annotations" list is missing/);
  expectError(() => cocoEval(gt, { not: 'a list' }, opts), /^pred\.json: results must be a JSON array/);
  expectError(() => cocoEval(gt, [{ ...results[0]!, score: 'high' }], opts), /results\[0\] needs a numeric "score"/);
  expectError(() => cocoEval(gt, [{ ...results[0]!, segmentation: { size: [40, 40], counts: 'a~' } }], opts), /results\[0\]\.segmentation: invalid RLE counts string/);
  const short = { size: [40, 40] as [number, number], counts: [5, 10] };
  expectError(() => cocoEval(gt, [{ ...results[0]!, segmentation: short }], opts), /cover 15 pixels but the mask is 40×40/);
  const mixed = { ...gt, images: [...gt.images, { id: 'x', height: 40, width: 40 }] };
  expectError(() => cocoEval(mixed, results, opts), /image ids mix numbers and strings/);
  const noBox = { ...gt, annotations: [{ ...gt.annotations[0]!, bbox: undefined }] };
  expectError(() => cocoEval(noBox, results, { ...opts, iouType: 'bbox' }), /^gt\.json: annotations\[0\] \(id 1\) has no "bbox", which bbox evaluation needs/);
});

test('results of unknown categories are dropped with a warning, as pycocotools drops them', () => {
  const { gt, results } = rectCase();
  const r = cocoEval(gt, [...results, { ...results[0]!, category_id: 7 }]);
  assert.equal(r.numDetections, 3);
  assert.match(r.warnings.join('\n'), /1 result\(s\) have a category_id not in the ground truth's categories/);
});

test('crowd regions: a detection inside a crowd is ignored (matched to it), not a false positive', () => {
  const h = 30;
  const w = 30;
  const rect = (x0: number, y0: number, x1: number, y1: number) => {
    const m = new Uint8Array(h * w);
    for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) m[y * w + x] = 1;
    return R.encode(m, h, w);
  };
  const crowd = rect(15, 15, 30, 30);
  const gt: CocoDataset = {
    images: [{ id: 'img', height: h, width: w }],
    categories: [{ id: 1 }],
    annotations: [
      { id: 1, image_id: 'img', category_id: 1, segmentation: R.toCompressed(rect(0, 0, 10, 10)), area: 100, iscrowd: 0 },
      // crowd given as uncompressed RLE, as COCO stores crowds
      { id: 2, image_id: 'img', category_id: 1, segmentation: { size: [h, w], counts: Array.from(crowd.counts) }, area: 225, iscrowd: 1 },
    ],
  };
  const results: CocoResult[] = [
    { image_id: 'img', category_id: 1, segmentation: R.toCompressed(rect(20, 20, 25, 25)), score: 0.9 }, // inside the crowd
    { image_id: 'img', category_id: 1, segmentation: R.toCompressed(rect(0, 0, 10, 10)), score: 0.8 },
  ];
  const r = cocoEval(gt, results);
  // crowd IoU = |d ∩ crowd| / |d| = 1
  assert.deepEqual(Array.from(r.ious[0]!.values), [0, 1, 1, 0]);
  const all = r.evalImgs[0]!;
  assert.deepEqual(all.gtIds, [1, 2]);
  assert.deepEqual(Array.from(all.dtMatches.subarray(0, 2)), [2, 1]);
  assert.deepEqual(Array.from(all.dtIgnore.subarray(0, 2)), [1, 0]);
  // the crowd detection does not lower precision (a lone TP has precision 1/(1 + eps), as in pycocotools)
  assert.ok(Math.abs(r.stats[1]! - 1) < 1e-15, `AP50 ${r.stats[1]}`);
  // the same detection against a regular (non-crowd) region would be a false positive first
  const regular = { ...gt, annotations: [gt.annotations[0]!] };
  assert.equal(cocoEval(regular, results).stats[1], 0.5);
});
