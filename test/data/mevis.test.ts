import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { FileFormatError } from '../../src/errors.js';
import { Mevis } from '../../src/data/mevis.js';
import { encodeRle, type CocoRle } from '../../src/data/rle.js';
import type { Mask } from '../../src/data/types.js';
import { tempDir } from '../helpers/shared.js';
import { binary, labelMap, writeJpeg, writeJson, writeLabelPng } from './fixtures.js';

const W = 10;
const H = 6;
const FRAMES = ['00000', '00001', '00002'];

/** Label maps of video v1: object 0 (label 1) always, object 1 (label 2) absent in the last frame. */
function frameLabels(t: number): Mask {
  return labelMap(W, H, t < 2 ? [[1, t, 0, t + 3, 3], [2, 5, 2, 9, 6]] : [[1, 2, 1, 5, 4]]);
}

function rleOf(mask: Mask, label: number): CocoRle | null {
  const data = binary(mask, label);
  return data.some((v) => v) ? encodeRle({ width: mask.width, height: mask.height, data }) : null;
}

async function makeMevis(t: TestContext): Promise<string> {
  const root = tempDir(t);
  const expressions = {
    '0': { exp: 'the box moving right', obj_id: [0], anno_id: [10] },
    '1': { exp: 'both boxes', obj_id: [0, 1], anno_id: [10, 11] },
    '2': { exp: 'the box that leaves', obj_id: ['1'], anno_id: ['11'] },
  };
  for (const split of ['train', 'valid_u']) {
    for (let i = 0; i < FRAMES.length; i++) {
      await writeJpeg(join(root, split, 'JPEGImages/v1', `${FRAMES[i]}.jpg`), W, H);
      writeLabelPng(join(root, split, 'Annotations/v1', `${FRAMES[i]}.png`), frameLabels(i));
    }
    const labels = FRAMES.map((_, i) => frameLabels(i));
    const dict: Record<string, unknown> = { '10': labels.map((m) => rleOf(m, 1)), '11': labels.map((m) => rleOf(m, 2)) };
    // one entry as an uncompressed run list, as pycocotools also accepts
    (dict['10'] as unknown[])[0] = { size: [H, W], counts: [0, 3, 3, 3, 3, 3, 45] };
    writeJson(join(root, split, 'mask_dict.json'), dict);
    writeJson(join(root, split, 'meta_expressions.json'), { videos: { v1: { expressions, frames: [...FRAMES].reverse() } } });
    const processed = Object.fromEntries(Object.entries(expressions).map(([k, e]) => [k, { exp: e.exp, obj_id: e.obj_id }]));
    writeJson(join(root, 'meta_expressions', split, 'meta_expressions.json'), { videos: { v1: { expressions: processed, frames: FRAMES } } });
  }
  await writeJpeg(join(root, 'valid/JPEGImages/v9/00000.jpg'), W, H);
  writeJson(join(root, 'valid/meta_expressions.json'), { videos: { v9: { expressions: { '0': { exp: 'a thing' } }, frames: ['00000'] } } });
  return root;
}

test('MeViS official layout: RLE masks, multi-object union, absent objects', async (t) => {
  const root = await makeMevis(t);
  const ds = await Mevis.open(root, 'train');
  assert.equal(ds.maskSource, 'rle');
  assert.equal(ds.metaFile, join(root, 'train/meta_expressions.json'));
  const v = ds.video('v1');
  assert.deepEqual(v.frames, FRAMES);
  assert.deepEqual(ds.expression('v1', '2'), { id: '2', text: 'the box that leaves', objIds: [1], annoIds: [11] });

  for (let i = 0; i < FRAMES.length; i++) {
    const labels = frameLabels(i);
    const both = await ds.loadExpressionMask('v1', '1', FRAMES[i]!);
    assert.deepEqual(both.data, labels.data.map((x) => (x === 1 || x === 2 ? 1 : 0)), `frame ${i}`);
    const one = await ds.loadObjectMask('v1', FRAMES[i]!, 0);
    assert.deepEqual(one.data, binary(labels, 1));
  }
  // object 1 is null in the last frame: an empty mask of the frame's size
  const gone = await ds.loadExpressionMask('v1', '2', '00002');
  assert.deepEqual([gone.height, gone.width, gone.data.reduce((a, b) => a + b, 0)], [H, W, 0]);
  const clip = await ds.loadClip('v1', '1');
  assert.equal(clip.images.length, 3);
  assert.equal(clip.masks.length, 3);

  const u = await Mevis.open(root, 'valid_u');
  assert.equal(u.maskSource, 'rle');
  assert.equal((await u.loadClip('v1', '0')).masks.length, 3);
});

