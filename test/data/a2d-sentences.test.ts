import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { FileFormatError } from '../../src/errors.js';
import { A2dSentences } from '../../src/data/a2d-sentences.js';
import type { Mask, RgbImage } from '../../src/data/types.js';
import { tempDir } from '../helpers/shared.js';
import { binary, labelMap, writeA2dH5, writeJson, writeText } from './fixtures.js';

const W = 16;
const H = 12;
const N_FRAMES = 10;

/** Frame k of every test clip is a flat grey of 30 + 20k. */
function greyFrames(): RgbImage[] {
  return Array.from({ length: N_FRAMES }, (_, k) => ({ width: W, height: H, data: new Uint8Array(W * H * 3).fill(30 + 20 * k) }));
}
const fakeDecoder = async () => greyFrames();

const LABELS3 = labelMap(W, H, [[1, 0, 0, 5, 4], [2, 8, 6, 14, 12]]);
const LABELS7 = labelMap(W, H, [[2, 2, 2, 6, 10]]);

async function makeA2d(t: TestContext): Promise<string> {
  const root = tempDir(t);
  writeText(
    join(root, 'Release/videoset.csv'),
    ['vidA,11,0,5,12,16,10,2,0', 'vidB,12,0,5,12,16,10,1,1', 'vidM,13,0,5,12,16,10,1,0', ''].join('\n'),
  );
  writeText(
    join(root, 'text_annotations/a2d_annotation.txt'),
    ['video_id,instance_id,query', 'vidA,1,"A Man, running"', 'vidA,2,the dog jumping', 'vidA,1 (copy),a duplicate', 'vidB,1,a ball rolling', 'vidM,1,missed'].join('\n'),
  );
  writeText(join(root, 'text_annotations/a2d_missed_videos.txt'), 'vidM\n');
  const dir = join(root, 'text_annotations/a2d_annotation_with_instances');
  await writeA2dH5(join(dir, 'vidA/00003.h5'), [1, 2], [1, 2].map((l) => ({ ...LABELS3, data: binary(LABELS3, l) })));
  await writeA2dH5(join(dir, 'vidA/00007.h5'), [2], [{ ...LABELS7, data: binary(LABELS7, 2) }]);
  await writeA2dH5(join(dir, 'vidB/00002.h5'), [1], [{ ...LABELS7, data: binary(LABELS7, 2) }]);
  await writeA2dH5(join(dir, 'vidM/00001.h5'), [1], [{ ...LABELS7, data: binary(LABELS7, 2) }]);
  return root;
}

test('A2D-Sentences: videoset, text annotations, h5 masks and the reference sample rule', async (t) => {
  const root = await makeA2d(t);
  const ds = await A2dSentences.open(root, { decodeVideo: fakeDecoder });
  assert.deepEqual(ds.videos.get('vidB'), {
    id: 'vidB', label: 12, startTime: 0, endTime: 5, height: 12, width: 16, totalFrames: 10, annotatedFrames: 1, subset: 'test',
  });
  assert.deepEqual([...ds.missedVideos], ['vidM']);
  assert.deepEqual(ds.usedVideos('train').map((v) => v.id), ['vidA']);
  assert.equal(ds.textAnnotations[0]!.query, 'A Man, running');
  assert.equal(ds.textAnnotations[2]!.instanceId, '1 (copy)');
  assert.deepEqual(ds.annotatedFrameIndices('vidA'), [3, 7]);

  const ann = await ds.loadFrameAnnotation('vidA', 3);
  assert.deepEqual(ann.instances, [1, 2]);
  assert.deepEqual([ann.height, ann.width], [H, W]);
  assert.deepEqual(ann.masks[0]!.data, binary(LABELS3, 1));
  assert.deepEqual(ann.masks[1]!.data, binary(LABELS3, 2));
  assert.deepEqual(ann.boxes, [[0, 0, 4, 3], [8, 6, 13, 11]]);
  // a single instance is stored as a 2-D [W, H] reMask
  const single = await ds.loadFrameAnnotation('vidA', 7);
  assert.deepEqual(single.masks[0]!.data, binary(LABELS7, 2));

  assert.deepEqual(await ds.buildSamples('train'), [
    { query: 'a man, running', videoId: 'vidA', frameIdx: 3, instanceId: 1 },
    { query: 'the dog jumping', videoId: 'vidA', frameIdx: 3, instanceId: 2 },
    { query: 'the dog jumping', videoId: 'vidA', frameIdx: 7, instanceId: 2 },
  ]);
  assert.deepEqual(await ds.samples('test'), [{ query: 'a ball rolling', videoId: 'vidB', frameIdx: 2, instanceId: 1 }]);
  // the reference's cache file wins when present
  writeJson(ds.samplesCachePath('test'), [['cached', 'vidB', 2, 1]]);
  assert.deepEqual(await ds.samples('test'), [{ query: 'cached', videoId: 'vidB', frameIdx: 2, instanceId: 1 }]);

  const { image, mask } = await ds.loadSample({ query: 'x', videoId: 'vidA', frameIdx: 7, instanceId: 2 });
  assert.equal(image.data[0], 30 + 20 * 6); // 1-based frame 7 = decoded frame 6
  assert.deepEqual(mask.data, binary(LABELS7, 2));
});

