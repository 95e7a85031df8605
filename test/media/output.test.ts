// Mask PNGs, overlays with legends, and the mp4 / GIF / PNG-frame overlay writers.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { decode as decodePng } from 'fast-png';
import sharp from 'sharp';
import { loadLabelPng, vocPalette } from '../../src/data/image.js';
import type { Mask, RgbImage } from '../../src/data/types.js';
import { ffprobeCommand } from '../../src/media/ffmpeg.js';
import {
  chooseVideoFormat,
  contourOf,
  createLegend,
  masksFromTensor,
  openVideoWriter,
  renderOverlay,
  sentenceColor,
  StagedDirectory,
  writeMaskPng,
} from '../../src/media/output.js';
import { openInput, readAllFrames } from '../../src/media/video-input.js';
import * as torch from '../../src/tensor/index.js';
import { tempDir } from '../helpers/shared.js';
import { needFfmpeg } from './fixtures.js';

function frame(width: number, height: number, fill: (x: number, y: number, c: number) => number): RgbImage {
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) for (let c = 0; c < 3; c++) data[(y * width + x) * 3 + c] = fill(x, y, c);
  return { width, height, data };
}

function box(width: number, height: number, x0: number, y0: number, x1: number, y1: number): Mask {
  const data = new Uint8Array(width * height);
  for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) data[y * width + x] = 1;
  return { width, height, data };
}

/** Only the entries a run left in `dir` (no temporary or staging leftovers). */
const entries = (dir: string) => readdirSync(dir).sort();

describe('mask PNGs', () => {
  test('palette PNG at the given size, values kept, written atomically', (t) => {
    const dir = tempDir(t);
    const mask = box(13, 7, 2, 1, 9, 5);
    writeMaskPng(join(dir, '00005.png'), mask);
    assert.deepEqual(entries(dir), ['00005.png']);
    const back = loadLabelPng(join(dir, '00005.png'));
    assert.deepEqual([back.width, back.height], [13, 7]);
    assert.deepEqual(back.data, mask.data);
    const png = decodePng(readFileSync(join(dir, '00005.png')));
    assert.equal(png.channels, 1);
    assert.deepEqual(png.palette?.[1]?.slice(0, 3), vocPalette()[1]);
  });

  test('masks from a [T, H, W] tensor', () => {
    const t = torch.tensor([[[0, 1], [1, 0]], [[1, 1], [0, 0]]], { dtype: 'uint8' });
    const masks = masksFromTensor(t.to('bool'));
    assert.equal(masks.length, 2);
    assert.deepEqual([...masks[1]!.data], [1, 1, 0, 0]);
    assert.deepEqual([masks[0]!.width, masks[0]!.height], [2, 2]);
    t.dispose();
  });
});

