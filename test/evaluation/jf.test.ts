// J and F against the DAVIS-toolkit fixtures, plus boundary-map and empty-mask edge cases.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { type Mask, boundaryMap, boundaryScore, boundaryTolerance, jaccard } from '../../src/evaluation/jf.js';
import { readSafetensorsArrays } from '../../src/io/safetensors.js';
import { sharedPath } from '../helpers/shared.js';

const TOL = 1e-9;

function maskOf(rows: string[]): Mask {
  return { data: Uint8Array.from(rows.join(''), (c) => (c === '1' ? 1 : 0)), height: rows.length, width: rows[0]!.length };
}

test('J and F of the 22 fixture pairs equal metrics.json (J bit-exact, F within 1e-9)', (t) => {
  const dir = sharedPath(t, 'golden', 'metrics');
  if (!dir) return;
  const expected = JSON.parse(readFileSync(join(dir, 'metrics.json'), 'utf8'));
  const arrays = readSafetensorsArrays(join(dir, 'masks.safetensors'));
  const get = (name: string): Mask => {
    const e = arrays.get(name)!;
    return { data: e.data as Uint8Array, height: e.shape[0]!, width: e.shape[1]! };
  };
  assert.equal(expected.pairs.length, 22);
  for (const p of expected.pairs) {
    const gt = get(`${p.name}.gt`);
    const pred = get(`${p.name}.pred`);
    assert.deepEqual([gt.height, gt.width], p.shape);
    const j = jaccard(gt, pred);
    const f = boundaryScore(gt, pred);
    assert.equal(f.boundPix, p.bound_pix, `${p.name} bound_pix`);
    assert.equal(j, p.J, `${p.name} J`);
    assert.ok(Math.abs(f.f - p.F) <= TOL, `${p.name} F ${f.f} vs ${p.F}`);
    assert.equal(f.f, p.F, `${p.name} F bit-exact`);
    assert.ok(Math.abs((j + f.f) / 2 - p.JF_mean) <= TOL, `${p.name} J&F`);
  }
});

test('J: union 0 gives 1; void pixels are excluded', () => {
  const empty = maskOf(['000', '000']);
  assert.equal(jaccard(empty, empty), 1);
  const a = maskOf(['110', '000']);
  const b = maskOf(['011', '000']);
  assert.equal(jaccard(a, b), 1 / 3);
  const voidMask = maskOf(['100', '000']);
  assert.equal(jaccard(a, b, voidMask), 1 / 2);
  assert.throws(() => jaccard(a, maskOf(['11', '00'])), /shapes differ/);
});

test('boundary map: interior rule, last row and column, bottom-right corner', () => {
  // A full mask has no boundary: the last row and column compare only with pixels inside the
  // image, and the corner is cleared.
  assert.deepEqual(Array.from(boundaryMap(maskOf(['111', '111', '111']))), [0, 0, 0, 0, 0, 0, 0, 0, 0]);
  // A single pixel marks itself and the pixels above / left of it (boundaries shift towards the origin).
  const dot = maskOf(['000', '010', '000']);
  assert.deepEqual(Array.from(boundaryMap(dot)), [
    1, 1, 0,
    1, 1, 0,
    0, 0, 0,
  ]);
  // Foreground touching the last column: the last column only compares with the pixel below.
  assert.deepEqual(Array.from(boundaryMap(maskOf(['001', '001', '000']))), [
    0, 1, 0,
    0, 1, 1,
    0, 0, 0,
  ]);
  // 1×N: only the last-row rule applies
  assert.deepEqual(Array.from(boundaryMap(maskOf(['01100']))), [1, 0, 1, 0, 0]);
  // N×1: only the last-column rule applies
  assert.deepEqual(Array.from(boundaryMap(maskOf(['0', '1', '1', '0']))), [1, 0, 1, 0]);
});

test('boundary tolerance: ceil(0.008·diagonal), or the value itself when ≥ 1', () => {
  assert.equal(boundaryTolerance(480, 854), 8);
  assert.equal(boundaryTolerance(64, 96), 1);
  assert.equal(boundaryTolerance(240, 427), 4);
  assert.equal(boundaryTolerance(10, 10, 3), 3);
});

