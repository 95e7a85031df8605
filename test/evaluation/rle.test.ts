// COCO RLE codec against the pycocotools-produced fixtures and hand-checked edge cases.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import * as R from '../../src/evaluation/coco/rle.js';
import { readSafetensorsArrays } from '../../src/io/safetensors.js';
import { sharedPath } from '../helpers/shared.js';

const readJson = (dir: string, name: string) => JSON.parse(readFileSync(join(dir, name), 'utf8'));

/** Row-major mask from rows of '0'/'1' characters. */
function maskOf(rows: string[]): { data: Uint8Array; h: number; w: number } {
  const h = rows.length;
  const w = rows[0]!.length;
  return { data: Uint8Array.from(rows.join(''), (c) => (c === '1' ? 1 : 0)), h, w };
}

test('encoding every fixture mask reproduces the counts strings of gt_coco.json and predictions.json', (t) => {
  const dir = sharedPath(t, 'golden', 'coco_eval');
  if (!dir) return;
  const gt = readJson(dir, 'gt_coco.json');
  const preds = readJson(dir, 'predictions.json');
  const expected = readJson(dir, 'expected.json');
  const masks = readSafetensorsArrays(join(dir, 'masks.safetensors'));
  let checked = 0;
  for (const ann of gt.annotations) {
    const m = masks.get(`${ann.image_id}.gt`)!;
    const [h, w] = m.shape as [number, number];
    const rle = R.encode(m.data as Uint8Array, h, w);
    assert.deepEqual(R.toCompressed(rle), ann.segmentation, `gt ${ann.id}`);
    assert.equal(R.area(rle), ann.area);
    assert.deepEqual(R.decode(R.fromCompressed(ann.segmentation)), m.data, `decode gt ${ann.id}`);
    checked++;
  }
  preds.forEach((p: { image_id: string; segmentation: R.CompressedRle }, i: number) => {
    const det = expected.detections[i];
    const stack = masks.get(`${p.image_id}.pred`)!;
    const [, h, w] = stack.shape as [number, number, number];
    const m = (stack.data as Uint8Array).subarray(det.query * h * w, (det.query + 1) * h * w);
    const rle = R.encode(m, h, w);
    assert.equal(R.countsToString(rle.counts), p.segmentation.counts, `prediction ${i}`);
    assert.deepEqual(p.segmentation.size, [h, w]);
    assert.equal(R.area(rle), det.area, `area of prediction ${i}`);
    assert.deepEqual(R.toBbox(rle), det.bbox_toBbox, `toBbox of prediction ${i}`);
    assert.deepEqual(R.countsFromString(p.segmentation.counts), rle.counts, `string round trip ${i}`);
    assert.deepEqual(R.decode(rle), m, `decode prediction ${i}`);
    checked++;
  });
  assert.equal(checked, 240);
});

test('general fixture: every GT and detection mask encodes to its counts (uncompressed GT via frPyObjects)', (t) => {
  const dir = sharedPath(t, 'golden', 'coco_eval');
  if (!dir) return;
  const gt = readJson(dir, 'general_gt_coco.json');
  const preds = readJson(dir, 'general_predictions.json');
  const expected = readJson(dir, 'general_expected.json');
  const masks = readSafetensorsArrays(join(dir, 'general_masks.safetensors'));
  const afterPrepare = new Map<number, string>(expected.useCats1.gt_after_prepare.map((g: { id: number; counts: string }) => [g.id, g.counts]));
  const seenGt = new Map<string, number>();
  for (const ann of gt.annotations) {
    const k = seenGt.get(ann.image_id) ?? 0;
    seenGt.set(ann.image_id, k + 1);
    const stack = masks.get(`${ann.image_id}.gt`)!;
    const [, h, w] = stack.shape as [number, number, number];
    const m = (stack.data as Uint8Array).subarray(k * h * w, (k + 1) * h * w);
    const rle = R.encode(m, h, w);
    if (typeof ann.segmentation.counts === 'string') {
      assert.equal(R.countsToString(rle.counts), ann.segmentation.counts);
    } else {
      // uncompressed RLE: frPyObjects keeps the counts and the object's own size
      const fromList = R.frPyObjects(ann.segmentation, 1, 1) as R.Rle;
      assert.deepEqual([fromList.height, fromList.width], [h, w]);
      assert.deepEqual(fromList.counts, rle.counts);
    }
    assert.equal(R.countsToString(rle.counts), afterPrepare.get(ann.id), `gt ${ann.id} after _prepare`);
  }
  // The README says <id>.dt follows the order of predictions.json, but the stored stacks are in
  // another order; match every detection to one unused mask of its image instead.
  const unused = new Map<number, string[]>();
  for (const p of preds as { image_id: number }[]) {
    if (unused.has(p.image_id)) continue;
    const stack = masks.get(`${p.image_id}.dt`)!;
    const [n, h, w] = stack.shape as [number, number, number];
    const strings: string[] = [];
    for (let k = 0; k < n; k++) strings.push(R.countsToString(R.encode((stack.data as Uint8Array).subarray(k * h * w, (k + 1) * h * w), h, w).counts));
    unused.set(p.image_id, strings);
  }
  preds.forEach((p: { image_id: number; segmentation: R.CompressedRle }, i: number) => {
    const pool = unused.get(p.image_id)!;
    const at = pool.indexOf(p.segmentation.counts);
    assert.ok(at >= 0, `detection ${i} (image ${p.image_id}) is not the encoding of any of its masks`);
    pool.splice(at, 1);
    const rle = R.fromCompressed(p.segmentation);
    const loaded = expected.useCats1.loadres_detections[i];
    assert.equal(R.area(rle), loaded.area);
    assert.deepEqual(R.toBbox(rle), loaded.bbox);
  });
  for (const [id, pool] of unused) assert.equal(pool.length, 0, `image ${id} has masks without a detection`);
});

