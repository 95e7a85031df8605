// Training data pipelines: the window rule and the sample lists, targets against the official
// pipeline's (the training fixture's targets.safetensors), the flip and its word swap,
// augmentation determinism, collation with padding, and the worker-thread loader.
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { Mevis } from '../../src/data/mevis.js';
import { Rng } from '../../src/data/prng.js';
import { RefYoutubeVos } from '../../src/data/ref-youtube-vos.js';
import { generateSynthDataset } from '../../src/data/synth.js';
import type { Mask, RgbImage } from '../../src/data/types.js';
import { PngMaskStore } from '../../src/data/video-dataset.js';
import * as torch from '../../src/tensor/index.js';
import {
  type AugmentConfig,
  type PreparedClip,
  type RawClip,
  ClipLoader,
  ClipSource,
  augmentClip,
  centreWindow,
  collateClips,
  companionsOf,
  cutWindows,
  generateWindowSamples,
  stridedWindows,
  windowsOf,
  labelOfObject,
  maskBox,
  normaliseText,
  readSamplesMetadata,
  swapLeftRight,
  unionTarget,
  windowTargetsFromLabels,
  writeSamplesMetadata,
} from '../../src/training/data/index.js';
import { targetsFrom } from '../../src/training/golden-train.js';
import type { FrameTarget } from '../../src/training/targets.js';
import { loadTensors } from '../helpers/golden.js';
import { binary, columnMajorFrames, labelMap, writeA2dH5, writeMat5, writeRgbPng, writeText } from '../data/fixtures.js';
import { spawnSync } from 'node:child_process';
import { sharedPath, tempDir } from '../helpers/shared.js';

const NO_AUGMENT: AugmentConfig = { hflip: false, colorJitter: false, scales: [72], maxSize: 640, crop: null };

function grey(width: number, height: number): RgbImage {
  return { width, height, data: new Uint8Array(width * height * 3).fill(128) };
}

function mask(rows: number[][]): Mask {
  return { width: rows[0]!.length, height: rows.length, data: Uint8Array.from(rows.flat()) };
}

/** Label maps [T, H, W] of a fixture tensor as Masks. */
function labelMaps(t: torch.Tensor): Mask[] {
  const [T, H, W] = t.shape as [number, number, number];
  const data = t.toTypedArray() as Uint8Array;
  return Array.from({ length: T }, (_, i) => ({ width: W, height: H, data: data.slice(i * H * W, (i + 1) * H * W) }));
}

function assertSameTarget(got: FrameTarget, want: FrameTarget, where: string): void {
  assert.deepEqual(got.masks.shape, want.masks.shape, `${where} masks shape`);
  assert.deepEqual(got.masks.toNumbers(), want.masks.toNumbers(), `${where} masks`);
  assert.deepEqual(got.boxes.toNumbers(), want.boxes.toNumbers(), `${where} boxes (float32, bit for bit)`);
  assert.equal(got.isRefInstVisible, want.isRefInstVisible, `${where} visibility`);
  assert.deepEqual(got.size, want.size, `${where} size`);
  assert.deepEqual(got.origSize, want.origSize, `${where} orig_size`);
  assert.equal(got.referredInstanceIdx, want.referredInstanceIdx);
  if (want.iscrowd) assert.deepEqual(got.iscrowd?.shape, want.iscrowd.shape, `${where} iscrowd length`);
  if (want.area) assert.deepEqual(got.area?.toNumbers(), want.area.toNumbers(), `${where} area`);
}

