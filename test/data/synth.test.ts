import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { UsageError } from '../../src/errors.js';
import { Mevis } from '../../src/data/mevis.js';
import { RefYoutubeVos } from '../../src/data/ref-youtube-vos.js';
import { describes, parseExpression, SYNTH_VOCABULARY } from '../../src/data/synth-scene.js';
import { generateSynthDataset, splitOf, synthClip, videoId } from '../../src/data/synth.js';
import { REPO_ROOT, tempDir } from '../helpers/shared.js';
import { hashTree } from './fixtures.js';

const SMALL = { height: 48, width: 80 };

test('synth scenes: every expression parses back and refers to exactly the objects it describes', () => {
  let multi = 0;
  let total = 0;
  const motions = new Set<string>();
  for (let i = 0; i < 60; i++) {
    const clip = synthClip(11, i, SMALL);
    assert.ok(clip.numFrames >= 8 && clip.numFrames <= 12);
    assert.ok(clip.objects.length >= 1 && clip.objects.length <= 4);
    for (const o of clip.objects) motions.add(o.direction === null ? 'still' : o.leaves ? 'leaves' : o.stopFrame !== null ? 'stops' : o.direction);
    // every object has at least one expression of its own
    for (const o of clip.objects) assert.ok(clip.expressions.some((e) => e.objIds.length === 1 && e.objIds[0] === o.id), `clip ${i} object ${o.id}`);
    const texts = new Set<string>();
    for (const e of clip.expressions) {
      total++;
      if (e.objIds.length > 1) multi++;
      assert.ok(!texts.has(e.text), `duplicate expression ${e.text}`);
      texts.add(e.text);
      const parsed = parseExpression(e.text);
      assert.ok(parsed, `unparsable: ${e.text}`);
      const matching = clip.objects.filter((o) => describes(parsed.description, o)).map((o) => o.id);
      assert.deepEqual(matching, e.objIds, `clip ${i}: "${e.text}" matches ${matching}, refers to ${e.objIds}`);
      assert.equal(parsed.count, e.objIds.length);
      for (const w of e.text.split(' ')) assert.ok(SYNTH_VOCABULARY.includes(w), w);
    }
    // every referred object shows up in the label maps, and leavers are gone at the end
    for (const o of clip.objects) {
      const visible = clip.labels.filter((lab) => lab.includes(o.id + 1)).length;
      assert.ok(visible >= 2, `clip ${i} object ${o.id} visible in ${visible} frames`);
      if (o.leaves) assert.ok(!clip.labels.at(-1)!.includes(o.id + 1));
    }
  }
  assert.ok(multi / total > 0.1 && multi / total < 0.5, `multi-object share ${multi}/${total}`);
  assert.deepEqual([...motions].sort(), ['down', 'leaves', 'left', 'right', 'still', 'stops', 'up']);
});

test('synth split rule: stable per index, at least one valid video', () => {
  assert.deepEqual(Array.from({ length: 10 }, (_, i) => splitOf(i, 10, 0.2)), ['train', 'train', 'train', 'train', 'valid', 'train', 'train', 'train', 'train', 'valid']);
  assert.deepEqual(Array.from({ length: 3 }, (_, i) => splitOf(i, 3, 0.2)), ['train', 'train', 'valid']);
  assert.deepEqual([splitOf(0, 1, 0.2)], ['train']);
  assert.equal(videoId(7), 'vid00007');
});

test('soc synth output (MeViS layout) passes the MeViS reader in both forms, masks agree', async (t) => {
  const out = join(tempDir(t), 'synth');
  const summary = await generateSynthDataset({ out, videos: 6, seed: 5, ...SMALL });
  assert.equal(summary.train.videos + summary.valid.videos, 6);
  assert.equal(summary.valid.videos, 1);
  assert.ok(readdirSync(join(out, '..')).every((n) => !n.includes('partial')), 'no temporary folder left');
  for (const split of ['train', 'valid']) {
    const rle = await Mevis.open(out, split);
    const png = await Mevis.open(out, split, { masks: 'png' });
    assert.equal(rle.maskSource, 'rle');
    assert.equal(png.metaFile, join(out, 'meta_expressions', split, 'meta_expressions.json'));
    for (const v of rle.videos) {
      const index = Number(v.id.slice(3));
      const clip = synthClip(5, index, SMALL);
      assert.equal(v.frames.length, clip.numFrames);
      assert.deepEqual(v.expressions.map((e) => e.text), clip.expressions.map((e) => e.text));
      for (const e of v.expressions) {
        const a = await rle.loadClip(v.id, e.id);
        const b = await png.loadClip(v.id, e.id);
        assert.deepEqual(a.masks, b.masks);
        // ground truth = the union of the referred objects' labels
        const objIds = e.objIds!;
        a.masks.forEach((m, t2) => assert.deepEqual(m.data, clip.labels[t2]!.map((l) => (l > 0 && objIds.includes(l - 1) ? 1 : 0))));
        assert.equal(a.images[0]!.width, SMALL.width);
      }
    }
  }
  const info = JSON.parse(readFileSync(join(out, 'synth.json'), 'utf8'));
  assert.equal(info.seed, 5);
});

