// Opening videos, frame folders and images; frame selection; lazy decoding; input errors.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { FileFormatError, UsageError } from '../../src/errors.js';
import { FfmpegMissingError, ffmpegCommand } from '../../src/media/ffmpeg.js';
import {
  countSelected,
  keepsSourceIndex,
  naturalCompare,
  openInput,
  readAllFrames,
  resolveSelection,
  type InputFrame,
} from '../../src/media/video-input.js';
import { tempDir } from '../helpers/shared.js';
import { greyOf, makeGreyVideo, needFfmpeg, withRotation, writeGreyImage } from './fixtures.js';

/** Which grey-coded source frame a decoded frame is (centre pixel / 8). */
const frameCode = (f: InputFrame) => Math.round(f.image.data[((f.image.height >> 1) * f.image.width + (f.image.width >> 1)) * 3]! / 8);

describe('natural sort', () => {
  test('numbers inside names compare by value', () => {
    const names = ['frame10.png', 'frame2.png', 'frame1.png', 'Frame3.png', 'frame002.png', 'a.png', 'frame1b.png', '10.jpg', '9.jpg'];
    assert.deepEqual(names.sort(naturalCompare), ['9.jpg', '10.jpg', 'Frame3.png', 'a.png', 'frame1.png', 'frame1b.png', 'frame002.png', 'frame2.png', 'frame10.png']);
    assert.ok(naturalCompare('00009', '00010') < 0);
    assert.ok(naturalCompare('img_99999', 'img_100000') < 0);
  });
});

describe('frame selection', () => {
  const pick = (sel: Parameters<typeof resolveSelection>[0], kind: 'video' | 'folder', fps: number | null, n: number) => {
    const r = resolveSelection(sel, kind, fps);
    const out: number[] = [];
    for (let i = 0; i < n && out.length < r.maxFrames; i++) if (keepsSourceIndex(r, i)) out.push(i);
    assert.equal(countSelected(r, n), out.length);
    return out;
  };

  test('every, start/end in seconds, fps thinning, max frames', () => {
    assert.deepEqual(pick({ every: 5 }, 'video', 30, 23), [0, 5, 10, 15, 20]);
    assert.deepEqual(pick({ start: 1, end: 2.5, every: 2 }, 'video', 10, 40), [10, 12, 14, 16, 18, 20, 22, 24]);
    // first frame at or after each 1/4 s at 10 fps: 0, 0.3, 0.5, 0.8, 1.0 …
    assert.deepEqual(pick({ fps: 4 }, 'video', 10, 14), [0, 3, 5, 8, 10, 13]);
    assert.deepEqual(pick({ fps: 4, every: 2 }, 'video', 10, 20), [0, 5, 10, 15]);
    assert.deepEqual(pick({ fps: 60 }, 'video', 30, 4), [0, 1, 2, 3]); // never duplicates
    assert.deepEqual(pick({ fps: 4, maxFrames: 3 }, 'video', 10, 100), [0, 3, 5]);
    assert.deepEqual(pick({ start: 2, end: 5 }, 'folder', null, 10), [2, 3, 4]);
  });

  test('invalid selections are usage errors that name the option', () => {
    assert.throws(() => resolveSelection({ fps: 2 }, 'folder', null), /--fps needs a video/);
    assert.throws(() => resolveSelection({ start: 1.5 }, 'folder', null), /--start is a frame index/);
    assert.throws(() => resolveSelection({ every: 0 }, 'video', 30), /--every/);
    assert.throws(() => resolveSelection({ maxFrames: 2.5 }, 'video', 30), /--max-frames/);
    assert.throws(() => resolveSelection({ start: 3, end: 2 }, 'video', 30), /--end must be greater/);
    assert.throws(() => resolveSelection({ fps: -1 }, 'video', 30), UsageError);
    assert.throws(() => resolveSelection({ start: 1 }, 'video', null), /frame rate/);
  });
});