describe('window sampling', () => {
  const frames = (n: number) => Array.from({ length: n }, (_, i) => String(i).padStart(5, '0'));

  test('consecutive windows; a short last window becomes the last T frames, or repeats the last frame', () => {
    assert.deepEqual(cutWindows(frames(8), 4), [frames(4), frames(8).slice(4)]);
    assert.deepEqual(cutWindows(frames(10), 4), [frames(4), frames(8).slice(4), frames(10).slice(6)]);
    assert.deepEqual(cutWindows(frames(3), 5), [[...frames(3), '00002', '00002']]);
    assert.deepEqual(cutWindows([], 4), []);
  });

  test('strided windows: as many as the consecutive ones, each spread over the video (last frame repeated)', () => {
    const pick = (...i: number[]) => i.map((k) => frames(12)[k]!);
    assert.deepEqual(stridedWindows(frames(8), 4), [pick(0, 2, 4, 6), pick(1, 3, 5, 7)]);
    assert.deepEqual(stridedWindows(frames(10), 4), [pick(0, 3, 6, 9), pick(1, 4, 7, 9), pick(2, 5, 8, 9)]);
    assert.deepEqual(stridedWindows(frames(12), 4), [pick(0, 3, 6, 9), pick(1, 4, 7, 10), pick(2, 5, 8, 11)]);
    assert.deepEqual(stridedWindows(frames(3), 5), [pick(0, 1, 2, 2, 2)]);
    assert.deepEqual(stridedWindows(frames(4), 4), [frames(4)]);
    assert.deepEqual(stridedWindows([], 4), []);
    for (let n = 1; n <= 13; n++) {
      assert.equal(windowsOf(frames(n), 4, 'strided').length, windowsOf(frames(n), 4).length, `${n} frames`);
      assert.deepEqual(new Set(windowsOf(frames(n), 4, 'strided').flat()), new Set(frames(n)), `${n} frames: every frame in some window`);
    }
  });

  test('A2D / JHMDB centre windows are clamped to the video', () => {
    assert.deepEqual(centreWindow(1, 3, 0, 2), [0, 1, 2]);
    assert.deepEqual(centreWindow(0, 8, 0, 5), [0, 0, 0, 0, 0, 1, 2, 3]);
    assert.deepEqual(centreWindow(5, 4, 1, 5), [3, 4, 5, 5]);
  });

  test('generated samples follow the reference rule (MeViS: every referred object in the window; Ref-YouTube-VOS: the object) and round-trip as metadata', async (t) => {
    const dir = tempDir(t);
    await generateSynthDataset({ out: join(dir, 'mevis'), videos: 3, seed: 5, height: 48, width: 80, validFraction: 0 });
    await generateSynthDataset({ out: join(dir, 'ytvos'), videos: 3, seed: 5, height: 48, width: 80, validFraction: 0, format: 'ytvos' });
    for (const [name, ds, style] of [
      ['mevis', await Mevis.open(join(dir, 'mevis'), 'train', { masks: 'png' }), 'mevis'],
      ['ytvos', await RefYoutubeVos.open(join(dir, 'ytvos'), 'train'), 'ytvos'],
    ] as const) {
      const T = 4;
      for (const sampling of ['consecutive', 'strided'] as const) {
        const samples = await generateWindowSamples(ds, T, style, undefined, sampling);
        const store = ds.masks as PngMaskStore;
        let expected = 0;
        let dropped = 0;
        for (const v of ds.videos) {
          for (const e of v.expressions) {
            for (const w of sampling === 'strided' ? stridedWindows(v.frames, T) : cutWindows(v.frames, T)) {
              const present = new Set(w.flatMap((f) => [...store.loadLabels(v, f).data]));
              const keep = e.objIds!.every((o) => present.has(labelOfObject(style, o)));
              const found = samples.some((s) => s.videoId === v.id && s.expId === e.id && s.frames.join() === w.join());
              assert.equal(found, keep, `${name} ${sampling} ${v.id} expression ${e.id} window ${w[0]}`);
              if (keep) expected++;
              else dropped++;
            }
          }
        }
        assert.equal(samples.length, expected);
        if (sampling === 'consecutive') assert.ok(dropped > 0, `${name}: the synthetic objects leave the frame, so some windows are dropped`);
        const file = join(dir, `${name}-${sampling}.json`);
        writeSamplesMetadata(file, samples, style);
        assert.deepEqual(readSamplesMetadata(file), samples);
      }
    }
  });
});

