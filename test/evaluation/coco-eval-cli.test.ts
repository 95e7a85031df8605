// `soc coco-eval` end to end: output format, --json, --top1, exit codes and error messages.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { REPO_ROOT, sharedPath, tempDir } from '../helpers/shared.js';

function soc(...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [join(REPO_ROOT, 'bin', 'soc.js'), ...args], {
    cwd: REPO_ROOT,
    encoding: 'utf8',
    env: { ...process.env, SOC_FROM_SOURCE: '1', SOC_DEBUG: '' },
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('coco-eval prints pycocotools summary lines and writes --json atomically (A2D fixture, useCats 0)', (t) => {
  const dir = sharedPath(t, 'golden', 'coco_eval');
  if (!dir) return;
  const out = tempDir(t);
  const jsonPath = join(out, 'metrics.json');
  const r = soc('coco-eval', '--gt', join(dir, 'gt_coco.json'), '--pred', join(dir, 'predictions.json'), '--use-cats', '0', '--json', jsonPath);
  assert.equal(r.code, 0, r.stderr);
  const expected = JSON.parse(readFileSync(join(dir, 'expected.json'), 'utf8'));
  assert.deepEqual(r.stdout.trimEnd().split('\n'), expected.summarize_lines);
  const report = JSON.parse(readFileSync(jsonPath, 'utf8'));
  assert.deepEqual(report.stats, expected.stats);
  assert.equal(report.params.useCats, 0);
  assert.equal(report.params.iouType, 'segm');
  assert.deepEqual(report.params.iouThrs, expected.params.iouThrs);
  assert.equal(report.per_category, null);
  assert.equal(report.protocol, 'all-predictions');
  assert.deepEqual(readdirSync(out), ['metrics.json'], 'no temporary file is left behind');
});

test('coco-eval --use-cats 1 on the general fixture gives per-category results', (t) => {
  const dir = sharedPath(t, 'golden', 'coco_eval');
  if (!dir) return;
  const out = tempDir(t);
  const jsonPath = join(out, 'general.json');
  const r = soc('coco-eval', '--gt', join(dir, 'general_gt_coco.json'), '--pred', join(dir, 'general_predictions.json'), '--json', jsonPath);
  assert.equal(r.code, 0, r.stderr);
  const expected = JSON.parse(readFileSync(join(dir, 'general_expected.json'), 'utf8')).useCats1;
  assert.deepEqual(r.stdout.trimEnd().split('\n'), expected.summarize_lines);
  const report = JSON.parse(readFileSync(jsonPath, 'utf8'));
  assert.deepEqual(report.stats, expected.stats);
  assert.deepEqual(report.per_category.map((c: { id: number; name: string }) => [c.id, c.name]), [[1, 'cat_a'], [2, 'cat_b']]);
});

test('coco-eval --top1 is labelled and scores one prediction per image', (t) => {
  const dir = sharedPath(t, 'golden', 'coco_eval');
  if (!dir) return;
  const out = tempDir(t);
  const jsonPath = join(out, 'top1.json');
  const r = soc('coco-eval', '--gt', join(dir, 'gt_coco.json'), '--pred', join(dir, 'predictions.json'), '--use-cats', '0', '--top1', '--json', jsonPath);
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.trimEnd().split('\n');
  assert.equal(lines.length, 13);
  assert.match(lines[0]!, /^top-1 protocol: only the highest-scoring prediction of each image is scored/);
  const report = JSON.parse(readFileSync(jsonPath, 'utf8'));
  assert.equal(report.protocol, 'top1');
  assert.equal(report.num_detections, 40);
  // with one detection per image, AR@1 = AR@10 = AR@100
  assert.equal(report.stats[6], report.stats[8]);
});

test('coco-eval bbox evaluation from files', (t) => {
  const out = tempDir(t);
  const gt = {
    images: [{ id: 1, width: 50, height: 40 }],
    categories: [{ id: 3, name: 'box' }],
    annotations: [{ id: 1, image_id: 1, category_id: 3, bbox: [10, 10, 20, 20], area: 400, iscrowd: 0 }],
  };
  const pred = [{ image_id: 1, category_id: 3, bbox: [10, 10, 20, 20], score: 0.5 }];
  writeFileSync(join(out, 'gt.json'), JSON.stringify(gt));
  writeFileSync(join(out, 'pred.json'), JSON.stringify(pred));
  const r = soc('coco-eval', '--gt', join(out, 'gt.json'), '--pred', join(out, 'pred.json'), '--iou-type', 'bbox');
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.trimEnd().split('\n');
  assert.equal(lines[0], ' Average Precision  (AP) @[ IoU=0.50:0.95 | area=   all | maxDets=100 ] = 1.000');
  assert.equal(lines[3], ' Average Precision  (AP) @[ IoU=0.50:0.95 | area= small | maxDets=100 ] = 1.000');
  assert.equal(lines[4], ' Average Precision  (AP) @[ IoU=0.50:0.95 | area=medium | maxDets=100 ] = -1.000');
});

test('coco-eval bad input: one clear line naming the file, exit code 1, no stack trace', (t) => {
  const out = tempDir(t);
  const gtPath = join(out, 'gt.json');
  const predPath = join(out, 'pred.json');
  writeFileSync(gtPath, JSON.stringify({
    images: [{ id: 1, width: 4, height: 4 }],
    categories: [{ id: 1 }],
    annotations: [{ id: 1, image_id: 1, category_id: 1, segmentation: { size: [4, 4], counts: '0`0' }, area: 16, iscrowd: 0 }],
  }));
  const cases: [string, RegExp][] = [
    ['{"image_id": 1,', /not valid JSON/],
    [JSON.stringify([{ image_id: 2, category_id: 1, segmentation: { size: [4, 4], counts: '0`0' }, score: 1 }]), /1 image id\(s\) are not in the ground truth's images \(2\)/],
    [JSON.stringify([{ image_id: 1, category_id: 1, segmentation: { size: [5, 4], counts: '0d0' }, score: 1 }]), /results\[0\]\.segmentation\.size is 5×4 but its image 1 is 4×4/],
  ];
  for (const [content, message] of cases) {
    writeFileSync(predPath, content);
    const r = soc('coco-eval', '--gt', gtPath, '--pred', predPath);
    assert.equal(r.code, 1, r.stdout);
    assert.equal(r.stdout, '');
    const lines = r.stderr.trimEnd().split('\n');
    assert.equal(lines.length, 1, r.stderr);
    assert.ok(lines[0]!.startsWith(`soc: error: ${predPath}: `), lines[0]);
    assert.match(lines[0]!, message);
  }
  const missing = soc('coco-eval', '--gt', join(out, 'nope.json'), '--pred', predPath);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /^soc: error: .*nope\.json: cannot read the file \(ENOENT\)/);
  const badType = soc('coco-eval', '--gt', gtPath, '--pred', predPath, '--iou-type', 'keypoints');
  assert.notEqual(badType.code, 0);
  assert.match(badType.stderr, /--iou-type.*keypoints.*is invalid/s);
});
