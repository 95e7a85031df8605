import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { FileFormatError, SocError } from '../../src/errors.js';
import { RefYoutubeVos } from '../../src/data/ref-youtube-vos.js';
import { tempDir } from '../helpers/shared.js';
import { binary, labelMap, writeJpeg, writeJson, writeLabelPng } from './fixtures.js';

const W = 12;
const H = 8;

/** A tiny Ref-YouTube-VOS: train video "a" (2 objects, frames listed unsorted), valid "b" + test "c". */
async function makeYtvos(t: TestContext): Promise<string> {
  const root = tempDir(t);
  for (const f of ['00000', '00005']) {
    await writeJpeg(join(root, 'train/JPEGImages/a', `${f}.jpg`), W, H);
    const rects: [number, number, number, number, number][] = f === '00000' ? [[1, 0, 0, 4, 4], [2, 6, 2, 10, 6]] : [[1, 1, 1, 5, 5]];
    writeLabelPng(join(root, 'train/Annotations/a', `${f}.png`), labelMap(W, H, rects));
  }
  writeJson(join(root, 'meta_expressions/train/meta_expressions.json'), {
    videos: {
      a: {
        expressions: { '0': { exp: 'a Cat on the left', obj_id: '1' }, '1': { exp: 'the dog', obj_id: '2' } },
        frames: ['00005', '00000'],
      },
    },
  });
  writeJson(join(root, 'train/meta.json'), { videos: { a: { objects: { '1': { category: 'cat', frames: ['00000'] }, '2': { category: 'dog' } } } } });
  for (const v of ['b', 'c']) await writeJpeg(join(root, 'valid/JPEGImages', v, '00000.jpg'), W, H);
  const validVideo = (text: string) => ({ expressions: { '0': { exp: text } }, frames: ['00000'] });
  writeJson(join(root, 'meta_expressions/valid/meta_expressions.json'), { videos: { b: validVideo('a bird'), c: validVideo('a car') } });
  writeJson(join(root, 'meta_expressions/test/meta_expressions.json'), { videos: { c: validVideo('a car') } });
  return root;
}

test('Ref-YouTube-VOS train: records, sorted frames, frames and masks', async (t) => {
  const root = await makeYtvos(t);
  const ds = await RefYoutubeVos.open(root, 'train');
  assert.equal(ds.hasMasks, true);
  assert.deepEqual(ds.videos, [
    {
      id: 'a',
      frames: ['00000', '00005'],
      expressions: [
        { id: '0', text: 'a Cat on the left', objIds: [1] },
        { id: '1', text: 'the dog', objIds: [2] },
      ],
    },
  ]);
  const img = await ds.loadFrame('a', '00000');
  assert.equal(img.width, W);
  assert.equal(img.height, H);
  assert.equal(img.data.length, W * H * 3);
  assert.ok(Math.abs(img.data[0]! - 120) <= 3, `decoded JPEG value ${img.data[0]}`);

  const labels = ds.loadAnnotation('a', '00000');
  assert.deepEqual(labels, labelMap(W, H, [[1, 0, 0, 4, 4], [2, 6, 2, 10, 6]]));
  const dog = await ds.loadExpressionMask('a', '1', '00000');
  assert.deepEqual(dog.data, binary(labels, 2));
  const dogLater = await ds.loadObjectMask('a', '00005', 2);
  assert.equal(dogLater.data.reduce((a, b) => a + b, 0), 0);

  const clip = await ds.loadClip('a', '0');
  assert.deepEqual(clip.frames, ['00000', '00005']);
  assert.equal(clip.masks[1]!.data.reduce((a, b) => a + b, 0), 16);
  assert.deepEqual(ds.categories('a'), new Map([[1, 'cat'], [2, 'dog']]));
});

test('Ref-YouTube-VOS valid: test videos subtracted, no ground truth', async (t) => {
  const root = await makeYtvos(t);
  const valid = await RefYoutubeVos.open(root, 'valid');
  assert.deepEqual(valid.videos.map((v) => v.id), ['b']);
  assert.equal(valid.hasMasks, false);
  assert.equal(valid.videos[0]!.expressions[0]!.objIds, null);
  await assert.rejects(valid.loadExpressionMask('b', '0', '00000'), SocError);
  const all = await RefYoutubeVos.open(root, 'valid', { subtractTestVideos: false });
  assert.deepEqual(all.videos.map((v) => v.id), ['b', 'c']);
  assert.equal(valid.categories('b'), null);
});

test('Ref-YouTube-VOS malformed: missing file, bad JSON, bad obj_id, missing video folder, wrong mask size', async (t) => {
  const root = await makeYtvos(t);
  const meta = join(root, 'meta_expressions/train/meta_expressions.json');

  const expectError = async (fn: () => Promise<unknown>, file: string, detail: RegExp) => {
    const e = await fn().then(
      () => assert.fail('expected an error'),
      (err: unknown) => err,
    );
    assert.ok(e instanceof FileFormatError, `got ${e}`);
    assert.equal(e.file, file);
    assert.match(e.message, detail);
    assert.ok(e.message.includes(file), e.message);
  };

  await expectError(() => RefYoutubeVos.open(root, 'nosuchsplit'), join(root, 'meta_expressions/nosuchsplit/meta_expressions.json'), /missing file/);

  writeFileSync(meta, '{"videos": {');
  await expectError(() => RefYoutubeVos.open(root, 'train'), meta, /not valid JSON/);

  writeJson(meta, { videos: { a: { expressions: { '0': { exp: 'x', obj_id: 1 } }, frames: ['00000'] } } });
  await expectError(() => RefYoutubeVos.open(root, 'train'), meta, /videos\.a\.expressions\.0\.obj_id/);

  writeJson(meta, { videos: { zzz: { expressions: {}, frames: ['00000'] } } });
  await expectError(() => RefYoutubeVos.open(root, 'train'), join(root, 'train/JPEGImages/zzz'), /missing folder/);

  // a mask of the wrong size: the error names the PNG and both sizes
  writeJson(meta, { videos: { a: { expressions: { '0': { exp: 'x', obj_id: '1' } }, frames: ['00000', '00005'] } } });
  const png = join(root, 'train/Annotations/a/00005.png');
  writeLabelPng(png, labelMap(W + 2, H, [[1, 0, 0, 2, 2]]));
  const ds = await RefYoutubeVos.open(root, 'train');
  await expectError(() => ds.loadClip('a', '0'), png, /mask is 8x14 \(HxW\) but its frame .*00005\.jpg is 8x12/);

  // a missing frame, a non-PNG annotation
  rmSync(join(root, 'train/JPEGImages/a/00000.jpg'));
  await expectError(() => ds.loadFrame('a', '00000'), join(root, 'train/JPEGImages/a/00000.jpg'), /missing file/);
  writeFileSync(png, 'not a png');
  await expectError(async () => ds.loadAnnotation('a', '00005'), png, /cannot decode as PNG/);
});