describe('targets', () => {
  test('boxes use inclusive max pixel indices; MeViS unions keep the zero box of an absent object', () => {
    const a = mask([
      [0, 0, 0, 0],
      [0, 1, 1, 0],
      [0, 1, 0, 0],
    ]);
    assert.deepEqual(maskBox(a), [1, 1, 2, 2]);
    assert.deepEqual(maskBox(mask([[0, 0]])), [0, 0, 0, 0]);
    const absent = mask([
      [0, 0, 0, 0],
      [0, 0, 0, 0],
      [0, 0, 0, 0],
    ]);
    const u = unionTarget([a, absent], 2);
    assert.deepEqual(u.box, [0, 0, 2, 2], 'the top-left collapses to (0, 0)');
    assert.equal(u.visible, true);
  });

  test('the official pipeline targets are reproduced: MeViS single and multi-object, a batch of two clips, A2D', (t) => {
    const dir = sharedPath(t, 'golden', 'socpp_tiny_train');
    if (!dir) return;
    const file = loadTensors(join(dir, 'targets.safetensors'));
    torch.tidy(() => {
      const prepare = (labels: Mask[], referred: number[], short: number): PreparedClip => {
        const raw: RawClip = { frames: labels.map((m) => grey(m.width, m.height)), targets: windowTargetsFromLabels(labels, referred, 'fixture'), text: 'x' };
        return augmentClip(raw, { ...NO_AUGMENT, scales: [short] }, new Rng(1));
      };
      const main = labelMaps(file.get('annotation.main.labels')!);
      // MeViS obj_id [1] → palette value 2 (the ellipse, absent from frame 1)
      const single = collateClips([prepare(main, [2], 72)]).targets;
      const want = targetsFrom(file, 'targets.');
      want.forEach((step, ti) => assertSameTarget(single[ti]![0]!, step[0]!, `main t=${ti}`));
      const multi = collateClips([prepare(main, [1, 2], 72)]).targets;
      targetsFrom(file, 'multi.targets.').forEach((step, ti) => assertSameTarget(multi[ti]![0]!, step[0]!, `multi t=${ti}`));
      const clip1 = labelMaps(file.get('annotation.batch2_clip1.labels')!);
      const batch = collateClips([prepare(main, [2], 72), prepare(clip1, [1], 56)]).targets;
      targetsFrom(file, 'batch2.targets.').forEach((step, ti) => step.forEach((w, b) => assertSameTarget(batch[ti]![b]!, w, `batch2 t=${ti} b=${b}`)));

      // A2D: instance id 2 (h5 index 1) of a 3-frame window, annotated 1-based frame 2 → centre position 1
      const reMask = labelMaps(file.get('annotation.a2d.reMask')!);
      const inst = reMask[1]!;
      const raw: RawClip = {
        frames: [0, 1, 2].map(() => grey(inst.width, inst.height)),
        targets: [null, { mask: inst, box: maskBox(inst), visible: true, numObjects: 2, labels: [0], area: reMask.map((m) => m.data.reduce((s, v) => s + v, 0)) }, null],
        text: 'the ellipse on the right',
      };
      const a2d = collateClips([augmentClip(raw, NO_AUGMENT, new Rng(1))]);
      assert.deepEqual(a2d.validIndices!.toNumbers(), file.get('a2d.valid_indices')!.toNumbers());
      assertSameTarget(a2d.targets[0]![0]!, targetsFrom(file, 'a2d.targets.')[0]![0]!, 'a2d');
      return null;
    });
    torch.disposeAll([...file.values()]);
  });
});

