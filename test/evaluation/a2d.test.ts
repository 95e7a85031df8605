// A2D-Sentences precision@K / overall IoU / mean IoU against metrics.py's values in both fixtures.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { a2dMetricsFromCoco, iouFromCounts, maskIou, precisionAtKAndIou } from '../../src/evaluation/a2d.js';
import * as R from '../../src/evaluation/coco/rle.js';
import { readSafetensorsArrays } from '../../src/io/safetensors.js';
import { sharedPath } from '../helpers/shared.js';

const readJson = (dir: string, name: string) => JSON.parse(readFileSync(join(dir, name), 'utf8'));

test('metrics fixture: per-image choice (last of tied scores), float32 IoU, strict thresholds', (t) => {
  const dir = sharedPath(t, 'golden', 'metrics');
  if (!dir) return;
  const a2d = readJson(dir, 'metrics.json').a2d_metrics;
  const masks = readSafetensorsArrays(join(dir, 'masks.safetensors'));
  // the RLE strings in metrics.json decode to the stored masks
  const perImage = new Map<string, number>();
  a2d.predictions.forEach((p: { image_id: string; segmentation: R.CompressedRle }) => {
    const k = perImage.get(p.image_id) ?? 0;
    perImage.set(p.image_id, k + 1);
    assert.deepEqual(R.decode(R.fromCompressed(p.segmentation)), masks.get(`a2d.${p.image_id}.pred_${k}`)!.data);
  });
  const images = a2d.gt_annotations.map((a: { image_id: string; segmentation: { size: number[] } }) => ({
    id: a.image_id,
    height: a.segmentation.size[0],
    width: a.segmentation.size[1],
  }));
  const gt = { images, annotations: a2d.gt_annotations, categories: [{ id: 1, name: 'dummy_class' }] };
  const r = a2dMetricsFromCoco(gt, a2d.predictions);
  r.perImage.forEach((p, i) => {
    const e = a2d.per_image[i];
    assert.equal(p.imageId, e.image_id);
    assert.equal(p.score, e.selected_score);
    assert.deepEqual([p.sample.intersection, p.sample.union, p.sample.iou], [e.intersection, e.union, e.iou_float32]);
  });
  for (const k of ['0.5', '0.6', '0.7', '0.8', '0.9']) assert.equal(r.precisionAtK[k], a2d[`P@${k}`], `P@${k}`);
  assert.equal(r.overallIou, a2d.overall_iou);
  assert.equal(r.meanIou, a2d.mean_iou);
});

test('coco_eval fixture: P@K, overall IoU and mean IoU of the trainer equal expected.json', (t) => {
  const dir = sharedPath(t, 'golden', 'coco_eval');
  if (!dir) return;
  const expected = readJson(dir, 'expected.json');
  const preds = readJson(dir, 'predictions.json');
  const r = a2dMetricsFromCoco(readJson(dir, 'gt_coco.json'), preds);
  for (const [k, v] of Object.entries(expected.precision_at_k)) assert.equal(r.precisionAtK[k], v, `P@${k}`);
  assert.equal(r.overallIou, expected.overall_iou);
  assert.equal(r.meanIou, expected.mean_iou);
  // the chosen prediction, its float32 IoU, I and U for every sample
  r.perImage.forEach((p, i) => {
    const e = expected.samples[i].metrics_py;
    assert.equal(p.imageId, e.image_id);
    assert.equal(p.resultIndex + 1, e.chosen_dt_id, `${e.image_id} chosen detection`);
    assert.deepEqual([p.sample.iou, p.sample.intersection, p.sample.union], [e.iou_f32, e.intersection, e.union]);
  });
});

test('compute_iou from masks: empty vs empty is 1, float32 smoothing, size check', () => {
  const m = (bits: number[]) => ({ data: Uint8Array.from(bits), height: 1, width: bits.length });
  assert.equal(maskIou(m([0, 0, 0]), m([0, 0, 0])).iou, 1);
  assert.equal(maskIou(m([1, 1, 0]), m([0, 1, 1])).iou, Math.fround(Math.fround(1 + Math.fround(1e-6)) / Math.fround(3 + Math.fround(1e-6))));
  assert.equal(iouFromCounts(0, 168).iou, 5.952380810470004e-9);
  assert.throws(() => maskIou(m([1]), m([1, 0])), /shapes differ \(1×1 vs 1×2\)/);
});

test('precision@K counts IoU strictly above K (compared as float32 values against float64 K)', () => {
  const half = iouFromCounts(104, 208); // smoothing vanishes in float32: exactly 0.5
  const sixty = iouFromCounts(60, 100); // float32(0.6) = 0.6000000238… > 0.6
  assert.equal(half.iou, 0.5);
  assert.equal(sixty.iou, Math.fround(0.6));
  const s = precisionAtKAndIou([half, sixty]);
  assert.deepEqual(s.precisionAtK, { '0.5': 0.5, '0.6': 0.5, '0.7': 0, '0.8': 0, '0.9': 0 });
  assert.equal(s.overallIou, 164 / 308);
  assert.equal(s.meanIou, (0.5 + Math.fround(0.6)) / 2);
});