test('column-major runs start with zeros; empty, full, 1×N and N×1 masks', () => {
  const m = maskOf(['0110', '0010']);
  // column-major: col0 = 0,0  col1 = 1,0  col2 = 1,1  col3 = 0,0
  assert.deepEqual(Array.from(R.encode(m.data, m.h, m.w).counts), [2, 1, 1, 2, 2]);
  const full = maskOf(['11', '11']);
  const fullRle = R.encode(full.data, 2, 2);
  assert.deepEqual(Array.from(fullRle.counts), [0, 4]);
  assert.deepEqual(R.toBbox(fullRle), [0, 0, 2, 2]);
  const empty = R.encode(new Uint8Array(6), 2, 3);
  assert.deepEqual(Array.from(empty.counts), [6]);
  assert.equal(R.area(empty), 0);
  assert.deepEqual(R.toBbox(empty), [0, 0, 0, 0]);
  assert.deepEqual(R.decode(empty), new Uint8Array(6));
  // 1×N row and N×1 column
  const row = maskOf(['0011100']);
  const rowRle = R.encode(row.data, 1, 7);
  assert.deepEqual(Array.from(rowRle.counts), [2, 3, 2]);
  assert.deepEqual(R.toBbox(rowRle), [2, 0, 3, 1]);
  const col = maskOf(['0', '1', '1', '0']);
  const colRle = R.encode(col.data, 4, 1);
  assert.deepEqual(Array.from(colRle.counts), [1, 2, 1]);
  assert.deepEqual(R.toBbox(colRle), [0, 1, 1, 2]);
  // a 0×0 mask encodes to a single empty run
  assert.deepEqual(Array.from(R.encode(new Uint8Array(0), 0, 0).counts), [0]);
  for (const x of [m, full, row, col]) assert.deepEqual(R.decode(R.encode(x.data, x.h, x.w)), x.data);
});

test('toBbox spans the full height when a run crosses columns', () => {
  // column-major 3×3: pixels 2..4 (col0 row2, col1 rows 0-1)
  const rle: R.Rle = { height: 3, width: 3, counts: Uint32Array.from([2, 3, 4]) };
  assert.deepEqual(R.toBbox(rle), [0, 0, 2, 3]);
});

test('counts strings: differences from the fourth count, negative values, large counts', () => {
  const counts = [0, 5, 3, 1, 1_000_000, 2, 4_000_000_000, 7];
  const s = R.countsToString(counts);
  assert.deepEqual(Array.from(R.countsFromString(s)), counts);
  // known pycocotools strings: a full 96×128 mask and an empty one
  assert.deepEqual(Array.from(R.countsFromString('0PP<')), [0, 12288]);
  assert.deepEqual(Array.from(R.countsFromString('PP<')), [12288]);
  assert.equal(R.countsToString([0, 12288]), '0PP<');
  assert.equal(R.countsToString([]), '');
});

test('malformed counts strings are rejected with the reason', () => {
  assert.throws(() => R.countsFromString('0P'), /ends inside a number/);
  assert.throws(() => R.countsFromString('ab~'), /outside '0'..'o'/);
  assert.throws(() => R.decode({ height: 2, width: 2, counts: Uint32Array.from([1, 4]) }), /more than the 2×2 image/);
});

test('uncompressed RLE input (frPyObjects / fromUncompressed) equals the compressed form', () => {
  const m = maskOf(['0110', '0011', '1000']);
  const rle = R.encode(m.data, 3, 4);
  const unc: R.UncompressedRle = { size: [3, 4], counts: Array.from(rle.counts) };
  const viaList = R.frPyObjects([unc], 99, 99) as R.Rle[];
  assert.equal(viaList.length, 1);
  assert.deepEqual(R.toCompressed(viaList[0]!), R.toCompressed(rle));
  assert.deepEqual(R.toCompressed(R.frPyObjects(unc, 1, 1) as R.Rle), R.toCompressed(rle));
});

