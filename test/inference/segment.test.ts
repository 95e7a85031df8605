// `soc segment` end to end with a tiny model: outputs, equality with a direct model call, windowed
// mode, and bad inputs (clear error, no partial output).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { decodeLabelPng } from '../../src/data/image.js';
import { ReferringSegmenter } from '../../src/inference/predictor.js';
import { segmentVideo } from '../../src/inference/segment.js';
import { hasFfmpeg } from '../../src/media/ffmpeg.js';
import { preprocessVideo } from '../../src/media/preprocess.js';
import { openInput, readAllFrames } from '../../src/media/video-input.js';
import { encodeLabelPng } from '../../src/data/image.js';
import { REPO_ROOT, sharedPath, tempDir } from '../helpers/shared.js';
import { writeTinyModel } from '../helpers/tiny-model.js';

const SENTENCES = ['the yellow box moving right', 'the small red square'];
const SMALL = { shortSide: 96, maxSize: 160 };

function makeVideo(path: string, frames: number, size = '160x96'): void {
  const r = spawnSync('ffmpeg', ['-loglevel', 'error', '-y', '-f', 'lavfi', '-i', `testsrc=size=${size}:rate=10`, '-frames:v', String(frames), '-pix_fmt', 'yuv420p', path]);
  assert.equal(r.status, 0, r.stderr?.toString());
}

function runCli(args: string[]): { status: number; stderr: string; stdout: string } {
  const r = spawnSync(process.execPath, [join(REPO_ROOT, 'bin', 'soc.js'), ...args], { encoding: 'utf8', env: { ...process.env, SOC_FROM_SOURCE: '1' } });
  return { status: r.status ?? -1, stderr: r.stderr, stdout: r.stdout };
}