describe('overlays', () => {
  test('inside a mask: trunc(0.5·pixel + 0.5·colour), as the reference; outside unchanged', () => {
    const f = frame(6, 4, (x, _y, c) => [101, 50, 255][c]! - x);
    const out = renderOverlay(f, [{ mask: box(6, 4, 0, 0, 3, 4), color: [30, 200, 0] }]);
    for (let y = 0; y < 4; y++) {
      for (let x = 0; x < 6; x++) {
        for (let c = 0; c < 3; c++) {
          const src = f.data[(y * 6 + x) * 3 + c]!;
          const want = x < 3 ? Math.trunc(src * 0.5 + [30, 200, 0][c]! * 0.5) : src;
          assert.equal(out.data[(y * 6 + x) * 3 + c], want, `(${x},${y},${c})`);
        }
      }
    }
    assert.equal(out.data[0], 65); // 101/2 + 15 = 65.5 → 65
    assert.notEqual(out.data, f.data);
  });

  test('overlapping sentences blend in order; contours use the full colour', () => {
    const f = frame(10, 10, () => 100);
    const a = box(10, 10, 0, 0, 6, 10);
    const b = box(10, 10, 4, 0, 10, 10);
    const out = renderOverlay(f, [
      { mask: a, color: [200, 0, 0] },
      { mask: b, color: [0, 0, 200] },
    ]);
    assert.deepEqual([...out.data.subarray(0, 3)], [150, 50, 50]);
    assert.deepEqual([...out.data.subarray(4 * 3 + 30, 4 * 3 + 33)], [75, 25, 125]); // (4, 1): both
    const edge = contourOf(box(8, 8, 2, 2, 6, 6), 1);
    assert.equal(edge.reduce((s, v) => s + v, 0), 12); // the ring of a 4×4 square
    assert.equal(edge[3 * 8 + 3], 0);
    const withContour = renderOverlay(frame(8, 8, () => 0), [{ mask: box(8, 8, 2, 2, 6, 6), color: [9, 99, 199] }], { contour: 1 });
    assert.deepEqual([...withContour.data.subarray((2 * 8 + 2) * 3, (2 * 8 + 2) * 3 + 3)], [9, 99, 199]);
    assert.deepEqual([...withContour.data.subarray((3 * 8 + 3) * 3, (3 * 8 + 3) * 3 + 3)], [4, 49, 99]);
  });

  test('the legend lists sentences in their colours in the top-left corner', async () => {
    const sentences = ['a man in a red shirt falls down', 'the <dog> & "cat" on the left'];
    const colors = sentences.map((_, i) => sentenceColor(i));
    const legend = (await createLegend(sentences, colors, 320, 180))!;
    assert.ok(legend.width > 60 && legend.width <= 320 && legend.height > 20 && legend.height < 90, `${legend.width}x${legend.height}`);
    const f = frame(320, 180, () => 255);
    const out = renderOverlay(f, [], { legend });
    // outside the legend nothing changes; inside, the dark box and both swatch colours show
    assert.deepEqual([...out.data.subarray(out.data.length - 3)], [255, 255, 255]);
    const pixels = new Set<string>();
    for (let y = legend.y; y < legend.y + legend.height; y++) {
      for (let x = legend.x; x < legend.x + legend.width; x++) pixels.add(out.data.subarray((y * 320 + x) * 3, (y * 320 + x) * 3 + 3).join(','));
    }
    const near = (rgb: readonly number[]) => [...pixels].some((p) => p.split(',').every((v, i) => Math.abs(Number(v) - rgb[i]!) <= 2));
    assert.ok(near(colors[0]!) && near(colors[1]!), 'both swatches drawn');
    // a very long sentence is shortened to fit the frame
    const long = (await createLegend(['word '.repeat(200)], colors, 320, 180))!;
    assert.ok(long.x + long.width <= 320);
    assert.equal(await createLegend([], colors, 320, 180), null);
  });
});

