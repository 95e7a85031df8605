// `soc score` on generated folder pairs: the numbers equal the metric functions, bad prediction
// files are reported per file (failing by default, scored as empty with --allow-errors), and the
// MeViS layout is scored against mask_dict.json through the MeViS reader.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { encodeLabelPng } from '../../src/data/image.js';
import { Mevis } from '../../src/data/mevis.js';
import { generateSynthDataset } from '../../src/data/synth.js';
import type { Mask } from '../../src/data/types.js';
import { summarizeObjects } from '../../src/evaluation/davis.js';
import { boundaryF, jaccard } from '../../src/evaluation/jf.js';
import { scoreFolders } from '../../src/evaluation/protocols/score.js';
import { Rng } from '../../src/data/prng.js';
import { REPO_ROOT, tempDir } from '../helpers/shared.js';

function soc(...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [join(REPO_ROOT, 'bin', 'soc.js'), ...args], { cwd: REPO_ROOT, encoding: 'utf8', env: { ...process.env, SOC_FROM_SOURCE: '1', SOC_DEBUG: '' } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const W = 61;
const H = 47;

/** An ellipse-ish blob with value `value`, or an empty mask when r = 0. */
function blob(rng: Rng, value: number): Mask {
  const data = new Uint8Array(W * H);
  const cx = rng.uniform(10, 50);
  const cy = rng.uniform(8, 40);
  const rx = rng.uniform(0, 18);
  const ry = rng.uniform(3, 15);
  for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) if (((x - cx) / rx) ** 2 + ((y - cy) / ry) ** 2 < 1) data[y * W + x] = value;
  return { width: W, height: H, data };
}

function writePng(file: string, m: Mask): void {
  mkdirSync(join(file, '..'), { recursive: true });
  writeFileSync(file, encodeLabelPng(m));
}

const frameName = (t: number) => String(t).padStart(5, '0');

/** GT and prediction folders of 3 videos; returns the masks to compute the expected numbers from. */
function makeDavisPair(dir: string): { gt: string; pred: string; masks: Map<string, { gt: Mask[]; pred: Mask[] }> } {
  const rng = new Rng(11);
  const gt = join(dir, 'gt');
  const pred = join(dir, 'pred');
  const masks = new Map<string, { gt: Mask[]; pred: Mask[] }>();
  for (const [video, frames] of [['bear', 7], ['car-turn', 5], ['dog', 9]] as const) {
    const m = { gt: [] as Mask[], pred: [] as Mask[] };
    for (let t = 0; t < frames; t++) {
      // palette values differ between GT (object 1) and predictions (255 or 3): any non-zero value counts
      const g = blob(rng, 1);
      const p = t === 2 ? { width: W, height: H, data: new Uint8Array(W * H) } : blob(rng, t % 2 ? 255 : 3);
      writePng(join(gt, video, `${frameName(t)}.png`), g);
      writePng(join(pred, video, `${frameName(t)}.png`), p);
      m.gt.push(g);
      m.pred.push(p);
    }
    masks.set(video, m);
  }
  return { gt, pred, masks };
}

function expectedSummary(masks: Map<string, { gt: Mask[]; pred: Mask[] }>) {
  return summarizeObjects(
    [...masks].map(([name, m]) => ({
      name,
      j: m.gt.map((g, t) => jaccard(g, m.pred[t]!)),
      f: m.gt.map((g, t) => boundaryF(g, m.pred[t]!)),
    })),
  );
}

const COLUMNS = ['J&F-Mean', 'J-Mean', 'J-Recall', 'J-Decay', 'F-Mean', 'F-Recall', 'F-Decay'] as const;

function assertClose(actual: number, expected: number, what: string): void {
  assert.ok(Math.abs(actual - expected) <= 1e-12, `${what}: ${actual} vs ${expected}`);
}

describe('soc score --dataset davis', () => {
  test('numbers equal the metric functions (table, --json, --csv)', (t) => {
    const dir = tempDir(t);
    const { gt, pred, masks } = makeDavisPair(dir);
    const want = expectedSummary(masks);
    const json = join(dir, 'scores.json');
    const csv = join(dir, 'scores.csv');
    const r = soc('score', '--dataset', 'davis', '--pred', pred, '--gt', gt, '--json', json, '--csv', csv, '--per-video', '--jobs', '1');
    assert.equal(r.code, 0, r.stderr);
    const report = JSON.parse(readFileSync(json, 'utf8'));
    for (const c of COLUMNS) assertClose(report[c], want[c], c);
    assert.equal(report.frames, 21);
    assert.deepEqual(report.problems, []);
    assert.deepEqual(report.per_video.map((v: { name: string }) => v.name), ['bear', 'car-turn', 'dog']);
    report.per_video.forEach((v: Record<string, number>, i: number) => {
      const o = want.perObject[i]!;
      assertClose(v['J-Mean']!, o.J.mean, `${o.name} J`);
      assertClose(v['F-Mean']!, o.F.mean, `${o.name} F`);
      assertClose(v['J&F-Mean']!, (o.J.mean + o.F.mean) / 2, `${o.name} J&F`);
      assertClose(v['J-Decay']!, o.J.decay, `${o.name} J decay`);
    });
    // the table shows per-video rows and the global line
    assert.match(r.stdout, /^bear\s+\d\.\d{4}/m);
    assert.match(r.stdout, new RegExp(`3 videos\\s+${want['J&F-Mean'].toFixed(4)}`));
    const lines = readFileSync(csv, 'utf8').trim().split('\n');
    assert.equal(lines[0], 'Sequence,J&F-Mean,J-Mean,J-Recall,J-Decay,F-Mean,F-Recall,F-Decay');
    assert.equal(lines.length, 5);
    const mean = lines[4]!.split(',');
    assert.equal(mean[0], 'mean');
    COLUMNS.forEach((c, k) => assert.equal(Number(mean[k + 1]), want[c], `csv ${c}`));
  });

  test('worker threads give the same numbers as one thread', async (t) => {
    const dir = tempDir(t);
    const { gt, pred } = makeDavisPair(dir);
    const one = await scoreFolders({ pred, gt, dataset: 'davis', jobs: 1 });
    const two = await scoreFolders({ pred, gt, dataset: 'davis', jobs: 2 });
    assert.deepEqual(two.summary, one.summary);
    assert.deepEqual(two.sequences, one.sequences);
  });

  test('corrupt PNGs, size mismatches, missing frames and videos are reported per file', (t) => {
    const dir = tempDir(t);
    const { gt, pred, masks } = makeDavisPair(dir);
    const corrupt = join(pred, 'bear', '00001.png');
    writeFileSync(corrupt, 'not a png');
    const resized = join(pred, 'bear', '00003.png');
    writePng(resized, { width: W + 1, height: H, data: new Uint8Array((W + 1) * H) });
    const missing = join(pred, 'dog', '00004.png');
    rmSync(missing);
    rmSync(join(pred, 'car-turn'), { recursive: true });
    mkdirSync(join(pred, 'extra-video'));

    const r = soc('score', '--dataset', 'davis', '--pred', pred, '--gt', gt, '--jobs', '1');
    assert.equal(r.code, 1);
    assert.equal(r.stdout, '', 'no table when failing');
    assert.match(r.stderr, /8 prediction file\(s\) with problems \(1 corrupt, 1 size-mismatch, 6 missing\)/);
    assert.ok(r.stderr.includes(`${corrupt}: cannot decode as PNG`), r.stderr);
    assert.ok(r.stderr.includes(`${resized}: prediction is 47x62 (HxW) but the ground truth`), r.stderr);
    assert.ok(r.stderr.includes(`${missing}: missing file (dog, frame 00004)`), r.stderr);
    assert.ok(r.stderr.includes(`${join(pred, 'car-turn', '00000.png')}: missing file`), r.stderr);
    assert.match(r.stderr, /--allow-errors/);

    // --allow-errors: those frames count as empty predictions, and the JSON lists every problem
    const json = join(dir, 'scores.json');
    const ok = soc('score', '--dataset', 'davis', '--pred', pred, '--gt', gt, '--jobs', '2', '--allow-errors', '--json', json);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stderr, /scored as empty predictions/);
    assert.match(ok.stderr, /1 prediction folder\(s\) not in the ground truth were ignored: extra-video/);
    const empty = { width: W, height: H, data: new Uint8Array(W * H) };
    const b = masks.get('bear')!;
    b.pred[1] = empty;
    b.pred[3] = empty;
    masks.get('dog')!.pred[4] = empty;
    masks.get('car-turn')!.pred.fill(empty);
    const want = expectedSummary(masks);
    const report = JSON.parse(readFileSync(json, 'utf8'));
    for (const c of COLUMNS) assertClose(report[c], want[c], c);
    assert.equal(report.problems.length, 8);
    assert.deepEqual(
      report.problems.filter((p: { kind: string }) => p.kind !== 'missing').map((p: { file: string; kind: string }) => [p.file, p.kind]),
      [
        [corrupt, 'corrupt'],
        [resized, 'size-mismatch'],
      ],
    );
  });

  test('unreadable ground truth is an error naming the file', (t) => {
    const dir = tempDir(t);
    const { gt, pred } = makeDavisPair(dir);
    const bad = join(gt, 'dog', '00002.png');
    writeFileSync(bad, 'garbage');
    const r = soc('score', '--dataset', 'davis', '--pred', pred, '--gt', gt, '--jobs', '2');
    assert.equal(r.code, 1);
    assert.ok(r.stderr.includes(`${bad}: cannot decode as PNG`), r.stderr);
  });
});