test('MeViS processed layout (SOC++): PNG masks with pixel = obj_id + 1 give the same masks', async (t) => {
  const root = await makeMevis(t);
  const rle = await Mevis.open(root, 'train');
  const png = await Mevis.open(root, 'train', { masks: 'png' });
  assert.equal(png.metaFile, join(root, 'meta_expressions/train/meta_expressions.json'));
  assert.deepEqual(png.expression('v1', '1').objIds, [0, 1]);
  assert.equal(png.expression('v1', '1').annoIds, null);
  for (const exp of ['0', '1', '2']) {
    for (const f of FRAMES) assert.deepEqual(await png.loadExpressionMask('v1', exp, f), await rle.loadExpressionMask('v1', exp, f));
  }
  assert.deepEqual(png.loadAnnotation('v1', '00000'), frameLabels(0));
});

test('MeViS valid: no ground truth', async (t) => {
  const root = await makeMevis(t);
  const ds = await Mevis.open(root, 'valid');
  assert.equal(ds.maskSource, 'none');
  assert.equal(ds.hasMasks, false);
  assert.deepEqual(ds.videos.map((v) => v.id), ['v9']);
  assert.equal(ds.videos[0]!.expressions[0]!.objIds, null);
  await assert.rejects(ds.loadExpressionMask('v9', '0', '00000'), /has no ground-truth masks/);
});

test('MeViS malformed: errors name mask_dict.json or meta_expressions.json', async (t) => {
  const root = await makeMevis(t);
  const dictFile = join(root, 'train/mask_dict.json');
  const metaFile = join(root, 'train/meta_expressions.json');
  const fails = async (fn: () => Promise<unknown>, file: string, detail: RegExp) => {
    const e = await fn().then(() => null, (err: unknown) => err);
    assert.ok(e instanceof FileFormatError, `expected a FileFormatError, got ${e}`);
    assert.equal(e.file, file);
    assert.match(e.message, detail);
  };

  const good = readFileSync(dictFile, 'utf8');
  // a list with the wrong number of frames
  writeJson(dictFile, { '10': [null], '11': [null, null, null] });
  await fails(async () => (await Mevis.open(root, 'train')).loadObjectMask('v1', '00000', 0), dictFile, /list of 3 entries/);
  // an RLE whose size differs from the frame
  const wrong = { size: [H, W + 1], counts: encodeRle({ width: W + 1, height: H, data: new Uint8Array(H * (W + 1)) }).counts };
  writeJson(dictFile, { '10': [wrong, wrong, wrong], '11': [null, null, null] });
  await fails(async () => (await Mevis.open(root, 'train')).loadClip('v1', '0'), dictFile, /mask is 6x11 \(HxW\) but its frame .*00000\.jpg is 6x10/);
  // a broken counts string
  writeJson(dictFile, { '10': [{ size: [H, W], counts: '\u00ff' }, null, null], '11': [null, null, null] });
  await fails(async () => (await Mevis.open(root, 'train')).loadObjectMask('v1', '00000', 0), dictFile, /bad RLE for anno_id 10/);
  // not JSON at all (read lazily, on the first mask)
  writeFileSync(dictFile, '[oops');
  await fails(async () => (await Mevis.open(root, 'train')).loadObjectMask('v1', '00000', 0), dictFile, /not valid JSON/);
  writeFileSync(dictFile, good);

  // anno_id and obj_id of different lengths
  writeJson(metaFile, { videos: { v1: { expressions: { '0': { exp: 'x', obj_id: [0, 1], anno_id: [10] } }, frames: FRAMES } } });
  await fails(() => Mevis.open(root, 'train'), metaFile, /equal length at videos\.v1\.expressions\.0/);
  // obj_id not a list
  writeJson(metaFile, { videos: { v1: { expressions: { '0': { exp: 'x', obj_id: '1' } }, frames: FRAMES } } });
  await fails(() => Mevis.open(root, 'train'), metaFile, /obj_id/);
});
