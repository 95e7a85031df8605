// NumPy / Python numeric behaviour the metrics rely on.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  argsortDescendingStable,
  compareIds,
  formatFixed,
  linspace,
  npMean,
  pairwiseSum,
  roundHalfEven,
} from '../../src/evaluation/numeric.js';

test('pairwiseSum follows numpy: sequential below 8, 8 accumulators up to 128, halves above', () => {
  assert.equal(pairwiseSum([]), 0);
  assert.equal(pairwiseSum([0.1, 0.2, 0.3]), 0.1 + 0.2 + 0.3);
  const eight = [1e16, 1, 1, 1, 1, 1, 1, 1, 1];
  // r0 = 1e16 + 1 (lost), the rest summed in lanes, then the 9th added at the end
  const lanes = ((1e16 + 1) + (1 + 1)) + ((1 + 1) + (1 + 1));
  assert.equal(pairwiseSum(eight), lanes + 1);
  assert.equal(pairwiseSum(eight), 1.0000000000000008e16); // numpy.sum
  const many = Array.from({ length: 1010 }, (_, i) => ((i * 7919) % 101) / 101);
  let seq = 0;
  for (const v of many) seq += v;
  assert.equal(seq, 499.99999999999994); // a left-to-right sum
  assert.equal(pairwiseSum(many), 500); // numpy.sum of the same array
  assert.equal(npMean([1, 2, 3, 4]), 2.5);
});

test('linspace equals numpy (k·step + start, last value forced)', () => {
  assert.deepEqual(Array.from(linspace(0.5, 0.95, 10)), [0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.8999999999999999, 0.95]);
  const r = linspace(0, 1, 101);
  const ulpAbove = [35, 41, 47, 57, 69, 70, 82, 83, 94, 95];
  for (let k = 0; k < 101; k++) {
    if (ulpAbove.includes(k)) assert.ok(r[k]! > k / 100, `recThrs[${k}]`);
    else assert.equal(r[k], k / 100, `recThrs[${k}]`);
  }
  assert.deepEqual(Array.from(linspace(1, 1, 5)), [1, 1, 1, 1, 1]);
});

test("formatFixed is Python's '{:.Nf}': exact ties go to even", () => {
  assert.equal(formatFixed(0.0625, 3), '0.062');
  assert.equal(formatFixed(0.1875, 3), '0.188');
  assert.equal(formatFixed(0.6875, 3), '0.688');
  assert.equal(formatFixed(0.9375, 3), '0.938');
  assert.equal(formatFixed(0.7125, 3), '0.713'); // not a tie in binary
  assert.equal(formatFixed(-1, 3), '-1.000');
  assert.equal(formatFixed(0.5, 2), '0.50');
  assert.equal(formatFixed(0.8999999999999999, 2), '0.90');
  assert.equal(roundHalfEven(2.5), 2);
  assert.equal(roundHalfEven(3.5), 4);
  assert.equal(roundHalfEven(-0.4), -0);
});

test('compareIds orders like Python sorted / np.unique', () => {
  const ids = ['v_a_f_7_i_1', 'v_a_f_10_i_1', 'v_A-b_f_1', 'v_9', 'v__x'];
  assert.deepEqual([...ids].sort(compareIds), ['v_9', 'v_A-b_f_1', 'v__x', 'v_a_f_10_i_1', 'v_a_f_7_i_1']);
  assert.deepEqual([10, 3, 100, 25].sort(compareIds), [3, 10, 25, 100]);
  // code points, not UTF-16 units: U+1F600 sorts after U+FF61
  assert.ok(compareIds('\u{1F600}', '\uFF61') > 0);
  assert.throws(() => compareIds(1, 'a'), /mix numbers and strings/);
});

test('argsortDescendingStable keeps the input order of equal scores', () => {
  assert.deepEqual(Array.from(argsortDescendingStable([0.5, 0.9, 0.5, 0.9, 0.1])), [1, 3, 0, 2, 4]);
});
