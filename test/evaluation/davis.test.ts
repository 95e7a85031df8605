// Per-video statistics and the J&F aggregate against the DAVIS-toolkit fixture.
import { linearSumAssignment } from '../../src/evaluation/assignment.js';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  type MaskStack,
  dbStatistics,
  evaluateSemisupervised,
  evaluateUnsupervised,
  perFrameJF,
  summarizeObjects,
} from '../../src/evaluation/davis.js';
import { readSafetensorsArrays } from '../../src/io/safetensors.js';
import { sharedPath } from '../helpers/shared.js';

test('two-video aggregate: per-frame J/F, per-video M/R/D and the global table equal metrics.json', (t) => {
  const dir = sharedPath(t, 'golden', 'metrics');
  if (!dir) return;
  const expected = JSON.parse(readFileSync(join(dir, 'metrics.json'), 'utf8')).two_video_aggregate;
  const arrays = readSafetensorsArrays(join(dir, 'masks.safetensors'));
  const stack = (name: string): MaskStack => {
    const e = arrays.get(name)!;
    return { data: e.data as Uint8Array, frames: e.shape[0]!, height: e.shape[1]!, width: e.shape[2]! };
  };
  const objects = ['video_A', 'video_B'].map((name) => {
    const gt = stack(`${name}.gt`);
    const scores = perFrameJF(gt, stack(`${name}.pred`));
    const e = expected[name];
    assert.equal(gt.frames, e.frames);
    assert.deepEqual(Array.from(scores.j), e.J_per_frame, `${name} J per frame`);
    assert.deepEqual(Array.from(scores.f), e.F_per_frame, `${name} F per frame`);
    // semi-supervised evaluation of the single object gives the same
    assert.deepEqual(evaluateSemisupervised([gt], [stack(`${name}.pred`)])[0], scores);
    return { name, ...scores };
  });
  const s = summarizeObjects(objects);
  for (const o of s.perObject) {
    const e = expected[o.name];
    assert.deepEqual(
      [o.J.mean, o.J.recall, o.J.decay, o.F.mean, o.F.recall, o.F.decay],
      [e.J_mean, e.J_recall, e.J_decay, e.F_mean, e.F_recall, e.F_decay],
      o.name,
    );
  }
  for (const key of ['J&F-Mean', 'J-Mean', 'J-Recall', 'J-Decay', 'F-Mean', 'F-Recall', 'F-Decay'] as const) {
    assert.ok(Math.abs(s[key] - expected.global[key]) <= 1e-9, key);
    assert.equal(s[key], expected.global[key], `${key} bit-exact`);
  }
});

test('db_statistics: bins of 4, one frame, NaN frames', () => {
  // 8 frames: linspace(1, 8, 5) = [1, 2.75, 4.5, 6.25, 8] → ids [0, 2, 4, 5, 7]
  // → bins v[0:3], v[2:5], v[4:6], v[5:8]
  const v = [1, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.2];
  const s = dbStatistics(v);
  assert.equal(s.recall, 5 / 8);
  assert.equal(s.decay, (1 + 0.9 + 0.8) / 3 - (0.5 + 0.4 + 0.2) / 3);
  assert.deepEqual(dbStatistics([0.7]), { mean: 0.7, recall: 1, decay: 0 });
  const withNan = dbStatistics([1, NaN, 0.5]);
  assert.equal(withNan.mean, 0.75);
});

test('linear sum assignment: optimal, scipy tie-breaking, rectangular both ways', () => {
  const eye = linearSumAssignment(new Float64Array(9).fill(1), 3, 3);
  assert.deepEqual([Array.from(eye.rows), Array.from(eye.cols)], [[0, 1, 2], [0, 1, 2]]);
  const tall = linearSumAssignment(Float64Array.from([0.516, 0.116, 0.623, 0.777, 0.613, 0.917]), 3, 2);
  assert.deepEqual([Array.from(tall.rows), Array.from(tall.cols)], [[0, 2], [1, 0]]);
  const wide = linearSumAssignment(Float64Array.from([4, 1, 3, 2, 0, 5]), 2, 3);
  assert.deepEqual([Array.from(wide.rows), Array.from(wide.cols)], [[0, 1], [1, 0]]);
  // expected pairs computed with scipy.optimize.linear_sum_assignment (ties: integer costs)
  const ties = linearSumAssignment(Float64Array.from([0, 2, 1, 2, 1, 1, 0, 1, 1, 2, 2, 0, 1, 2, 0, 1, 2, 1]), 6, 3);
  assert.deepEqual([Array.from(ties.rows), Array.from(ties.cols)], [[0, 1, 3], [0, 1, 2]]);
});

test('unsupervised evaluation matches proposals to objects and pads missing proposals', () => {
  const h = 4;
  const w = 4;
  const frame = (cells: number[]): Uint8Array => {
    const m = new Uint8Array(h * w);
    for (const c of cells) m[c] = 1;
    return m;
  };
  const obj = (cells: number[]): MaskStack => ({ data: frame(cells), frames: 1, height: h, width: w });
  const gtA = obj([0, 1, 4, 5]);
  const gtB = obj([10, 11, 14, 15]);
  // proposal 0 covers B, proposal 1 covers A
  const r = evaluateUnsupervised([gtA, gtB], [obj([10, 11, 14, 15]), obj([0, 1, 4, 5])]);
  assert.deepEqual(r.map((m) => [m.proposalIndex, m.gtIndex, m.j[0]]), [[0, 1, 1], [1, 0, 1]]);
  // one proposal for two objects: the missing one is empty (J 0)
  const padded = evaluateUnsupervised([gtA, gtB], [obj([0, 1, 4, 5])]);
  assert.deepEqual(padded.map((m) => [m.proposalIndex, m.gtIndex, m.j[0]]), [[0, 0, 1], [1, 1, 0]]);
  assert.throws(() => evaluateUnsupervised([gtA], Array.from({ length: 21 }, () => gtA)), /more than the 20 proposals/);
});
