// Timing of the COCO evaluation and of the boundary F-measure.
//   npx tsx bench/coco-eval.ts
// Prints: the 40-image A2D fixture (if ../shared is present), a generated 5,000-image case with 20
// detections per image (useCats 1 and 0), and F on one 480×854 frame.

import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cocoEval } from '../src/evaluation/coco/cocoeval.js';
import type { CocoDataset, CocoResult } from '../src/evaluation/coco/dataset.js';
import { countsToString } from '../src/evaluation/coco/rle.js';
import { boundaryScore } from '../src/evaluation/jf.js';

/** Wall-clock and process CPU time (user + system, so GC threads count) of `runs` calls; medians. */
function timeIt(runs: number, fn: () => void): { wall: number; cpu: number } {
  const wall: number[] = [];
  const cpu: number[] = [];
  for (let i = 0; i < runs; i++) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    fn();
    wall.push(performance.now() - t0);
    const c = process.cpuUsage(c0);
    cpu.push((c.user + c.system) / 1000);
  }
  const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  return { wall: median(wall), cpu: median(cpu) };
}

// CPU time is reported too because wall time is unreliable on a shared machine.
const fmt = (t: { wall: number; cpu: number }): string => `${t.wall.toFixed(1)} ms wall, ${t.cpu.toFixed(1)} ms CPU (median)`;

// ---- 1. the 40-image fixture ----
const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const shared = process.env.SOC_SHARED ? resolve(process.env.SOC_SHARED) : resolve(root, '..', 'shared');
const fixture = join(shared, 'golden', 'coco_eval');
if (existsSync(fixture)) {
  const gtText = readFileSync(join(fixture, 'gt_coco.json'), 'utf8');
  const predText = readFileSync(join(fixture, 'predictions.json'), 'utf8');
  cocoEval(JSON.parse(gtText), JSON.parse(predText), { useCats: 0 }); // warm-up
  const t = timeIt(20, () => cocoEval(JSON.parse(gtText), JSON.parse(predText), { useCats: 0 }));
  console.log(`coco-eval fixture (40 images, 200 detections, segm, useCats 0, incl. JSON.parse): ${fmt(t)}`);
} else {
  console.log(`coco-eval fixture: skipped (${fixture} not found; set SOC_SHARED)`);
}

// ---- 2. a generated 5,000-image case ----
let seed = 20240611;
const rnd = (): number => {
  seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
  return seed / 2 ** 32;
};

/** Column-major RLE counts of an axis-aligned ellipse, built per column (no pixel loop). */
function ellipseCounts(h: number, w: number, cx: number, cy: number, a: number, b: number): number[] {
  const runs = [0];
  let value = 0;
  const push = (v: number, len: number): void => {
    if (len <= 0) return;
    if (v === value) runs[runs.length - 1]! += len;
    else {
      runs.push(len);
      value = v;
    }
  };
  for (let x = 0; x < w; x++) {
    const u = (x + 0.5 - cx) / a;
    const half = Math.abs(u) < 1 ? b * Math.sqrt(1 - u * u) : 0;
    const y0 = Math.max(0, Math.ceil(cy - half - 0.5));
    const y1 = Math.min(h, Math.floor(cy + half + 0.5));
    if (y1 <= y0) {
      push(0, h);
      continue;
    }
    push(0, y0);
    push(1, y1 - y0);
    push(0, h - y1);
  }
  return runs;
}

function generateCase(nImages: number, detsPerImage: number, nCats: number): { gt: CocoDataset; results: CocoResult[] } {
  const h = 480;
  const w = 640;
  const gt: CocoDataset = { images: [], annotations: [], categories: [] };
  for (let c = 1; c <= nCats; c++) gt.categories.push({ id: c, name: `cat${c}` });
  const results: CocoResult[] = [];
  let annId = 1;
  for (let img = 1; img <= nImages; img++) {
    gt.images.push({ id: img, height: h, width: w });
    const objects: { cx: number; cy: number; a: number; b: number; cat: number }[] = [];
    const nObj = 1 + Math.floor(rnd() * 4);
    for (let o = 0; o < nObj; o++) {
      const a = 8 + rnd() * 150;
      const b = 8 + rnd() * 120;
      const obj = { cx: a + rnd() * (w - 2 * a), cy: b + rnd() * (h - 2 * b), a, b, cat: 1 + Math.floor(rnd() * nCats) };
      objects.push(obj);
      const counts = ellipseCounts(h, w, obj.cx, obj.cy, obj.a, obj.b);
      let area = 0;
      for (let i = 1; i < counts.length; i += 2) area += counts[i]!;
      gt.annotations.push({ id: annId++, image_id: img, category_id: obj.cat, segmentation: { size: [h, w], counts: countsToString(counts) }, area, iscrowd: 0 });
    }
    for (let d = 0; d < detsPerImage; d++) {
      const base = objects[Math.floor(rnd() * objects.length)]!;
      const jitter = d < objects.length * 2 ? 0.1 : 0.6; // a few good detections, the rest poor
      const a = base.a * (1 + (rnd() - 0.5) * jitter);
      const b = base.b * (1 + (rnd() - 0.5) * jitter);
      const cx = Math.min(w - 1, Math.max(0, base.cx + (rnd() - 0.5) * jitter * base.a));
      const cy = Math.min(h - 1, Math.max(0, base.cy + (rnd() - 0.5) * jitter * base.b));
      const cat = rnd() < 0.8 ? base.cat : 1 + Math.floor(rnd() * nCats);
      const score = Math.round(rnd() * 64) / 64; // coarse scores, so ties happen as in real outputs
      results.push({ image_id: img, category_id: cat, segmentation: { size: [h, w], counts: countsToString(ellipseCounts(h, w, cx, cy, a, b)) }, score });
    }
  }
  return { gt, results };
}

const big = generateCase(5000, 20, 10);
const gtText = JSON.stringify(big.gt);
const predText = JSON.stringify(big.results);
for (const useCats of [1, 0] as const) {
  let stats: number[] = [];
  const t = timeIt(3, () => {
    stats = cocoEval(JSON.parse(gtText), JSON.parse(predText), { useCats }).stats;
  });
  console.log(
    `coco-eval generated (5,000 images 480×640, ${big.gt.annotations.length} GT, 100,000 detections, segm, useCats ${useCats}, incl. JSON.parse): ${fmt(t)}; AP ${stats[0]!.toFixed(3)}`,
  );
}

// ---- 3. F on one 480×854 frame ----
{
  const h = 480;
  const w = 854;
  const gtMask = new Uint8Array(h * w);
  const predMask = new Uint8Array(h * w);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const d = (x - 420) ** 2 / 220 ** 2 + (y - 240) ** 2 / 160 ** 2;
      gtMask[y * w + x] = d < 1 ? 1 : 0;
      predMask[y * w + x] = d < 1 + 0.25 * Math.sin(x / 9) * Math.cos(y / 13) ? 1 : 0;
    }
  }
  const gt = { data: gtMask, height: h, width: w };
  const pred = { data: predMask, height: h, width: w };
  let f = 0;
  const t = timeIt(50, () => {
    f = boundaryScore(gt, pred).f;
  });
  console.log(`boundary F on one 480×854 frame (tolerance 8 px): ${fmt(t)}; F ${f.toFixed(4)}`);
}