describe('augmentations', () => {
  const clip = (): RawClip => {
    const m = mask([
      [0, 0, 0, 0, 0, 0],
      [0, 1, 1, 0, 0, 0],
      [0, 1, 1, 0, 0, 0],
      [0, 0, 0, 0, 0, 0],
    ]);
    const frame: RgbImage = { width: 6, height: 4, data: Uint8Array.from({ length: 72 }, (_, i) => (i * 7) % 256) };
    const empty = mask([[0, 0, 0, 0, 0, 0], [0, 0, 0, 0, 0, 0], [0, 0, 0, 0, 0, 0], [0, 0, 0, 0, 0, 0]]);
    return {
      frames: [frame, frame],
      targets: [unionTarget([m], 1), unionTarget([empty], 1)],
      text: 'the bright square on the left moving right',
    };
  };
  const sameSize: AugmentConfig = { hflip: true, colorJitter: false, scales: [4], maxSize: null, crop: null };

  test('text normalisation and the reference\'s left/right swap (plain substrings)', () => {
    assert.equal(normaliseText('  The  Red\tCircle\n moving LEFT '), 'the red circle moving left');
    assert.equal(swapLeftRight('the bright square on the left moving right'), 'the bleft square on the right moving left');
    assert.equal(swapLeftRight('a @ sign'), 'a right sign');
  });

  test('the flip mirrors frames and masks, maps boxes to [w − x2, y1, w − x1, y2] (an empty box to cx = 1) and swaps the words', () => {
    let flipped: PreparedClip | null = null;
    let plain: PreparedClip | null = null;
    for (let s = 0; s < 50 && !(flipped && plain); s++) {
      const p = augmentClip(clip(), sameSize, new Rng(s));
      if (p.flipped) flipped ??= p;
      else plain ??= p;
    }
    assert.ok(flipped && plain);
    assert.equal(flipped.text, 'the bleft square on the right moving left');
    assert.equal(plain.text, 'the bright square on the left moving right');
    const t0 = flipped.targets[0]!;
    assert.deepEqual(Array.from(t0.mask), [0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 0, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0]);
    // box [1, 1, 2, 2] on a width-6 frame → [4, 1, 5, 2] → cxcywh / (6, 4)
    assert.deepEqual(t0.box, [4.5 / 6, 0.375, Math.fround(1 / 6), 0.25].map(Math.fround));
    assert.deepEqual(flipped.targets[1]!.box, [1, 0, 0, 0], 'a flipped empty box');
    assert.deepEqual(plain.targets[1]!.box, [0, 0, 0, 0]);
    // frames mirrored: pixel (0, 0) of the flip is pixel (0, 5) of the original, normalised the same way
    const planeOf = (p: PreparedClip) => p.video.subarray(0, 24);
    assert.equal(planeOf(flipped)[0], planeOf(plain)[5]);
  });

  test('the flip fires with the reference\'s probability 1 − Φ(0.5) ≈ 0.3085, and a seed fixes every draw', () => {
    let n = 0;
    const N = 4000;
    for (let s = 0; s < N; s++) if (augmentClip(clip(), sameSize, new Rng(s)).flipped) n++;
    assert.ok(Math.abs(n / N - 0.3085) < 0.025, `flip rate ${n / N}`);
    const jitter: AugmentConfig = { hflip: true, colorJitter: true, scales: [3, 4], maxSize: 5, crop: { minSize: 2, maxSize: 5, probability: 0.5 } };
    for (let s = 0; s < 20; s++) {
      const a = augmentClip(clip(), jitter, new Rng(s));
      const b = augmentClip(clip(), jitter, new Rng(s));
      assert.deepEqual(a, b);
      for (const t of a.targets) assert.equal(t!.mask.length, a.height * a.width);
    }
  });
});