describe('overlay video writers', () => {
  const W = 33; // odd sizes: the mp4 writer pads to even
  const H = 25;
  const frames = Array.from({ length: 6 }, (_, k) => frame(W, H, (x, y, c) => (c === 0 ? k * 40 : c === 1 ? x * 7 : y * 9)));

  test('mp4: H.264 yuv420p, padded to even size, right frame count; nothing left behind', async (t) => {
    if (!needFfmpeg(t)) return;
    const dir = tempDir(t);
    const w = await openVideoWriter(join(dir, 'overlay'), { width: W, height: H, fps: 6, format: 'mp4' });
    assert.equal(w.path, join(dir, 'overlay.mp4'));
    for (const f of frames) await w.write(f);
    assert.equal(existsSync(w.path), false, 'no file under the final name before finish');
    await w.finish();
    assert.deepEqual(entries(dir), ['overlay.mp4']);
    const probe = spawnSync(ffprobeCommand(), ['-v', 'error', '-count_frames', '-show_entries', 'stream=codec_name,width,height,pix_fmt,nb_read_frames', '-of', 'json', w.path]);
    const s = JSON.parse(probe.stdout.toString()).streams[0];
    assert.deepEqual([s.codec_name, s.width, s.height, s.pix_fmt, Number(s.nb_read_frames)], ['h264', 34, 26, 'yuv420p', 6]);
    // and it decodes back through our own reader, frame content roughly preserved
    const back = await readAllFrames(await openInput(w.path));
    assert.equal(back.length, 6);
    assert.ok(Math.abs(back[5]!.image.data[(12 * 34 + 16) * 3]! - 200) < 12);
  });

  test('mp4: a failing encoder or an abort leaves no file', async (t) => {
    if (!needFfmpeg(t)) return;
    const dir = tempDir(t);
    const bad = await openVideoWriter(join(dir, 'bad'), { width: W, height: H, fps: 6, format: 'mp4', crf: -5 }); // a value x264 rejects
    await assert.rejects(
      (async () => {
        for (const f of frames) await bad.write(f);
        await bad.finish();
      })(),
      /ffmpeg failed writing .*bad\.mp4/,
    );
    const aborted = await openVideoWriter(join(dir, 'aborted'), { width: W, height: H, fps: 6, format: 'mp4' });
    await aborted.write(frames[0]!);
    await assert.rejects(aborted.write(frame(W + 1, H, () => 0)), /frame of 34x25 written to a 33x25 video/);
    await aborted.abort();
    assert.deepEqual(entries(dir), []);
  });

  test('GIF fallback: animated, right size and frame count; memory limit enforced', async (t) => {
    const dir = tempDir(t);
    const w = await openVideoWriter(join(dir, 'overlay'), { width: W, height: H, fps: 5, format: 'gif' });
    for (const f of frames) await w.write(f);
    await w.finish();
    assert.deepEqual(entries(dir), ['overlay.gif']);
    const meta = await sharp(join(dir, 'overlay.gif'), { animated: true }).metadata();
    assert.deepEqual([meta.format, meta.width, meta.pageHeight, meta.pages], ['gif', W, H, 6]);
    assert.deepEqual(meta.delay?.slice(0, 2), [200, 200]);
    const small = await openVideoWriter(join(dir, 'small'), { width: W, height: H, fps: 5, format: 'gif', gifMemoryLimit: W * H * 3 * 2 });
    await small.write(frames[0]!);
    await small.write(frames[1]!);
    await assert.rejects(small.write(frames[2]!), /more than .* MiB of frames in memory; install ffmpeg/);
    await small.abort();
    assert.deepEqual(entries(dir), ['overlay.gif']);
  });

  test('PNG-frame fallback: a folder that appears whole, replacing an older one', async (t) => {
    const dir = tempDir(t);
    mkdirSync(join(dir, 'overlay'));
    writeFileSync(join(dir, 'overlay', 'stale.png'), 'old run');
    const w = await openVideoWriter(join(dir, 'overlay'), { width: W, height: H, fps: 5, format: 'png' });
    for (const f of frames.slice(0, 3)) await w.write(f);
    assert.deepEqual(entries(join(dir, 'overlay')), ['stale.png'], 'old folder intact until finish');
    await w.finish();
    assert.deepEqual(entries(dir), ['overlay']);
    assert.deepEqual(entries(join(dir, 'overlay')), ['00000.png', '00001.png', '00002.png']);
    const { data, info } = await sharp(join(dir, 'overlay', '00002.png')).raw().toBuffer({ resolveWithObject: true });
    assert.deepEqual([info.width, info.height, info.channels], [W, H, 3]);
    assert.deepEqual(new Uint8Array(data), frames[2]!.data);
    const aborted = await openVideoWriter(join(dir, 'gone'), { width: W, height: H, fps: 5, format: 'png' });
    await aborted.write(frames[0]!);
    await aborted.abort();
    assert.deepEqual(entries(dir), ['overlay']);
  });

  test('auto picks mp4 when ffmpeg is there, else GIF for short clips and PNG frames for long ones', async (t) => {
    const size = { width: 640, height: 360 };
    assert.equal(await chooseVideoFormat({ ...size, expectedFrames: 100 }, true), 'mp4');
    assert.equal(await chooseVideoFormat({ ...size, expectedFrames: 100 }, false), 'gif');
    assert.equal(await chooseVideoFormat({ ...size, expectedFrames: 2000 }, false), 'png');
    assert.equal(await chooseVideoFormat(size, false), 'png'); // unknown length: never buffer
    if (!needFfmpeg(t)) return;
    const w = await openVideoWriter(join(tempDir(t), 'a'), { width: W, height: H, fps: 5 });
    assert.equal(w.format, 'mp4');
    await w.abort();
  });

  test('staged folders: commit makes them appear, abort removes them', (t) => {
    const dir = tempDir(t);
    const staged = new StagedDirectory(join(dir, 'masks', 'sentence_0'));
    writeFileSync(join(staged.path, '00000.png'), 'x');
    assert.equal(existsSync(join(dir, 'masks', 'sentence_0')), false);
    staged.commit();
    assert.deepEqual(entries(join(dir, 'masks')), ['sentence_0']);
    const dropped = new StagedDirectory(join(dir, 'masks', 'sentence_1'));
    writeFileSync(join(dropped.path, '00000.png'), 'x');
    dropped.abort();
    assert.deepEqual(entries(join(dir, 'masks')), ['sentence_0']);
  });
});
