import assert from 'node:assert/strict';
import { cpSync } from 'node:fs';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { FileFormatError } from '../../src/errors.js';
import { RefDavis17 } from '../../src/data/ref-davis.js';
import { tempDir } from '../helpers/shared.js';
import { labelMap, writeJpeg, writeJson, writeLabelPng, writeText } from './fixtures.js';

const W = 8;
const H = 6;
const BIKE = labelMap(W, H, [[1, 0, 0, 3, 3], [2, 4, 2, 8, 6], [255, 3, 0, 4, 6]]);

/** Raw DAVIS downloads: val = bike (objects 1, 2), dogs-scale (misspelt "dog-scale" in the texts); train = cat. */
async function makeRawDavis(t: TestContext): Promise<string> {
  const root = tempDir(t);
  const davis = join(root, 'DAVIS');
  writeText(join(davis, 'ImageSets/2017/val.txt'), 'bike\ndogs-scale\n');
  writeText(join(davis, 'ImageSets/2017/train.txt'), 'cat\n');
  for (const [video, frames] of [['bike', ['00001', '00000']], ['dogs-scale', ['00000']], ['cat', ['00000']]] as const) {
    for (const f of frames) {
      await writeJpeg(join(davis, 'JPEGImages/480p', video, `${f}.jpg`), W, H);
      writeLabelPng(join(davis, 'Annotations_unsupervised/480p', video, `${f}.png`), BIKE);
    }
  }
  writeJson(join(davis, 'davis_semantics.json'), { bike: { '1': 'person', '2': 'bicycle' }, 'dogs-scale': { '1': 'dog' } });
  const text = join(root, 'davis_text_annotations');
  // objects listed out of order; the last file lacks bike's object 2, so bike keeps one object (zip truncates)
  writeText(join(text, 'Davis17_annot1.txt'), 'bike 2 "a bicycle"\nbike 1 "a man"\ndog-scale 1 "a  dog"\ncat 1 "a cat"\n');
  writeText(join(text, 'Davis17_annot1_full_video.txt'), 'bike 1 "a man riding"\nbike 2 "a bike ridden"\ndog-scale 1 "a dog on a scale"\ncat 1 "a cat"\n');
  writeText(join(text, 'Davis17_annot2.txt'), Buffer.from('bike 1 "man in caf\u00e9"\nbike 2 "bike"\ndog-scale 1 "dog"\ncat 1 "cat"\n', 'latin1'));
  writeText(join(text, 'Davis17_annot2_full_video.txt'), Buffer.from('bike 1 "man riding a bike"\ndog-scale 1 "dog standing"\ncat 1 "cat"\n', 'latin1'));
  return root;
}

const EXPECTED_VALID = {
  bike: {
    expressions: {
      '0': { exp: 'a man', obj_id: '1' },
      '1': { exp: 'a man riding', obj_id: '1' },
      '2': { exp: 'man in caf\u00e9', obj_id: '1' },
      '3': { exp: 'man riding a bike', obj_id: '1' },
    },
    frames: ['00000', '00001'],
  },
  'dogs-scale': {
    expressions: {
      '0': { exp: 'a dog', obj_id: '1' },
      '1': { exp: 'a dog on a scale', obj_id: '1' },
      '2': { exp: 'dog', obj_id: '1' },
      '3': { exp: 'dog standing', obj_id: '1' },
    },
    frames: ['00000'],
  },
};

test('Ref-DAVIS17 raw layout: expressions built by the converter rule, void kept in label maps', async (t) => {
  const root = await makeRawDavis(t);
  const ds = await RefDavis17.open(root, 'valid');
  assert.equal(ds.layout, 'raw');
  const asMeta = Object.fromEntries(
    ds.videos.map((v) => [v.id, { expressions: Object.fromEntries(v.expressions.map((e) => [e.id, { exp: e.text, obj_id: String(e.objIds![0]) }])), frames: v.frames }]),
  );
  assert.deepEqual(asMeta, EXPECTED_VALID);
  assert.deepEqual(ds.expression('bike', '3'), { id: '3', text: 'man riding a bike', objIds: [1], objectIndex: 0, annotationSet: 3 });
  assert.deepEqual(ds.loadAnnotation('bike', '00000'), BIKE);
  const man = await ds.loadExpressionMask('bike', '2', '00001');
  assert.deepEqual(man.data, BIKE.data.map((v) => (v === 1 ? 1 : 0)));
  assert.deepEqual(ds.categories('bike'), new Map([[1, 'person'], [2, 'bicycle']]));
  const train = await RefDavis17.open(root, 'train');
  assert.deepEqual(train.videos.map((v) => v.id), ['cat']);
});

test('Ref-DAVIS17 converted layout reads the same records', async (t) => {
  const raw = await makeRawDavis(t);
  const root = tempDir(t);
  writeJson(join(root, 'meta_expressions/valid/meta_expressions.json'), { videos: EXPECTED_VALID });
  writeJson(join(root, 'valid/meta.json'), { videos: { bike: { objects: { '1': { category: 'person' }, '2': { category: 'bicycle' } } } } });
  for (const v of ['bike', 'dogs-scale']) {
    cpSync(join(raw, 'DAVIS/JPEGImages/480p', v), join(root, 'valid/JPEGImages', v), { recursive: true });
    cpSync(join(raw, 'DAVIS/Annotations_unsupervised/480p', v), join(root, 'valid/Annotations', v), { recursive: true });
  }
  const converted = await RefDavis17.open(root, 'valid');
  const fromRaw = await RefDavis17.open(raw, 'valid');
  assert.equal(converted.layout, 'converted');
  assert.deepEqual(converted.videos, fromRaw.videos);
  assert.deepEqual((await converted.loadClip('bike', '0')).masks, (await fromRaw.loadClip('bike', '0')).masks);
  assert.deepEqual(converted.categories('bike'), new Map([[1, 'person'], [2, 'bicycle']]));
});

test('Ref-DAVIS17 malformed: errors name the text, set or frame file', async (t) => {
  const root = await makeRawDavis(t);
  const fails = async (fn: () => Promise<unknown>, file: string, detail: RegExp) => {
    const e = await fn().then(() => null, (err: unknown) => err);
    assert.ok(e instanceof FileFormatError, `expected a FileFormatError, got ${e}`);
    assert.equal(e.file, file);
    assert.match(e.message, detail);
  };
  const annot = join(root, 'davis_text_annotations/Davis17_annot1.txt');
  writeText(annot, 'bike 1 "a man"\nbike one\n');
  await fails(() => RefDavis17.open(root, 'valid'), annot, /line 2: expected `<video> <obj_id> "<expression>"`/);
  writeText(annot, 'bike 1 "a man"\n');
  writeText(join(root, 'DAVIS/ImageSets/2017/val.txt'), 'bike\nnope\n');
  await fails(() => RefDavis17.open(root, 'valid'), join(root, 'DAVIS/JPEGImages/480p/nope'), /missing folder/);
  writeText(join(root, 'DAVIS/ImageSets/2017/val.txt'), 'bike\n');
  const png = join(root, 'DAVIS/Annotations_unsupervised/480p/bike/00001.png');
  writeLabelPng(png, labelMap(W, H + 1, []));
  const ds = await RefDavis17.open(root, 'valid');
  await fails(() => ds.loadClip('bike', '0'), png, /mask is 7x8 \(HxW\) but its frame .*00001\.jpg is 6x8/);
  const empty = tempDir(t);
  await fails(() => RefDavis17.open(empty, 'valid'), join(empty, 'meta_expressions/valid/meta_expressions.json'), /missing file .*no raw layout/);
});