describe('soc score --dataset mevis', () => {
  test('predictions in the submission layout against mask_dict.json', async (t) => {
    const dir = tempDir(t);
    const root = join(dir, 'mevis');
    await generateSynthDataset({ out: root, videos: 4, seed: 3, frames: 6, height: 48, width: 64, validFraction: 0.5 });
    const ds = await Mevis.open(root, 'valid');
    const pred = join(dir, 'run', 'Annotations');
    const objects: { name: string; j: number[]; f: number[] }[] = [];
    let k = 0;
    for (const v of ds.videos) {
      for (const e of v.expressions) {
        const j: number[] = [];
        const f: number[] = [];
        for (const frame of v.frames) {
          const gt = await ds.loadExpressionMask(v.id, e.id, frame);
          // every other expression predicted perfectly (0/255 as the servers expect), the others shifted by 2 px
          const data = new Uint8Array(gt.data.length);
          for (let i = 0; i < data.length; i++) data[i] = (k % 2 === 0 ? gt.data[i] : gt.data[i + 2]) ? 255 : 0;
          const p = { width: gt.width, height: gt.height, data };
          writePng(join(pred, v.id, e.id, `${frame}.png`), p);
          j.push(jaccard(gt, p));
          f.push(boundaryF(gt, p));
        }
        objects.push({ name: `${v.id}/${e.id}`, j, f });
        k++;
      }
    }
    const want = summarizeObjects(objects);
    const json = join(dir, 'scores.json');
    // --gt as the split folder, --pred as the folder holding Annotations/
    const r = soc('score', '--dataset', 'mevis', '--pred', join(dir, 'run'), '--gt', join(root, 'valid'), '--json', json, '--jobs', '1');
    assert.equal(r.code, 0, r.stderr);
    const report = JSON.parse(readFileSync(json, 'utf8'));
    for (const c of COLUMNS) assertClose(report[c], want[c], c);
    assert.deepEqual(report.per_video.map((v: { name: string }) => v.name), objects.map((o) => o.name));
    // --gt as the root with --split gives the same
    const lib = await scoreFolders({ pred, gt: root, split: 'valid', dataset: 'mevis', jobs: 1 });
    assert.equal(lib.summary['J&F-Mean'], report['J&F-Mean']);
  });
});