test('F: empty-mask conventions', () => {
  const empty = maskOf(['0000', '0000', '0000']);
  const some = maskOf(['0000', '0110', '0000']);
  assert.deepEqual(pr(boundaryScore(some, empty)), [1, 0, 0]); // nothing predicted
  assert.deepEqual(pr(boundaryScore(empty, some)), [0, 1, 0]); // nothing expected
  assert.deepEqual(pr(boundaryScore(empty, empty)), [1, 1, 1]);
  assert.deepEqual(pr(boundaryScore(some, some)), [1, 1, 1]);
});

const pr = (s: { precision: number; recall: number; f: number }) => [s.precision, s.recall, s.f];

test('F on 1×N and N×1 strips', () => {
  const a = maskOf(['0011110000000000']);
  const b = maskOf(['0000000111100000']);
  // boundaries: a at x=1 and x=5, b at x=6 and x=10; tolerance ceil(0.008·16.03) = 1
  const s = boundaryScore(a, b);
  assert.equal(s.boundPix, 1);
  assert.equal(s.precision, 1 / 2); // b's x=6 is within 1 of a's x=5
  assert.equal(s.recall, 1 / 2);
  const col = (m: Mask): Mask => ({ data: m.data, height: m.width, width: 1 });
  const t = boundaryScore(col(a), col(b));
  assert.deepEqual(pr(t), pr(s));
});

test('F of a 480×854 frame takes milliseconds', () => {
  const h = 480;
  const w = 854;
  const gt = new Uint8Array(h * w);
  const pred = new Uint8Array(h * w);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const d = (x - 420) ** 2 / 200 ** 2 + (y - 240) ** 2 / 150 ** 2;
      gt[y * w + x] = d < 1 ? 1 : 0;
      pred[y * w + x] = d < 1.05 + 0.05 * Math.sin(x / 7) ? 1 : 0;
    }
  }
  const a = { data: gt, height: h, width: w };
  const b = { data: pred, height: h, width: w };
  boundaryScore(a, b); // warm-up
  const t0 = performance.now();
  const s = boundaryScore(a, b);
  const ms = performance.now() - t0;
  assert.ok(s.f > 0.5 && s.f <= 1);
  assert.ok(ms < 200, `F took ${ms.toFixed(1)} ms`);
});

/** F by the literal recipe: dilate each boundary map with the disk, count the overlaps. */
function bruteForceF(gt: Mask, pred: Mask, r: number): number {
  const { height: h, width: w } = gt;
  const pb = boundaryMap(pred);
  const gb = boundaryMap(gt);
  const dilate = (b: Uint8Array): Uint8Array => {
    const out = new Uint8Array(h * w);
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        if (!b[y * w + x]) continue;
        for (let dy = -r; dy <= r; dy++) {
          for (let dx = -r; dx <= r; dx++) {
            const yy = y + dy;
            const xx = x + dx;
            if (dx * dx + dy * dy <= r * r && yy >= 0 && yy < h && xx >= 0 && xx < w) out[yy * w + xx] = 1;
          }
        }
      }
    }
    return out;
  };
  const pd = dilate(pb);
  const gd = dilate(gb);
  let nP = 0, nG = 0, mP = 0, mG = 0;
  for (let i = 0; i < h * w; i++) {
    nP += pb[i]!;
    nG += gb[i]!;
    mP += pb[i]! & gd[i]!;
    mG += gb[i]! & pd[i]!;
  }
  const [p, rc] = nP === 0 && nG > 0 ? [1, 0] : nP > 0 && nG === 0 ? [0, 1] : nP === 0 ? [1, 1] : [mP / nP, mG / nG];
  return p + rc === 0 ? 0 : (2 * p * rc) / (p + rc);
}

test('F equals a brute-force disk dilation on random masks (radius 1–6, thin shapes)', () => {
  let seed = 99;
  const rnd = (): number => (seed = (seed * 48271) % 2147483647) / 2147483647;
  for (let trial = 0; trial < 150; trial++) {
    const h = 1 + Math.floor(rnd() * 30);
    const w = 1 + Math.floor(rnd() * 30);
    const density = rnd();
    const mk = (): Mask => ({ data: Uint8Array.from({ length: h * w }, () => (rnd() < density ? 1 : 0)), height: h, width: w });
    const r = 1 + Math.floor(rnd() * 6);
    const gt = mk();
    const pred = mk();
    assert.equal(boundaryScore(gt, pred, undefined, r).f, bruteForceF(gt, pred, r), `trial ${trial} (${h}×${w}, r ${r})`);
  }
});