describe('video files', () => {
  test('mp4: metadata first, then every frame in order with zero-padded names', async (t) => {
    if (!needFfmpeg(t)) return;
    const file = join(tempDir(t), 'clip.mp4');
    makeGreyVideo(file, 12, { width: 64, height: 48, fps: 10 });
    const src = await openInput(file);
    assert.equal(src.info.kind, 'video');
    assert.equal(src.info.width, 64);
    assert.equal(src.info.height, 48);
    assert.equal(src.info.fps, 10);
    assert.equal(src.info.sourceFrameCount, 12);
    assert.equal(src.info.selectedFrameCount, 12);
    assert.equal(src.info.frameCountExact, false);
    const frames = await readAllFrames(src);
    assert.deepEqual(frames.map((f) => f.name), ['00000', '00001', '00002', '00003', '00004', '00005', '00006', '00007', '00008', '00009', '00010', '00011']);
    assert.deepEqual(frames.map(frameCode), [...Array(12).keys()]);
    for (const f of frames) {
      assert.equal(f.image.data.length, 64 * 48 * 3);
      const g = f.image.data[100]!;
      assert.ok(Math.abs(g - greyOf(f.sourceIndex)) <= 1, `frame ${f.sourceIndex}: grey ${g}`);
    }
    assert.deepEqual(frames.map((f) => f.time), frames.map((f) => f.sourceIndex / 10));
    // frames() can run again (a second pass, e.g. for overlays)
    assert.equal((await readAllFrames(src)).length, 12);
  });

  test('selection inside ffmpeg (start/end/every) and in JS (fps) picks the right source frames', async (t) => {
    if (!needFfmpeg(t)) return;
    const file = join(tempDir(t), 'clip.mp4');
    makeGreyVideo(file, 30, { fps: 10 });
    const cases: [Parameters<typeof openInput>[1], number[]][] = [
      [{ start: 1, end: 2.5, every: 2 }, [10, 12, 14, 16, 18, 20, 22, 24]],
      [{ every: 7 }, [0, 7, 14, 21, 28]],
      [{ fps: 4, maxFrames: 5 }, [0, 3, 5, 8, 10]],
      [{ start: 0.5, fps: 2, every: 2 }, [5, 15, 25]],
      [{ start: 2.7 }, [27, 28, 29]],
      [{ maxFrames: 2 }, [0, 1]],
    ];
    for (const [sel, expected] of cases) {
      const src = await openInput(file, sel);
      const frames = await readAllFrames(src);
      const what = JSON.stringify(sel);
      assert.deepEqual(frames.map((f) => f.sourceIndex), expected, what);
      assert.deepEqual(frames.map(frameCode), expected, `${what}: decoded pixels belong to those frames`);
      assert.deepEqual(frames.map((f) => f.index), expected.map((_, i) => i), what);
      assert.equal(src.info.selectedFrameCount, expected.length, `${what}: estimate`);
    }
  });

  test('windows: fixed size with overlap, one window at a time', async (t) => {
    if (!needFfmpeg(t)) return;
    const file = join(tempDir(t), 'clip.mp4');
    makeGreyVideo(file, 10);
    const src = await openInput(file);
    const windows: number[][] = [];
    for await (const w of src.windows(4, 1)) windows.push(w.map((f) => f.sourceIndex));
    assert.deepEqual(windows, [[0, 1, 2, 3], [3, 4, 5, 6], [6, 7, 8, 9]]);
    const plain: number[][] = [];
    for await (const w of src.windows(4)) plain.push(w.map(frameCode));
    assert.deepEqual(plain, [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]);
    await assert.rejects(async () => {
      for await (const _ of src.windows(3, 3));
    }, UsageError);
  });

  test('stopping early ends the decoder promptly', async (t) => {
    if (!needFfmpeg(t)) return;
    const file = join(tempDir(t), 'long.mp4');
    makeGreyVideo(file, 200, { width: 160, height: 120, fps: 30 });
    const src = await openInput(file);
    const started = Date.now();
    let n = 0;
    for await (const f of src.frames()) {
      assert.equal(f.sourceIndex, n);
      if (++n === 3) break;
    }
    assert.equal(n, 3);
    assert.ok(Date.now() - started < 5000);
    assert.equal((await readAllFrames(await openInput(file, { maxFrames: 4 }))).length, 4);
  });

  test('streaming: a long clip is decoded with bounded memory', async (t) => {
    if (!needFfmpeg(t)) return;
    const file = join(tempDir(t), 'long.mp4');
    const made = spawnSync(ffmpegCommand(), ['-v', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc2=size=640x360:rate=30', '-frames:v', '600', '-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', file]);
    assert.equal(made.status, 0, made.stderr?.toString());
    const src = await openInput(file);
    const before = process.memoryUsage().rss;
    let peak = before;
    let n = 0;
    for await (const _ of src.frames()) if (++n % 25 === 0) peak = Math.max(peak, process.memoryUsage().rss);
    assert.equal(n, 600);
    // All 600 frames would be 415 MB; streaming holds a few frames plus garbage not yet collected.
    assert.ok(peak - before < 150 * 2 ** 20, `RSS grew by ${((peak - before) / 2 ** 20).toFixed(0)} MB`);
  });

  test('mov, mkv, webm and avi decode too', async (t) => {
    if (!needFfmpeg(t)) return;
    const dir = tempDir(t);
    for (const ext of ['mov', 'mkv', 'webm', 'avi']) {
      const file = join(dir, `clip.${ext}`);
      makeGreyVideo(file, 5, { width: 32, height: 24, fps: 5 });
      const src = await openInput(file);
      assert.equal(src.info.width, 32, ext);
      assert.equal(src.info.height, 24, ext);
      const frames = await readAllFrames(src);
      assert.deepEqual(frames.map(frameCode), [0, 1, 2, 3, 4], ext);
    }
  });

  test('rotation metadata: upright by default, as stored with autorotate false', async (t) => {
    if (!needFfmpeg(t)) return;
    const dir = tempDir(t);
    const file = join(dir, 'rotated.mp4');
    makeGreyVideo(join(dir, 'plain.mp4'), 3, { width: 64, height: 48 });
    withRotation(join(dir, 'plain.mp4'), file, 90);
    const upright = await openInput(file);
    assert.equal(upright.info.rotation, 90);
    assert.deepEqual([upright.info.width, upright.info.height], [48, 64]);
    const frames = await readAllFrames(upright);
    assert.deepEqual([frames[0]!.image.width, frames[0]!.image.height], [48, 64]);
    const stored = await openInput(file, {}, { autorotate: false });
    assert.deepEqual([stored.info.width, stored.info.height], [64, 48]);
    assert.equal((await readAllFrames(stored))[2]!.image.width, 64);
  });
});

describe('frame folders and images', () => {
  test('natural order, file stems as names, other files ignored', async (t) => {
    const dir = tempDir(t);
    const order = ['frame1.png', 'frame2.jpg', 'frame10.png', 'frame11.jpeg'];
    for (const [k, name] of order.entries()) await writeGreyImage(join(dir, name), greyOf(k + 1));
    writeFileSync(join(dir, 'notes.txt'), 'not a frame');
    await writeGreyImage(join(dir, '.hidden.png'), 0);
    mkdirSync(join(dir, 'sub.png'));
    const src = await openInput(dir);
    assert.equal(src.info.kind, 'folder');
    assert.deepEqual([src.info.width, src.info.height], [20, 12]);
    assert.equal(src.info.sourceFrameCount, 4);
    assert.equal(src.info.frameCountExact, true);
    assert.equal(src.info.fps, null);
    const frames = await readAllFrames(src);
    assert.deepEqual(frames.map((f) => f.name), ['frame1', 'frame2', 'frame10', 'frame11']);
    assert.deepEqual(frames.map(frameCode), [1, 2, 3, 4]);
    assert.ok(frames.every((f) => f.time === null));
  });

  test('start/end are frame indices; every and maxFrames apply', async (t) => {
    const dir = tempDir(t);
    for (let k = 0; k < 9; k++) await writeGreyImage(join(dir, `${k}.png`), greyOf(k));
    const names = async (sel: Parameters<typeof openInput>[1]) => (await readAllFrames(await openInput(dir, sel))).map((f) => f.name);
    assert.deepEqual(await names({ start: 2, end: 5 }), ['2', '3', '4']);
    assert.deepEqual(await names({ every: 4 }), ['0', '4', '8']);
    assert.deepEqual(await names({ start: 1, every: 3, maxFrames: 2 }), ['1', '4']);
    const src = await openInput(dir, { start: 3, every: 2 });
    assert.equal(src.info.selectedFrameCount, 3);
    await assert.rejects(openInput(dir, { start: 20 }), /keeps none of the 9 frame/);
    await assert.rejects(openInput(dir, { fps: 5 }), /--fps needs a video/);
  });

  test('a single image is a one-frame input named by its stem', async (t) => {
    const file = join(tempDir(t), 'photo.jpg');
    await writeGreyImage(file, 128, 30, 10);
    const src = await openInput(file);
    assert.equal(src.info.kind, 'image');
    assert.equal(src.info.sourceFrameCount, 1);
    const [frame, ...rest] = await readAllFrames(src);
    assert.equal(rest.length, 0);
    assert.equal(frame!.name, 'photo');
    assert.deepEqual([frame!.image.width, frame!.image.height], [30, 10]);
    assert.ok(Math.abs(frame!.image.data[0]! - 128) <= 1);
  });

  test('frames of different sizes, duplicate stems, empty folders are errors naming the file', async (t) => {
    const dir = tempDir(t);
    const mixed = join(dir, 'mixed');
    mkdirSync(mixed);
    await writeGreyImage(join(mixed, 'a1.png'), 10, 20, 12);
    await writeGreyImage(join(mixed, 'a2.png'), 10, 22, 12);
    const src = await openInput(mixed);
    await assert.rejects(readAllFrames(src), (e: Error) => e instanceof FileFormatError && /a2\.png: is 22x12 but the first frame \(a1\.png\) is 20x12/.test(e.message));

    const dup = join(dir, 'dup');
    mkdirSync(dup);
    await writeGreyImage(join(dup, 'x.png'), 1);
    await writeGreyImage(join(dup, 'x.jpg'), 1);
    await assert.rejects(openInput(dup), /x\.jpg and x\.png|x\.png and x\.jpg/);

    const empty = join(dir, 'empty');
    mkdirSync(empty);
    writeFileSync(join(empty, 'readme.txt'), '');
    await assert.rejects(openInput(empty), (e: Error) => e instanceof FileFormatError && e.message.includes(empty) && /contains no frames/.test(e.message));
  });
});

describe('input errors', () => {
  test('a missing path', async (t) => {
    const missing = join(tempDir(t), 'nope.mp4');
    await assert.rejects(openInput(missing), (e: Error) => e instanceof FileFormatError && e.message.startsWith(missing) && /no such file or folder/.test(e.message));
  });

  test('a corrupt video and a file that is no video', async (t) => {
    if (!needFfmpeg(t)) return;
    const dir = tempDir(t);
    const corrupt = join(dir, 'broken.mp4');
    writeFileSync(corrupt, Buffer.from('this is not an mp4 file at all, just text'.repeat(20)));
    await assert.rejects(openInput(corrupt), (e: Error) => e instanceof FileFormatError && e.message.startsWith(`${corrupt}: cannot read as a video`));
    const text = join(dir, 'notes.xyz');
    writeFileSync(text, 'hello');
    await assert.rejects(openInput(text), /supported inputs: videos \.mp4/);
  });

  test('a video without frames and an image that does not decode', async (t) => {
    if (!needFfmpeg(t)) return;
    const dir = tempDir(t);
    const empty = join(dir, 'empty.mp4');
    makeGreyVideo(empty, 0);
    await assert.rejects(openInput(empty), (e: Error) => e instanceof FileFormatError && e.message.includes(empty) && /without frames/.test(e.message));
    const badPng = join(dir, 'bad.png');
    writeFileSync(badPng, 'not a png');
    await assert.rejects(openInput(badPng), (e: Error) => e instanceof FileFormatError && e.message.includes(badPng));
  });

  test('a selection past the end of a video is a usage error', async (t) => {
    if (!needFfmpeg(t)) return;
    const file = join(tempDir(t), 'short.mp4');
    makeGreyVideo(file, 5, { fps: 10 });
    const src = await openInput(file, { start: 3 });
    assert.equal(src.info.selectedFrameCount, 0);
    await assert.rejects(readAllFrames(src), (e: Error) => e instanceof UsageError && /keeps no frame of .*short\.mp4/.test(e.message));
  });

  test('ffmpeg missing: a clear message on how to install it', async (t) => {
    const file = join(tempDir(t), 'clip.mp4');
    writeFileSync(file, 'x');
    const saved = process.env.FFMPEG_PATH;
    process.env.FFMPEG_PATH = join(tempDir(t), 'no-such-dir', 'ffmpeg');
    t.after(() => (saved === undefined ? delete process.env.FFMPEG_PATH : (process.env.FFMPEG_PATH = saved)));
    await assert.rejects(openInput(file), (e: Error) => e instanceof FfmpegMissingError && /sudo apt-get install -y ffmpeg/.test(e.message) && /FFMPEG_PATH/.test(e.message));
  });
});
