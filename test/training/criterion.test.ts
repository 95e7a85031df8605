// SetCriterion: every loss against values computed by hand (float64) on small synthetic outputs,
// with the reference's quirks: num_masks counts the invisible frame, the invisible frame is an
// empty mask / zero box target and a negative for loss_cls, loss_con indexes the video queries with
// the matched frame query, aux levels get suffixes, the total is the weighted sum in order.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { loadSocConfig } from '../../src/models/soc/config.js';
import type { SocOutput } from '../../src/models/soc/soc.js';
import * as torch from '../../src/tensor/index.js';
import { boxCxcywhToXyxy, generalizedBoxIou } from '../../src/training/box-ops.js';
import { LOSS_NAMES, SetCriterion, buildCriterion, diceLoss, sigmoidFocalLoss, weightDictOf, LossConfigSchema } from '../../src/training/criterion.js';
import { HungarianMatcher } from '../../src/training/matcher.js';
import { assertClose } from '../helpers/assert.js';
import { type Box, boxes, clsLogit, giou, gtBoxes, maskLogit, outputs, sigmoid, targets } from './fixtures.js';

const W = new Map(Object.entries({ loss_sigmoid_focal: 2, loss_dice: 5, loss_con: 1, loss_cls: 2, loss_bbox: 2, loss_giou: 2 }));
const withAux = new Map([...W, ...[...W].map(([k, v]) => [`${k}_0`, v] as [string, number])]);

/** Focal loss of one logit against a 0/1 target (α 0.25, γ 2). */
function focal(x: number, y: number): number {
  const p = sigmoid(x);
  const ce = -(y * Math.log(p) + (1 - y) * Math.log(1 - p));
  const pT = p * y + (1 - p) * (1 - y);
  return ce * (1 - pT) ** 2 * (0.25 * y + 0.75 * (1 - y));
}

// video-query logits [1, 3, 8] and the sentence feature [1, 8]
const logit = [0, 1, 2].map((n) => Array.from({ length: 8 }, (_, c) => Math.sin(n * 8 + c)));
const text = Array.from({ length: 8 }, (_, c) => Math.cos(c));

function socOutput(aux: boolean): SocOutput {
  const o = { ...outputs(), predLogit: torch.tensor([logit], { dtype: 'float32' }), textSentenceFeature: torch.tensor([text], { dtype: 'float32' }) };
  return { ...o, auxOutputs: aux ? [{ ...o, predMasks: o.predMasks.neg(), predCls: o.predCls.neg() }] : [] };
}

/** The six losses of one level by hand, for matched query q (masks/classes optionally negated). */
function handLosses(q: number, sign: 1 | -1): Record<string, number> {
  const numMasks = 2; // T·B, the invisible frame included
  let focalSum = 0;
  let diceSum = 0;
  let l1 = 0;
  let g = 0;
  for (let t = 0; t < 2; t++) {
    const x = sign * maskLogit[t]![q]!;
    const pos = t === 0 ? 4 : 0; // gt pixels among 16
    focalSum += (pos * focal(x, 1) + (16 - pos) * focal(x, 0)) / 16;
    const p = sigmoid(x);
    diceSum += 1 - (2 * p * pos + 1) / (16 * p + pos + 1);
    l1 += boxes[t]![q]!.reduce((s, v, i) => s + Math.abs(v - gtBoxes[t]![i]!), 0);
    g += 1 - giou(boxes[t]![q]! as Box, gtBoxes[t]!);
  }
  let cls = 0;
  for (let t = 0; t < 2; t++) for (let k = 0; k < 3; k++) cls += focal(sign * clsLogit[t]![k]!, t === 0 && k === q ? 1 : 0);
  const s = logit.map((row) => row.reduce((acc, v, c) => acc + (v / 8) * text[c]!, 0));
  const lse = Math.log(s.reduce((acc, v) => acc + Math.exp(v), 0));
  return {
    loss_sigmoid_focal: focalSum / numMasks,
    loss_dice: diceSum / numMasks,
    loss_con: -(s[q]! - lse),
    loss_cls: cls / numMasks,
    loss_bbox: l1 / numMasks,
    loss_giou: g / numMasks,
  };
}