describe('companion expressions', () => {
  test('a companion is augmented with the clip\'s own random choices: the targets and text it would get as the clip\'s expression', () => {
    // 6×4 masks holding one rectangle (inclusive corners)
    const rect = (x0: number, y0: number, x1: number, y1: number) => mask(Array.from({ length: 4 }, (_, y) => Array.from({ length: 6 }, (_, x) => (x >= x0 && x <= x1 && y >= y0 && y <= y1 ? 1 : 0))));
    const square = rect(1, 0, 2, 1);
    const other = rect(4, 2, 5, 3);
    const frame: RgbImage = { width: 6, height: 4, data: Uint8Array.from({ length: 72 }, (_, i) => (i * 11) % 256) };
    const first = { targets: [unionTarget([square], 1), unionTarget([square], 1)], text: 'the square on the left' };
    const second = { targets: [unionTarget([other], 1), unionTarget([other], 1)], text: 'the shape moving right' };
    const config: AugmentConfig = { hflip: true, colorJitter: true, scales: [4, 8], maxSize: 12, crop: { minSize: 3, maxSize: 6, probability: 0.5 } };
    let flips = 0;
    for (let s = 0; s < 40; s++) {
      const both = augmentClip({ frames: [frame, frame], ...first, companions: [second] }, config, new Rng(s), 7);
      const alone = augmentClip({ frames: [frame, frame], ...first }, config, new Rng(s), 7);
      const asMain = augmentClip({ frames: [frame, frame], ...second }, config, new Rng(s), 7);
      const { companions, ...rest } = both;
      assert.deepEqual(rest, alone, 'the clip itself is unchanged by its companions');
      assert.deepEqual(companions, [{ text: asMain.text, targets: asMain.targets }]);
      if (both.flipped) flips++;
    }
    assert.ok(flips > 0 && flips < 40);
  });

  test('companions come from the same window, differ from the sample and each other, and are fixed by (seed, epoch, sample)', () => {
    const w = (videoId: string, frames: string[], expId: string) => ({ kind: 'window' as const, videoId, frames, exp: `e${expId}`, objIds: [0], expId });
    const samples = [w('a', ['0', '1'], '0'), w('a', ['2', '3'], '0'), w('a', ['0', '1'], '1'), w('a', ['0', '1'], '2'), w('b', ['0', '1'], '0'), w('a', ['0', '1'], '3')];
    const data = { spec: { dataset: 'synth' as const, root: '', split: 'train', window: 2 }, samples, augment: NO_AUGMENT, seed: 3 };
    assert.deepEqual(companionsOf(data, 0, 0), [], 'one expression per clip by default');
    const k3 = { ...data, expressionsPerClip: 3 };
    const seen = new Set<string>();
    for (let epoch = 0; epoch < 12; epoch++) {
      const c = companionsOf(k3, 0, epoch);
      assert.equal(c.length, 2);
      assert.equal(new Set(c).size, 2);
      for (const i of c) assert.ok([2, 3, 5].includes(i), `sample ${i} shares the window of sample 0`);
      assert.deepEqual(companionsOf(k3, 0, epoch), c);
      seen.add(c.join());
    }
    assert.ok(seen.size > 1, 'the draw changes with the epoch');
    assert.deepEqual(companionsOf(k3, 1, 0), [], 'a window with one expression');
    assert.deepEqual(companionsOf(k3, 4, 0), []);
    assert.deepEqual(companionsOf({ ...data, expressionsPerClip: 10 }, 0, 0).sort(), [2, 3, 5]);
  });

  test('collation: one video per clip, one text and target column per expression, and the frame index of each', () => {
    const target = (v: number) => ({ mask: new Uint8Array(6).fill(v), box: [0.5, 0.5, 1, 1] as [number, number, number, number], visible: true, size: [2, 3] as [number, number], origSize: [2, 3] as [number, number], numObjects: 1 });
    const clip = (sampleIndex: number, texts: string[], T: number): PreparedClip => ({
      sampleIndex,
      text: texts[0]!,
      numFrames: T,
      height: 2,
      width: 3,
      video: new Float32Array(T * 3 * 6).fill(sampleIndex),
      targets: Array.from({ length: T }, () => target(sampleIndex)),
      flipped: false,
      ...(texts.length > 1 ? { companions: texts.slice(1).map((text, k) => ({ text, targets: Array.from({ length: T }, () => target(k % 2)) })) } : {}),
    });
    torch.tidy(() => {
      const b = collateClips([clip(1, ['a', 'b', 'c'], 2), clip(0, ['d'], 2)]);
      assert.deepEqual(b.video.shape, [2, 2, 3, 2, 3], 'two clips encoded');
      assert.deepEqual(b.texts, ['a', 'b', 'c', 'd']);
      assert.equal(b.targets.length, 2);
      assert.equal(b.targets[0]!.length, 4);
      assert.deepEqual(b.targets[1]!.map((x) => x.masks.sum().item()), [6, 0, 6, 0]);
      assert.deepEqual(b.frameIndex!.toNumbers(), [0, 1, 0, 1, 0, 1, 2, 3]);
      assert.deepEqual(b.targetSizes.shape, [4, 2]);
      assert.equal(collateClips([clip(0, ['d'], 2)]).frameIndex, null, 'no companions: no frame index');
      return null;
    });
  });
});