test('soc synth output (Ref-YouTube-VOS layout) passes the Ref-YouTube-VOS reader', async (t) => {
  const out = join(tempDir(t), 'ytvos');
  const summary = await generateSynthDataset({ out, videos: 5, seed: 8, format: 'ytvos', frames: 6, ...SMALL });
  assert.equal(summary.train.multiObjectExpressions + summary.valid.multiObjectExpressions, 0);
  const ds = await RefYoutubeVos.open(out, 'train');
  assert.equal(ds.videos.length, summary.train.videos);
  for (const v of ds.videos) {
    assert.equal(v.frames.length, 6);
    const clip = synthClip(8, Number(v.id.slice(3)), { ...SMALL, frames: 6 });
    const categories = ds.categories(v.id)!;
    for (const e of v.expressions) {
      const [label] = e.objIds!;
      const obj = clip.objects[label! - 1]!;
      assert.equal(categories.get(label!), obj.shape);
      const mask = await ds.loadExpressionMask(v.id, e.id, '00000');
      assert.deepEqual(mask.data, clip.labels[0]!.map((l) => (l === label ? 1 : 0)));
    }
  }
  const valid = await RefYoutubeVos.open(out, 'valid');
  assert.equal(valid.hasMasks, true);
  assert.equal(valid.videos.length, 1);
});

test('soc synth is deterministic: same seed, byte-identical files; other seed, other files', async (t) => {
  const dir = tempDir(t);
  const opts = { videos: 3, frames: 6, ...SMALL };
  await generateSynthDataset({ out: join(dir, 'a'), seed: 42, ...opts });
  await generateSynthDataset({ out: join(dir, 'b'), seed: 42, ...opts });
  await generateSynthDataset({ out: join(dir, 'c'), seed: 43, ...opts });
  const a = hashTree(join(dir, 'a'));
  assert.ok(a.size > 40);
  assert.deepEqual(hashTree(join(dir, 'b')), a);
  const c = hashTree(join(dir, 'c'));
  assert.notEqual(c.get('train/JPEGImages/vid00000/00000.jpg'), a.get('train/JPEGImages/vid00000/00000.jpg'));
  // an existing output is kept unless forced
  await assert.rejects(generateSynthDataset({ out: join(dir, 'a'), seed: 1, ...opts }), UsageError);
  assert.deepEqual(hashTree(join(dir, 'a')), a);
  await generateSynthDataset({ out: join(dir, 'a'), seed: 43, force: true, ...opts });
  assert.deepEqual(hashTree(join(dir, 'a')), c);
  await assert.rejects(generateSynthDataset({ out: join(dir, 'd'), seed: 1, ...opts, frames: 3 }), /--frames must be an integer from 6/);
  assert.equal(existsSync(join(dir, 'd')), false);
});

test('soc synth CLI writes a dataset and reports bad options', (t) => {
  const dir = tempDir(t);
  mkdirSync(dir, { recursive: true });
  const run = (...args: string[]) =>
    spawnSync(process.execPath, [join(REPO_ROOT, 'bin/soc.js'), 'synth', ...args], { env: { ...process.env, SOC_FROM_SOURCE: '1' }, encoding: 'utf8' });
  const out = join(dir, 'ds');
  const ok = run('--out', out, '--videos', '2', '--seed', '3', '--frames', '6', '--size', '48x64');
  assert.equal(ok.status, 0, ok.stderr);
  assert.match(ok.stdout, /train: 1 videos, 6 frames/);
  assert.ok(existsSync(join(out, 'valid/mask_dict.json')));
  const again = run('--out', out, '--videos', '2', '--seed', '3');
  assert.equal(again.status, 1);
  assert.match(again.stderr, /already exists \(pass --force to replace it\)/);
  const bad = run('--out', join(dir, 'x'), '--videos', '2', '--seed', '3', '--size', '48by64');
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /--size must look like 96x160/);
});