describe('loss functions', () => {
  test('sigmoidFocalLoss: mean over dim 1, sum, / normaliser', () => {
    torch.tidy(() => {
      const x = [
        [0.3, -2, 1.5],
        [4, 0, -0.5],
      ];
      const y = [
        [1, 0, 1],
        [0, 0, 1],
      ];
      const want = x.reduce((s, row, i) => s + row.reduce((a, v, j) => a + focal(v, y[i]![j]!), 0) / 3, 0) / 2.5;
      assertClose(sigmoidFocalLoss(torch.tensor(x, { dtype: 'float32' }), torch.tensor(y, { dtype: 'float32' }), 2.5), want, 1e-7, 1e-6);
      return null;
    });
  });

  test('diceLoss: Σ rows [1 − (2Σpg + 1)/(Σp + Σg + 1)] / normaliser', () => {
    torch.tidy(() => {
      const x = [
        [0.3, -2, 1.5, 0],
        [4, 0, -0.5, -1],
      ];
      const y = [
        [1, 0, 1, 0],
        [0, 0, 0, 0],
      ];
      let want = 0;
      x.forEach((row, i) => {
        const p = row.map(sigmoid);
        const inter = p.reduce((s, v, j) => s + v * y[i]![j]!, 0);
        want += 1 - (2 * inter + 1) / (p.reduce((a, b) => a + b, 0) + y[i]!.reduce((a, b) => a + b, 0) + 1);
      });
      assertClose(diceLoss(torch.tensor(x, { dtype: 'float32' }), torch.tensor(y, { dtype: 'float32' }), 3), want / 3, 1e-7, 1e-6);
      return null;
    });
  });

  test('generalizedBoxIou: +1e-6 terms; two empty boxes have GIoU 0', () => {
    torch.tidy(() => {
      const a: Box[] = [
        [1, 1, 2, 2],
        [0, 0, 0, 0],
      ];
      const b: Box[] = [
        [2, 2, 2, 2],
        [0, 0, 0, 0],
      ];
      const got = generalizedBoxIou(boxCxcywhToXyxy(torch.tensor(a, { dtype: 'float64' })), boxCxcywhToXyxy(torch.tensor(b, { dtype: 'float64' })));
      // [0,0,2,2] vs [1,1,3,3]: I = 1, U = 7, E = 9
      const first = (1 + 1e-6) / (7 + 1e-6) - (2 + 1e-6) / (9 + 1e-6);
      assertClose(got, [[first, giou(a[0]!, b[1]!)], [giou(a[1]!, b[0]!), 0]], 1e-12, 0);
      return null;
    });
  });
});

describe('SetCriterion', () => {
  test('the six losses of each level equal the hand computation; suffixes, order, weighted total', () => {
    torch.tidy(() => {
      const criterion = new SetCriterion(new HungarianMatcher(), withAux);
      const out = criterion.forward(socOutput(true), targets);
      assert.deepEqual([...out.losses.keys()], [...LOSS_NAMES, ...LOSS_NAMES.map((k) => `${k}_0`)].sort((a, b) => order(a) - order(b)));
      assert.equal(out.levels.length, 2);
      out.levels.forEach((lv, i) => {
        assert.equal(lv.numMasks, 2, 'num_masks = T·B, invisible frame included');
        const q = lv.match.indices[0]!.query[0]!;
        const want = handLosses(q, i === 0 ? 1 : -1);
        for (const k of LOSS_NAMES) assertClose(out.losses.get(k + lv.suffix)!, want[k]!, 1e-6, 2e-6, k + lv.suffix);
        // loss_cls target: 1 at t·Q + q only in the visible frame 0
        assert.deepEqual(lv.clsTarget!.toArray(), [[0, 1, 2, 3, 4, 5].map((i) => [i === q ? 1 : 0])]);
        assert.deepEqual(lv.maskLogits!.shape, [2, 4, 4]);
      });
      let total = 0;
      for (const [k, v] of out.losses) total += v.item() * withAux.get(k)!;
      assertClose(out.total, total, 1e-5, 1e-6, 'total');
      for (const [k, v] of out.weighted) assertClose(v, out.losses.get(k)!.item() * withAux.get(k)!, 0, 1e-7, `weighted ${k}`);
      return null;
    });
  });

  test('gradients: loss_bbox back-propagates sign(pred − target)/num_masks into the matched query only', () => {
    torch.tidy(() => {
      const o = socOutput(false);
      const predBoxes = o.predBoxes.clone().requiresGrad_();
      const criterion = new SetCriterion(new HungarianMatcher(), new Map([['loss_bbox', 1], ['loss_giou', 0]]));
      const out = criterion.forward({ ...o, predBoxes }, targets);
      assert.deepEqual([...out.losses.keys()], ['loss_bbox', 'loss_giou']);
      out.total.backward();
      const q = out.levels[0]!.match.indices[0]!.query[0]!;
      const want = boxes.map((fr, t) => [fr.map((b, k) => b.map((v, i) => (k === q ? Math.sign(v - gtBoxes[t]![i]!) / 2 : 0)))]);
      assertClose(predBoxes.grad!, want, 1e-7, 0, 'd loss_bbox / d pred_boxes');
      return null;
    });
  });

  test('buildCriterion: the reference weight dict (aux levels = dec_layers − 1) and loss groups from non-zero weights', () => {
    const config = loadSocConfig('socpp-swin-t');
    const c = buildCriterion(config);
    assert.deepEqual(c.lossGroups, ['masks', 'loss_con', 'loss_cls', 'boxes']);
    assert.deepEqual(c.matcher.costs, { con: 0, cls: 2, dice: 5, box: 2, giou: 2 });
    assert.equal(c.weightDict.size, 6 * config.DeformTransformer.dec_layers);
    assert.equal(c.weightDict.get('loss_dice_1'), 5);
    const noCon = weightDictOf(LossConfigSchema.parse({ con_loss_coef: 0 }), 0);
    assert.deepEqual(new SetCriterion(new HungarianMatcher(), noCon).lossGroups, ['masks', 'loss_cls', 'boxes']);
  });
});

/** Loss-dict order: the level first, then focal, dice, con, cls, bbox, giou. */
function order(k: string): number {
  const aux = /_(\d+)$/.exec(k);
  const base = aux ? k.slice(0, -aux[0].length) : k;
  return (aux ? Number(aux[1]) + 1 : 0) * 10 + LOSS_NAMES.indexOf(base as (typeof LOSS_NAMES)[number]);
}
