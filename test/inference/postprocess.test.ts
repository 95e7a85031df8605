// Post-processing pieces not covered by the golden replay: Ref-DAVIS object merging, boxes.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { boxesToPixels, mergeDavisObjects, selectReferredQuery } from '../../src/inference/postprocess.js';
import * as torch from '../../src/tensor/index.js';

test('Ref-DAVIS merge: probabilities below 0.5 dropped, background 0.1, ties to the lower index', () => {
  const probs = torch.tensor([[[[0.6, 0.4, 0.7, 0.3]]], [[[0.55, 0.9, 0.7, 0.2]]]], { dtype: 'float32' }); // [2 objects, 1 frame, 1, 4]
  const labels = mergeDavisObjects(probs);
  assert.equal(labels.dtype, 'uint8');
  assert.deepEqual(labels.toArray(), [[[1, 2, 1, 0]]]);
});

test('query selection averages sigmoid scores over time', () => {
  // [T=2, B=1, Q=3, 1]: query 2 wins on average although query 0 wins frame 0
  const logits = torch.tensor([[[[3], [0], [2]]], [[[-3], [0], [2]]]], { dtype: 'float32' });
  const { scores, index } = selectReferredQuery(logits);
  assert.deepEqual(index.toArray(), [2]);
  const s = (x: number) => 1 / (1 + Math.exp(-x));
  const want = [(s(3) + s(-3)) / 2, 0.5, s(2)];
  scores.toNumbers().forEach((v, i) => assert.ok(Math.abs(v - want[i]!) < 1e-6));
});

test('boxes from normalised cxcywh to original-frame pixels', () => {
  const b = boxesToPixels(torch.tensor([[0.5, 0.5, 0.2, 0.4]], { dtype: 'float32' }), [100, 200]);
  assert.deepEqual(b.toNumbers().map((v) => Math.round(v * 1e4) / 1e4), [80, 30, 120, 70]);
});