describe('collation', () => {
  test('clips of different sizes are zero-padded time-major with a padding mask; A2D keeps the annotated frames as valid indices', () => {
    const prepared = (h: number, w: number, T: number, annotated: number | null): PreparedClip => ({
      sampleIndex: 0,
      text: 'x',
      numFrames: T,
      height: h,
      width: w,
      video: new Float32Array(T * 3 * h * w).fill(1),
      targets: Array.from({ length: T }, (_, t) =>
        annotated === null || t === annotated ? { mask: new Uint8Array(h * w).fill(1), box: [0.5, 0.5, 1, 1], visible: true, size: [h, w], origSize: [h * 2, w * 2], numObjects: 1 } : null,
      ),
      flipped: false,
    });
    torch.tidy(() => {
      const b = collateClips([prepared(4, 6, 2, null), prepared(3, 5, 2, null)]);
      assert.deepEqual(b.video.shape, [2, 2, 3, 4, 6]);
      assert.deepEqual(b.videoMask.shape, [2, 2, 4, 6]);
      const m = b.videoMask.select(0, 0).select(0, 1).toNumbers();
      assert.equal(m.filter((v) => v).length, 4 * 6 - 3 * 5, 'padding marked true');
      assert.equal(b.video.select(0, 1).select(0, 1).sum().item(), 3 * 3 * 5, 'padding is zero');
      assert.deepEqual(b.targetSizes.toNumbers(), [4, 6, 3, 5]);
      assert.equal(b.targets.length, 2);
      assert.deepEqual(b.targets[1]![1]!.masks.shape, [1, 3, 5]);
      assert.equal(b.validIndices, null);

      const a2d = collateClips([prepared(4, 6, 3, 1), prepared(4, 6, 3, 1)]);
      assert.deepEqual(a2d.validIndices!.toNumbers(), [1, 4]);
      assert.equal(a2d.targets.length, 1);
      assert.equal(a2d.targets[0]!.length, 2);
      return null;
    });
  });
});

describe('centre-frame datasets', () => {
  test('A2D-Sentences: T decoded frames around the annotated one (clamped), the referred instance\'s target, areas and image id', async (t) => {
    if (spawnSync('ffmpeg', ['-version']).status !== 0) return t.skip('ffmpeg not installed');
    const root = tempDir(t);
    const [W, H, N] = [16, 12, 6];
    writeText(join(root, 'Release/videoset.csv'), 'vidA,11,0,5,12,16,6,1,0\n');
    writeText(join(root, 'text_annotations/a2d_annotation.txt'), 'video_id,instance_id,query\nvidA,2,The dog  jumping\n');
    writeText(join(root, 'text_annotations/a2d_missed_videos.txt'), '');
    const labels = labelMap(W, H, [[1, 0, 0, 5, 4], [2, 8, 6, 14, 12]]);
    await writeA2dH5(join(root, 'text_annotations/a2d_annotation_with_instances/vidA/00002.h5'), [1, 2], [1, 2].map((l) => ({ ...labels, data: binary(labels, l) })));
    // frame k is a flat grey of 30 + 40k
    const raw = Buffer.concat(Array.from({ length: N }, (_, k) => Buffer.alloc(W * H * 3, 30 + 40 * k)));
    const mp4 = join(root, 'Release/clips320H/vidA.mp4');
    mkdirSync(join(root, 'Release/clips320H'), { recursive: true });
    const enc = spawnSync('ffmpeg', ['-v', 'error', '-y', '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-s', `${W}x${H}`, '-r', '10', '-i', 'pipe:0', '-c:v', 'mpeg4', '-q:v', '1', '-pix_fmt', 'yuv420p', mp4], { input: raw });
    assert.equal(enc.status, 0, String(enc.stderr));
    const source = await ClipSource.open({ dataset: 'a2d', root, split: 'train', window: 4 });
    const samples = await source.samples();
    assert.deepEqual(samples, [{ kind: 'a2d', query: 'the dog  jumping', videoId: 'vidA', frameIdx: 2, instanceId: 2 }]);
    const clip = await source.load(samples[0]!);
    assert.equal(clip.text, 'the dog jumping');
    // 1-based frame 2 → decoded index 1; window 1 − 2 … 1 + 1 clamped: 0, 0, 1, 2
    assert.deepEqual(clip.frames.map((f) => Math.round((f.data[0]! - 30) / 40)), [0, 0, 1, 2]);
    assert.deepEqual(clip.targets.map((x) => x !== null), [false, false, true, false]);
    const target = clip.targets[2]!;
    assert.deepEqual(target.box, maskBox({ ...labels, data: binary(labels, 2) }));
    assert.deepEqual(target.area, [1, 2].map((l) => binary(labels, l).reduce((a, v) => a + v, 0)));
    assert.equal(target.numObjects, 2);
    assert.equal(target.imageId, 'v_vidA_f_2_i_2');
  });

  test('JHMDB-Sentences: a window around each metadata frame, clamped to the masked frames, with a target on the middle frame only', async (t) => {
    const root = tempDir(t);
    const [W, H] = [10, 8];
    writeText(join(root, 'jhmdb_annotation.txt'), 'video_id,query\nrun_1,"The  man running LEFT"\n');
    for (let i = 1; i <= 5; i++) await writeRgbPng(join(root, 'Rename_Images/run/run_1', `${String(i).padStart(5, '0')}.png`), W, H, [10 * i, 50, 60]);
    const masks = [0, 1, 2, 3].map((k) => labelMap(W, H, [[1, k, 1, k + 4, 7]]));
    writeMat5(join(root, 'puppet_mask/run/run_1/puppet_mask.mat'), 'part_mask', [H, W, 4], columnMajorFrames(masks), true);
    const source = await ClipSource.open({ dataset: 'jhmdb', root, split: 'test', window: 4 });
    const samples = await source.samples({ seed: 3 });
    assert.equal(samples.length, 3, 'three frames per video');
    const sample = samples.find((s) => s.kind === 'jhmdb' && s.frameIdx === 4) ?? samples[2]!;
    const raw = await source.load(sample);
    assert.equal(raw.text, 'the man running left');
    assert.deepEqual(raw.targets.map((x) => x !== null), [false, false, true, false]);
    const frameIdx = (sample as { frameIdx: number }).frameIdx;
    // frame pixels tell which file each window position read (red = 10 · frame)
    const expected = centreWindow(frameIdx, 4, 1, 4).map((i) => 10 * i);
    assert.deepEqual(raw.frames.map((f) => f.data[0]), expected);
    const target = raw.targets[2]!;
    assert.deepEqual(Array.from(target.mask.data), Array.from(masks[frameIdx - 1]!.data, (v) => (v ? 1 : 0)), 'the metadata frame\'s puppet mask');
    assert.deepEqual(target.box, maskBox(target.mask));
    assert.equal(target.visible, true);
    assert.equal(target.imageId, `v_run_1_f_${frameIdx}`);
    torch.tidy(() => {
      const b = collateClips([augmentClip(raw, { ...NO_AUGMENT, scales: [8] }, new Rng(0))]);
      assert.deepEqual(b.validIndices!.toNumbers(), [2]);
      return null;
    });
  });
});