test('frPoly / frBbox match the reference C implementation on fixed polygons', () => {
  // Expected strings produced by pycocotools' maskApi.c (rleFrPoly / rleFrBbox + rleToString).
  const polys: [number, number, number[], string][] = [
    [20, 30, [2.3, 1.7, 25.9, 3.1, 20.2, 17.8, 4.6, 15.2], 'n16>6J1O1O00000000001O01O00000001O00O1M3N2M3N2M`2'],
    [10, 10, [-2, -2, 12, 5, 3, 14], '0643M10O001O001N1O2NM'],
    [12, 16, [1, 1, 14, 1, 14, 10, 8, 5, 1, 10], '=93O1O1O100O1O1001O1O1O1O1f0'],
    [8, 8, [0, 0, 8, 0, 8, 8, 0, 8], '0P2'],
    [7, 5, [0.5, 0.5, 4.5, 0.5, 4.5, 6.5, 2.5, 3, 2.5, 3, 0.5, 6.5], '843N22N1N'],
  ];
  for (const [h, w, xy, expected] of polys) assert.equal(R.countsToString(R.frPoly(xy, h, w).counts), expected, `polygon ${xy}`);
  const boxes: [number, number, number[], string][] = [
    [10, 12, [2, 3, 5, 4], 'g0460000000_1'],
    [10, 12, [-1.5, -1, 4.25, 3.75], '037000j2'],
    [6, 6, [0, 0, 6, 6], '0T1'],
  ];
  for (const [h, w, bb, expected] of boxes) assert.equal(R.countsToString(R.frBbox(bb, h, w).counts), expected, `box ${bb}`);
  // frPyObjects dispatches on the first entry's length: 4 → boxes, more → polygons
  const asBoxes = R.frPyObjects([[2, 3, 5, 4]], 10, 12) as R.Rle[];
  assert.equal(R.countsToString(asBoxes[0]!.counts), 'g0460000000_1');
});

/** Brute-force IoU with pycocotools' crowd rule. */
function bruteIou(d: Uint8Array, g: Uint8Array, crowd: boolean): number {
  let i = 0;
  let u = 0;
  let da = 0;
  for (let k = 0; k < d.length; k++) {
    if (d[k] && g[k]) i++;
    if (d[k] || g[k]) u++;
    if (d[k]) da++;
  }
  return i === 0 ? 0 : i / (crowd ? da : u);
}

test('iou and merge agree with brute force (crowd and non-crowd, empty masks)', () => {
  let seed = 7;
  const rnd = (): number => (seed = (seed * 16807) % 2147483647) / 2147483647;
  for (let trial = 0; trial < 200; trial++) {
    const h = 1 + Math.floor(rnd() * 9);
    const w = 1 + Math.floor(rnd() * 9);
    const mk = (): Uint8Array => {
      const p = rnd();
      return Uint8Array.from({ length: h * w }, () => (rnd() < p * 0.8 ? 1 : 0));
    };
    const dts = [mk(), mk(), new Uint8Array(h * w)];
    const gts = [mk(), mk()];
    const crowd = [0, 1];
    const out = R.iou(dts.map((m) => R.encode(m, h, w)), gts.map((m) => R.encode(m, h, w)), crowd);
    for (let d = 0; d < dts.length; d++) {
      for (let g = 0; g < gts.length; g++) assert.equal(out[d * 2 + g], bruteIou(dts[d]!, gts[g]!, !!crowd[g]));
    }
    for (const intersect of [false, true]) {
      const merged = R.decode(R.merge(dts.slice(0, 2).map((m) => R.encode(m, h, w)), intersect));
      const expected = dts[0]!.map((v, k) => (intersect ? v & dts[1]![k]! : v | dts[1]![k]!));
      assert.deepEqual(merged, expected);
    }
  }
  assert.deepEqual(R.iou([], [R.encode(new Uint8Array(4), 2, 2)], [0]), new Float64Array(0));
});

test('iou of masks with different sizes is −1 where boxes overlap', () => {
  const a = R.encode(Uint8Array.from([1, 1, 1, 1]), 2, 2);
  const b = R.encode(Uint8Array.from([1, 1, 1, 1, 1, 1]), 2, 3);
  assert.deepEqual(Array.from(R.iou([a], [b], [0])), [-1]);
});

test('bboxIou: overlap, crowd denominator, touching boxes', () => {
  const out = R.bboxIou([[0, 0, 10, 10], [10, 0, 5, 5]], [[5, 5, 10, 10]], [0]);
  assert.equal(out[0], 25 / 175);
  assert.equal(out[1], 0); // touches only along an edge
  assert.equal(R.bboxIou([[0, 0, 10, 10]], [[5, 5, 10, 10]], [1])[0], 25 / 100);
});
