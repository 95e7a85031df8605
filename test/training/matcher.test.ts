// The video-level Hungarian matcher: the assignment (scipy's results, ties and rectangular
// matrices included) and every cost term against a float64 re-derivation on small inputs.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { HungarianMatcher, assignQueries } from '../../src/training/matcher.js';
import type { ClipTargets } from '../../src/training/targets.js';
import * as torch from '../../src/tensor/index.js';
import { assertClose } from '../helpers/assert.js';
import { type Box, boxes, clsLogit, focalCost, giou, gtBoxes, maskLogit, outputs, sigmoid, targets } from './fixtures.js';

describe('assignQueries (scipy.optimize.linear_sum_assignment)', () => {
  // expected values printed by scipy 1.17 for the same matrices
  const cases: [string, number[][], number[], number[]][] = [
    ['one column with a tie: the first query', [[1], [0.5], [0.5], [0.7]], [1], [0]],
    ['constant column', [[2], [2], [2]], [0], [0]],
    ['tall', [[0.9, 0.1], [0.2, 0.8], [0.3, 0.05]], [1, 2], [0, 1]],
    ['wide', [[4, 1, 3], [2, 0, 5]], [0, 1], [1, 0]],
    ['square with ties', [[1, 1, 0], [1, 1, 0], [0, 1, 1]], [0, 1, 2], [2, 1, 0]],
    ['tall, all equal', [[0, 0], [0, 0], [0, 0]], [0, 1], [0, 1]],
  ];
  for (const [name, cost, rows, cols] of cases) {
    test(name, () => {
      const m = torch.tidy(() => assignQueries(torch.tensor(cost, { dtype: 'float32' })));
      assert.deepEqual(m, { query: rows, target: cols });
    });
  }
});

describe('HungarianMatcher', () => {
  test('every cost term and the weighted total match a float64 re-derivation; the argmin is chosen', () => {
    torch.tidy(() => {
      const r = new HungarianMatcher().match(outputs(), targets);
      const want = { cls: [] as number[], dice: [] as number[], box: [] as number[], giou: [] as number[], C: [] as number[] };
      for (let q = 0; q < 3; q++) {
        want.cls.push(focalCost(clsLogit[0]![q]!)); // only the visible frame
        let dice = 0;
        let box = 0;
        let g = 0;
        for (let t = 0; t < 2; t++) {
          const p = sigmoid(maskLogit[t]![q]!);
          const gSum = t === 0 ? 4 : 0;
          dice += (2 * p * gSum + 1) / (16 * p + gSum + 1) / 2;
          box += boxes[t]![q]!.reduce((s, v, i) => s + Math.abs(v - gtBoxes[t]![i]!), 0) / 2;
          g += giou(boxes[t]![q]!, gtBoxes[t]!) / 2;
        }
        want.dice.push(-dice);
        want.box.push(box);
        want.giou.push(-g);
        want.C.push(2 * want.cls[q]! + 5 * -dice + 2 * box + 2 * -g);
      }
      assertClose(r.costCls!, want.cls.map((v) => [v]), 1e-6, 1e-6, 'cost_cls');
      assertClose(r.costDice!, want.dice.map((v) => [v]), 1e-6, 1e-6, 'cost_dice');
      assertClose(r.costBbox!, want.box.map((v) => [v]), 1e-6, 1e-6, 'cost_bbox');
      assertClose(r.costGiou!, want.giou.map((v) => [v]), 1e-6, 1e-6, 'cost_giou');
      assert.equal(r.C.length, 1);
      assertClose(r.C[0]!, want.C.map((v) => [v]), 1e-5, 1e-6, 'C');
      const best = want.C.indexOf(Math.min(...want.C));
      assert.deepEqual(r.indices, [{ query: [best], target: [0] }]);
      return null;
    });
  });

  test('a batch of 2: costs are [B·Q, B], clip b solves rows of b against column b only', () => {
    torch.tidy(() => {
      const o = outputs();
      const cat2 = (x: torch.Tensor) => torch.cat([x, x.flip(2)], 1); // clip 1 = clip 0 with the queries reversed
      const two = { ...o, predMasks: cat2(o.predMasks), predCls: cat2(o.predCls), predBoxes: cat2(o.predBoxes), predLogit: torch.zeros([2, 3, 8]), textSentenceFeature: torch.zeros([2, 8]) };
      const t2: ClipTargets = targets.map((step) => [step[0]!, step[0]!]);
      const r = new HungarianMatcher().match(two, t2);
      assert.deepEqual(r.costDice!.shape, [6, 2]);
      assert.equal(r.C.length, 2);
      const single = new HungarianMatcher().match(o, targets);
      assertClose(r.C[0]!, single.C[0]!, 1e-6, 0, 'clip 0');
      assertClose(r.C[1]!, single.C[0]!.flip(0), 1e-6, 0, 'clip 1 (queries reversed)');
      assert.equal(r.indices[1]!.query[0], 2 - single.indices[0]!.query[0]!);
      return null;
    });
  });

  test('T = 1 (A2D): the class cost ignores visibility and is one column', () => {
    torch.tidy(() => {
      const o = outputs();
      const one = { ...o, predMasks: o.predMasks.slice(0, 1, 2), predCls: o.predCls.slice(0, 1, 2), predBoxes: o.predBoxes.slice(0, 1, 2) };
      const invisible: ClipTargets = [[{ ...targets[1]![0]!, isRefInstVisible: false }]];
      const r = new HungarianMatcher().match(one, invisible);
      assertClose(r.costCls!, [0, 1, 2].map((q) => [focalCost(clsLogit[1]![q]!)]), 1e-6, 1e-6, 'cost_cls');
      return null;
    });
  });

  test('a clip whose object is visible in no frame is refused (the reference sampler never makes one)', () => {
    torch.tidy(() => {
      const none: ClipTargets = targets.map((step) => [{ ...step[0]!, isRefInstVisible: false }]);
      assert.throws(() => new HungarianMatcher().match(outputs(), none), /visible in none/);
      return null;
    });
  });
});
