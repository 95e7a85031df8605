// Data time per training iteration versus step time: is the model ever starved?
//   npx tsx bench/data-pipeline.ts [--iters N] [--threads N] [--shared DIR]
//
// 1. Preparation cost of one clip on one thread (read JPEGs + PNG label maps, targets, flip,
//    Pillow-exact resize, normalisation, collation) for the tiny setting (T=3, 96×160 synthetic
//    frames resized to 72 short side) and the real one (T=8, 360×640 frames, 360/640 resize).
// 2. `soc train` itself (the tiny golden config with a stand-in tokenizer, on a generated
//    `soc synth` dataset) with 0, 1 and 2 loader workers: seconds per step, and seconds per
//    iteration spent off the step (waiting for the batch plus the event-loop turn in which
//    main-thread loading and worker messages are handled) — the trainer's own measurements.

import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Rng } from '../src/data/prng.js';
import { generateSynthDataset } from '../src/data/synth.js';
import { buildStandInModel } from '../src/inference/demo.js';
import * as torch from '../src/tensor/index.js';
import { type AugmentConfig, ClipSource, augmentClip, collateClips } from '../src/training/data/index.js';
import { train } from '../src/training/trainer.js';

const arg = (name: string, fallback: string) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1]! : fallback;
};
const iters = Number(arg('--iters', '12'));
const threads = Number(arg('--threads', '1'));
const WARMUP = 3;
const shared = resolve(arg('--shared', join(import.meta.dirname, '..', '..', 'shared')));
const work = mkdtempSync(join(tmpdir(), 'soc-bench-data-'));

async function prepCost(label: string, size: { height: number; width: number }, T: number, augment: AugmentConfig, n = 8): Promise<void> {
  const root = join(work, `synth-${size.height}`);
  await generateSynthDataset({ out: root, videos: 6, seed: 3, frames: 12, ...size, validFraction: 0 });
  const spec = { dataset: 'synth' as const, root, split: 'train', window: T };
  const source = await ClipSource.open(spec);
  const samples = await source.samples();
  const times = { load: 0, augment: 0, collate: 0 };
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    const raw = await source.load(samples[(i * 7) % samples.length]!);
    const t1 = performance.now();
    const clip = augmentClip(raw, augment, new Rng(i), i);
    const t2 = performance.now();
    torch.tidy(() => collateClips([clip]));
    times.load += t1 - t0;
    times.augment += t2 - t1;
    times.collate += performance.now() - t2;
  }
  const ms = (v: number) => (v / n).toFixed(1).padStart(6);
  console.log(`  ${label.padEnd(34)} read ${ms(times.load)} ms  augment+normalise ${ms(times.augment)} ms  collate ${ms(times.collate)} ms  = ${ms(times.load + times.augment + times.collate)} ms per clip`);
}

try {
  torch.setNumThreads(threads);
  console.log(`data pipeline, ${cpus().length} CPUs, libtorch ${threads} thread(s)`);
  console.log('one clip on one thread (mean of 8):');
  await prepCost('tiny: T=3, 96×160 → 72×120', { height: 96, width: 160 }, 3, { hflip: true, colorJitter: false, scales: [72], maxSize: 640, crop: null });
  await prepCost('full: T=8, 360×640 (no resize)', { height: 360, width: 640 }, 8, { hflip: true, colorJitter: false, scales: [360], maxSize: 640, crop: null });
  await prepCost('full: T=8, 480×854 → 360×640', { height: 480, width: 854 }, 8, { hflip: true, colorJitter: false, scales: [360], maxSize: 640, crop: null });

  const golden = join(shared, 'golden', 'socpp_tiny');
  const tiny = buildStandInModel(golden, join(work, 'tiny'), ['the', 'red', 'green', 'blue', 'circle', 'square', 'moving', 'left', 'right']);
  const data = join(work, 'synth-train');
  await generateSynthDataset({ out: data, videos: 30, seed: 5, validFraction: 0 });
  console.log(`\nsoc train, tiny golden config (T=3, 72 short side), batch 1, medians of ${iters} iterations after ${WARMUP} warm-ups:`);
  for (const workers of [0, 1, 2]) {
    const out = join(work, `run-${workers}`);
    await train({
      config: tiny.config,
      init: tiny.checkpoint,
      tokenizer: tiny.tokenizer,
      dataset: 'synth',
      dataRoot: data,
      out,
      epochs: 1,
      maxIters: iters + WARMUP,
      window: 3,
      overrides: { train_short_size: 72 },
      evaluate: false,
      workers,
      threads,
    });
    // the trainer's own per-iteration measurements, after the warm-ups (worker start-up included there)
    const log = readFileSync(join(out, 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l)).filter((e) => e.type === 'iter').slice(WARMUP);
    const median = (k: string) => {
      const v = log.map((e) => e[k] as number).sort((a, b) => a - b);
      return v.length % 2 ? v[v.length >> 1]! : (v[v.length / 2 - 1]! + v[v.length / 2]!) / 2;
    };
    const step = median('step_s');
    const wait = median('data_s');
    const meanWait = log.reduce((s, e) => s + (e.data_s as number), 0) / log.length;
    console.log(`  ${workers} worker(s): step ${step.toFixed(3)} s, waiting for data ${wait.toFixed(4)} s (mean ${meanWait.toFixed(4)} s) per iteration = ${((100 * meanWait) / (step + meanWait)).toFixed(1)} % of the loop`);
  }
  console.log(`  (0 workers: the main thread reads and augments between steps, the wait is that work; load average ${loadavg()[0]!.toFixed(2)})`);
} finally {
  rmSync(work, { recursive: true, force: true });
}