describe('soc segment', () => {
  test('video file: masks, overlay and result.json, equal to calling the model directly', async (t) => {
    const golden = sharedPath(t, 'golden', 'socpp_tiny');
    if (!golden) return;
    if (!hasFfmpeg()) return t.skip('ffmpeg not installed');
    const dir = tempDir(t);
    const model = writeTinyModel(golden, join(dir, 'model'));
    const video = join(dir, 'clip.mp4');
    makeVideo(video, 6);
    const out = join(dir, 'out');
    const r = runCli(['segment', '--video', video, '--text', SENTENCES[0]!, '--text', SENTENCES[1]!, '--checkpoint', model.checkpoint, '--tokenizer', model.tokenizer, '--out', out, '--short-side', '96', '--max-size', '160']);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /mode: whole clip in one pass \(6 frames\)/);
    assert.match(r.stderr, /done: 6 frames × 2 sentence\(s\)/);
    const result = JSON.parse(readFileSync(join(out, 'result.json'), 'utf8'));
    assert.equal(result.frames.length, 6);
    assert.deepEqual(result.sentences.map((s: { text: string }) => s.text), SENTENCES);
    assert.ok(existsSync(join(out, result.overlay)), 'overlay written');
    // the masks equal a direct call on the same pre-processed frames
    const frames = await readAllFrames(await openInput(video));
    const segmenter = ReferringSegmenter.load({ checkpoint: model.checkpoint, tokenizer: model.tokenizer });
    const clip = preprocessVideo(frames.map((f) => f.image), SMALL);
    const direct = segmenter.segment(clip, SENTENCES);
    result.sentences.forEach((s: { folder: string }, i: number) => {
      const files = readdirSync(join(out, s.folder)).sort();
      assert.deepEqual(files, frames.map((f) => `${f.name}.png`));
      const want = direct[i]!.masks.toTypedArray() as Uint8Array;
      files.forEach((file, t) => {
        const mask = decodeLabelPng(readFileSync(join(out, s.folder, file)), file);
        assert.equal(mask.width, 160);
        assert.equal(mask.height, 96);
        assert.deepEqual(mask.data, want.subarray(t * 160 * 96, (t + 1) * 160 * 96), `${s.folder}/${file}`);
      });
    });
    segmenter.dispose();
  });

  test('frame folder input keeps the frame names', (t) => {
    const golden = sharedPath(t, 'golden', 'socpp_tiny');
    if (!golden) return;
    const dir = tempDir(t);
    const model = writeTinyModel(golden, join(dir, 'model'));
    const frames = join(dir, 'frames');
    mkdirSync(frames);
    // natural order: frame_2 before frame_10; PNG frames written as RGB through a palette-free path
    for (const n of [1, 2, 10]) {
      const data = new Uint8Array(64 * 48).map((_, i) => (i + n * 7) % 3);
      writeFileSync(join(frames, `frame_${n}.png`), encodeLabelPng({ width: 64, height: 48, data }));
    }
    const out = join(dir, 'out');
    const r = runCli(['segment', '--video', frames, '--text', 'the red square', '--checkpoint', model.checkpoint, '--tokenizer', model.tokenizer, '--out', out, '--format', 'masks,json', '--short-side', '48', '--max-size', '64']);
    assert.equal(r.status, 0, r.stderr);
    const result = JSON.parse(readFileSync(join(out, 'result.json'), 'utf8'));
    assert.deepEqual(result.frames.map((f: { name: string }) => f.name), ['frame_1', 'frame_2', 'frame_10']);
    assert.equal(result.overlay, null);
    assert.deepEqual(readdirSync(join(out, result.sentences[0].folder)).sort(), ['frame_1.png', 'frame_10.png', 'frame_2.png']);
  });

  test('windowed mode: equal to the whole clip when the window covers it, bounded memory on 300 frames', async (t) => {
    const golden = sharedPath(t, 'golden', 'socpp_tiny');
    if (!golden) return;
    if (!hasFfmpeg()) return t.skip('ffmpeg not installed');
    const dir = tempDir(t);
    const model = writeTinyModel(golden, join(dir, 'model'));
    const video = join(dir, 'long.mp4');
    makeVideo(video, 300, '96x64');
    const segmenter = ReferringSegmenter.load({ checkpoint: model.checkpoint, tokenizer: model.tokenizer });
    const resize = { shortSide: 64, maxSize: 96 };
    const common = { input: video, sentences: ['the red square'], resize, parts: ['masks', 'json'] as ('masks' | 'json')[] };
    const full = await segmentVideo(segmenter, { ...common, out: join(dir, 'full'), selection: { maxFrames: 40 } });
    const covering = await segmentVideo(segmenter, { ...common, out: join(dir, 'covering'), selection: { maxFrames: 40 }, window: 40 });
    assert.equal(full.mode.kind, 'full');
    assert.equal(covering.mode.kind, 'full');
    const folder = readdirSync(join(dir, 'full')).find((f) => f.startsWith('01'))!;
    for (const f of readdirSync(join(dir, 'full', folder))) {
      assert.deepEqual(readFileSync(join(dir, 'covering', folder, f)), readFileSync(join(dir, 'full', folder, f)), f);
    }
    const windowed = await segmentVideo(segmenter, { ...common, out: join(dir, 'windowed'), window: 50 });
    assert.equal(windowed.mode.kind, 'windowed');
    assert.equal(windowed.frames, 300);
    assert.equal(readdirSync(join(dir, 'windowed', folder)).length, 300);
    const result = JSON.parse(readFileSync(join(dir, 'windowed', 'result.json'), 'utf8'));
    assert.equal(result.sentences[0].windows.length, 6);
    // bound: the tiny model with 50-frame windows of 64×96 frames stays far below 1.5 GB
    t.diagnostic(`peak RSS in windowed mode: ${(windowed.peakRssBytes / 2 ** 20).toFixed(0)} MB`);
    assert.ok(windowed.peakRssBytes < 1.5 * 2 ** 30, `peak RSS ${windowed.peakRssBytes}`);
    segmenter.dispose();
  });

  test('bad inputs give one clear error and no output folder', (t) => {
    const golden = sharedPath(t, 'golden', 'socpp_tiny');
    if (!golden) return;
    const dir = tempDir(t);
    const model = writeTinyModel(golden, join(dir, 'model'));
    const video = join(dir, 'clip.mp4');
    if (hasFfmpeg()) makeVideo(video, 3);
    const corrupt = join(dir, 'corrupt.mp4');
    writeFileSync(corrupt, 'this is not a video');
    const emptyTok = join(dir, 'empty-tokenizer');
    mkdirSync(emptyTok);
    const aFile = join(dir, 'a-file');
    writeFileSync(aFile, 'x');
    const base = ['--checkpoint', model.checkpoint, '--tokenizer', model.tokenizer, '--short-side', '48', '--max-size', '64'];
    const cases: [string, string[], RegExp][] = [
      ['missing video', ['--video', join(dir, 'nope.mp4'), '--text', 'a box'], /nope\.mp4: no such file or folder/],
      ['corrupt video', ['--video', corrupt, '--text', 'a box'], /corrupt\.mp4/],
      ['empty sentence', ['--video', video, '--text', '   '], /empty sentence|sentence 1 is empty/],
      ['zero frames', ['--video', video, '--text', 'a box', '--start', '100'], /no frames|selects no frames|nothing/i],
      ['missing tokenizer files', ['--video', video, '--text', 'a box', '--tokenizer', emptyTok], /tokenizer\.json|vocab\.json/],
      ['checkpoint not matching config', ['--video', video, '--text', 'a box', '--config', 'socpp-swin-t'], /size mismatch for backbone\.0\.body\.patch_embed\.proj\.weight[\s\S]*check --config/],
      ['unwritable output folder', ['--video', video, '--text', 'a box'], /ENOTDIR|not a directory|cannot/i],
      ['unknown output part', ['--video', video, '--text', 'a box', '--format', 'masks,movie'], /--format: unknown part 'movie'/],
      ['unknown sampling core', ['--video', video, '--text', 'a box', '--sampling', 'nearest'], /--sampling[\s\S]*nearest[\s\S]*gather, gridSample/],
    ];
    for (const [what, args, pattern] of cases) {
      if (!hasFfmpeg() && args.includes(video)) continue;
      const out = what === 'unwritable output folder' ? join(aFile, 'out') : join(dir, `out-${what.replace(/ /g, '-')}`);
      const r = runCli(['segment', ...base, ...args, '--out', out]);
      assert.equal(r.status, 1, `${what}: exit code (stderr: ${r.stderr})`);
      assert.match(r.stderr, pattern, what);
      assert.doesNotMatch(r.stderr, /\n\s+at .*\(/, `${what}: no stack trace`);
      assert.equal(existsSync(out), false, `${what}: no partial output`);
      const leftovers = readdirSync(dir).filter((f) => f.includes('staging'));
      assert.deepEqual(leftovers, [], `${what}: no staging folder left`);
    }
  });
});