test('A2D-Sentences: mp4 frames through ffmpeg', async (t) => {
  if (spawnSync('ffmpeg', ['-version']).status !== 0) return t.skip('ffmpeg not installed');
  const root = await makeA2d(t);
  const raw = Buffer.concat(greyFrames().map((f) => Buffer.from(f.data)));
  const mp4 = join(root, 'Release/clips320H/vidA.mp4');
  mkdirSync(join(root, 'Release/clips320H'), { recursive: true });
  const enc = spawnSync('ffmpeg', ['-v', 'error', '-y', '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-s', `${W}x${H}`, '-r', '10', '-i', 'pipe:0', '-c:v', 'mpeg4', '-q:v', '1', '-pix_fmt', 'yuv420p', mp4], { input: raw });
  assert.equal(enc.status, 0, String(enc.stderr));
  const ds = await A2dSentences.open(root);
  const frames = await ds.loadVideo('vidA');
  assert.equal(frames.length, N_FRAMES);
  frames.forEach((f, k) => {
    assert.deepEqual([f.width, f.height], [W, H]);
    assert.ok(Math.abs(f.data[0]! - (30 + 20 * k)) <= 4, `frame ${k}: ${f.data[0]}`);
  });
  const { image } = await ds.loadSample({ query: 'x', videoId: 'vidA', frameIdx: 3, instanceId: 1 });
  assert.ok(Math.abs(image.data[0]! - 70) <= 4);
  await assert.rejects(ds.loadVideo('vidB'), (e: unknown) => e instanceof FileFormatError && e.file === join(root, 'Release/clips320H/vidB.mp4'));
});

test('A2D-Sentences malformed: errors name the csv, txt or h5 file', async (t) => {
  const root = await makeA2d(t);
  const fails = async (fn: () => Promise<unknown>, file: string, detail: RegExp) => {
    const e = await fn().then(() => null, (err: unknown) => err);
    assert.ok(e instanceof FileFormatError, `expected a FileFormatError, got ${e}`);
    assert.equal(e.file, file);
    assert.match(e.message, detail);
  };
  const h5 = join(root, 'text_annotations/a2d_annotation_with_instances/vidA/00003.h5');
  const open = () => A2dSentences.open(root, { decodeVideo: fakeDecoder });

  // masks the wrong size for the video frames
  const small: Mask = labelMap(W - 4, H, [[1, 0, 0, 2, 2]]);
  await writeA2dH5(h5, [1], [small]);
  await fails(async () => (await open()).loadSample({ query: 'x', videoId: 'vidA', frameIdx: 3, instanceId: 1 }), h5, /mask is 12x12 \(HxW\) but its frame .*vidA\.mp4 frame 3 is 12x16/);
  // reMask inconsistent with the instance list
  await writeA2dH5(h5, [1, 2], [{ ...LABELS3, data: binary(LABELS3, 1) }], { reMaskShape: [W, H] });
  await fails(async () => (await open()).loadFrameAnnotation('vidA', 3), h5, /reMask" has shape \[16, 12\], expected \[2, W, H\]/);
  // not an HDF5 file / missing file
  writeText(h5, 'garbage');
  await fails(async () => (await open()).loadFrameAnnotation('vidA', 3), h5, /not an HDF5 file/);
  await fails(async () => (await open()).loadFrameAnnotation('vidA', 4), h5.replace('00003', '00004'), /missing file/);
  // a non-integer instance id
  const txt = join(root, 'text_annotations/a2d_annotation.txt');
  writeText(txt, 'video_id,instance_id,query\nvidA,one,a man\n');
  await fails(async () => (await open()).buildSamples('train'), txt, /line 2: instance_id "one" is not an integer/);
  writeText(txt, 'vidA,1,a man\n');
  await fails(open, txt, /header row with columns video_id, instance_id, query/);
  // a short videoset row
  const csv = join(root, 'Release/videoset.csv');
  writeText(csv, 'vidA,11,0,5,12,16,10,2\n');
  await fails(open, csv, /line 1: expected 9 columns/);
});