describe('loader', () => {
  test('worker threads and the main thread give the same batches; epochs are seeded permutations', async (t) => {
    const dir = tempDir(t);
    await generateSynthDataset({ out: join(dir, 'synth'), videos: 3, seed: 2, height: 48, width: 80, validFraction: 0 });
    const spec = { dataset: 'synth' as const, root: join(dir, 'synth'), split: 'train', window: 3 };
    const samples = await (await ClipSource.open(spec)).samples();
    const augment: AugmentConfig = { hflip: true, colorJitter: false, scales: [48], maxSize: 640, crop: null };
    const run = async (workers: number, expressionsPerClip = 1) => {
      const loader = await ClipLoader.create({ spec, samples, augment, seed: 9, workers, prefetch: 2, expressionsPerClip });
      const out: string[] = [];
      try {
        for await (const { clips } of loader.batches(1, 2, { start: 1, limit: 3 })) {
          const describe = (text: string, targets: PreparedClip['targets']) => `${text}/${targets.map((x) => `${x!.box.join(',')}:${x!.mask.reduce((s, v) => s + v, 0)}`).join(';')}`;
          out.push(
            clips
              .map((c) => `${c.sampleIndex}/${c.flipped}/${c.video.reduce((s, v) => s + v, 0).toFixed(3)}/${[describe(c.text, c.targets), ...(c.companions ?? []).map((e) => describe(e.text, e.targets))].join('+')}`)
              .join('|'),
          );
        }
        const e0 = loader.epochOrder(0);
        assert.deepEqual([...e0].sort((a, b) => a - b), samples.map((_, i) => i));
        assert.notDeepEqual(e0, loader.epochOrder(1));
        assert.deepEqual(loader.epochOrder(1), loader.epochOrder(1));
      } finally {
        await loader.close();
      }
      return out;
    };
    const main = await run(0);
    assert.equal(main.length, 3);
    assert.deepEqual(await run(1), main);
    const grouped = await run(0, 3);
    assert.ok(grouped.join().includes('+'), 'companions came along');
    assert.deepEqual(await run(1, 3), grouped);
    // the clip's own part is what it is without companions
    assert.deepEqual(grouped.map((b) => b.split('|').map((c) => c.split('+')[0]).join('|')), main);
  });
});
