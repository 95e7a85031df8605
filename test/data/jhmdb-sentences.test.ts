import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { FileFormatError } from '../../src/errors.js';
import { JhmdbSentences, readPuppetMasks } from '../../src/data/jhmdb-sentences.js';
import { readMatVariable } from '../../src/data/mat.js';
import { Rng } from '../../src/data/prng.js';
import type { Mask } from '../../src/data/types.js';
import { tempDir } from '../helpers/shared.js';
import { columnMajorFrames, labelMap, writeJson, writeMat5, writeMat73, writeRgbPng, writeText } from './fixtures.js';

const W = 10;
const H = 8;

function puppet(t: number): Mask {
  return labelMap(W, H, [[1, t, 1, t + 4, 7]]);
}

/** Two videos: "run_1" (v5 .mat, compressed) with 5 frames / 4 masks, "jump_2" (v7.3 .mat) with 4 frames. */
async function makeJhmdb(t: TestContext, opts: { v5Compressed?: boolean } = {}): Promise<string> {
  const root = tempDir(t);
  writeText(join(root, 'jhmdb_annotation.txt'), 'video_id,query\nrun_1,"man running, fast"\njump_2,a girl jumping\n');
  for (let i = 1; i <= 5; i++) await writeRgbPng(join(root, 'Rename_Images/run/run_1', `${String(i).padStart(5, '0')}.png`), W, H, [10 * i, 50, 60]);
  for (let i = 1; i <= 4; i++) await writeRgbPng(join(root, 'Rename_Images/jump/jump_2', `${String(i).padStart(5, '0')}.png`), W, H);
  const masks = [0, 1, 2, 3].map(puppet);
  writeMat5(join(root, 'puppet_mask/run/run_1/puppet_mask.mat'), 'part_mask', [H, W, 4], columnMajorFrames(masks), opts.v5Compressed ?? true);
  await writeMat73(join(root, 'puppet_mask/jump/jump_2/puppet_mask.mat'), 'part_mask', [H, W, 4], columnMajorFrames(masks));
  return root;
}

test('JHMDB-Sentences: expressions, frames, v5 and v7.3 puppet masks', async (t) => {
  const root = await makeJhmdb(t);
  const ds = await JhmdbSentences.open(root);
  assert.deepEqual(ds.expressions, [
    { videoId: 'run_1', query: 'man running, fast' },
    { videoId: 'jump_2', query: 'a girl jumping' },
  ]);
  assert.deepEqual(ds.video('run_1'), {
    id: 'run_1', action: 'run', framesDir: join(root, 'Rename_Images/run/run_1'), maskFile: join(root, 'puppet_mask/run/run_1/puppet_mask.mat'), frameCount: 5,
  });
  const frame = await ds.loadFrame('run_1', 3);
  assert.deepEqual([frame.width, frame.height, frame.data[0]], [W, H, 30]);

  for (const vid of ['run_1', 'jump_2']) {
    const pm = await ds.loadPuppetMasks(vid);
    assert.deepEqual([pm.height, pm.width, pm.numFrames], [H, W, 4]);
    for (let f = 1; f <= 4; f++) assert.deepEqual(pm.frame(f), puppet(f - 1), `${vid} frame ${f}`);
  }
  // uncompressed v5 reads the same
  const plain = await makeJhmdb(t, { v5Compressed: false });
  assert.deepEqual((await readPuppetMasks(join(plain, 'puppet_mask/run/run_1/puppet_mask.mat'))).frame(2), puppet(1));

  // the reference's metadata file, absolute paths re-rooted
  const metaFile = join(root, 'samples.json');
  writeJson(metaFile, [
    ['run_1', '/opt/x/jhmdb_sentences/Rename_Images/run/run_1/00002.png', '/opt/x/jhmdb_sentences/puppet_mask/run/run_1/puppet_mask.mat', 4, 'man running, fast'],
  ]);
  const [sample] = ds.readSamplesMetadata(metaFile);
  assert.deepEqual(sample, {
    videoId: 'run_1', frameIdx: 2, framePath: join(root, 'Rename_Images/run/run_1/00002.png'), maskPath: join(root, 'puppet_mask/run/run_1/puppet_mask.mat'), videoTotalFrames: 4, query: 'man running, fast',
  });
  const { image, mask } = await ds.loadSample(sample!);
  assert.equal(image.data[0], 20);
  assert.deepEqual(mask, puppet(1));

  // new samples: 3 distinct sorted frames per expression, only frames that have masks
  const rng = new Rng(3);
  const built = await ds.buildSamples(() => rng.next());
  assert.equal(built.length, 6);
  for (const vid of ['run_1', 'jump_2']) {
    const idx = built.filter((s) => s.videoId === vid).map((s) => s.frameIdx);
    assert.deepEqual(idx, [...new Set(idx)].sort((a, b) => a - b));
    assert.ok(idx.every((i) => i >= 1 && i <= 4));
    assert.ok(built.filter((s) => s.videoId === vid).every((s) => s.videoTotalFrames === 4));
  }
});

test('JHMDB-Sentences malformed: errors name the .mat, png or annotation file', async (t) => {
  const root = await makeJhmdb(t);
  const fails = async (fn: () => Promise<unknown>, file: string, detail: RegExp) => {
    const e = await fn().then(() => null, (err: unknown) => err);
    assert.ok(e instanceof FileFormatError, `expected a FileFormatError, got ${e}`);
    assert.equal(e.file, file);
    assert.match(e.message, detail);
  };
  const mat = join(root, 'puppet_mask/run/run_1/puppet_mask.mat');
  const ds = await JhmdbSentences.open(root);
  const sample = { videoId: 'run_1', frameIdx: 2, framePath: join(root, 'Rename_Images/run/run_1/00002.png'), maskPath: mat, videoTotalFrames: 4, query: 'x' };

  // masks of the wrong size
  writeMat5(mat, 'part_mask', [H, W + 2, 4], new Uint8Array(H * (W + 2) * 4));
  await fails(() => ds.loadSample(sample), mat, /mask is 8x12 \(HxW\) but its frame .*00002\.png is 8x10/);
  // frame beyond the masks
  writeMat5(mat, 'part_mask', [H, W, 1], new Uint8Array(H * W));
  await fails(async () => (await readPuppetMasks(mat)).frame(3), mat, /part_mask has 1 frames, frame 3 requested/);
  // wrong variable name, not a MAT-file
  writeMat5(mat, 'masks', [H, W, 4], new Uint8Array(H * W * 4));
  await fails(() => readPuppetMasks(mat), mat, /missing variable "part_mask"/);
  writeText(mat, 'x'.repeat(200));
  await fails(() => readPuppetMasks(mat), mat, /not a MATLAB MAT-file/);
  // a v7.3 file without the dataset
  const mat73 = join(root, 'puppet_mask/jump/jump_2/puppet_mask.mat');
  await writeMat73(mat73, 'other', [H, W, 4], new Uint8Array(H * W * 4));
  await fails(() => readPuppetMasks(mat73), mat73, /missing dataset "part_mask"/);

  // a video named in the annotations without puppet masks; a bad metadata file
  writeText(join(root, 'jhmdb_annotation.txt'), 'video_id,query\nrun_1,a\nswim_3,b\n');
  await fails(() => JhmdbSentences.open(root), join(root, 'Rename_Images/<action>/swim_3'), /missing folder/);
  await writeRgbPng(join(root, 'Rename_Images/swim/swim_3/00001.png'), W, H);
  await fails(() => JhmdbSentences.open(root), join(root, 'puppet_mask/swim/swim_3/puppet_mask.mat'), /missing file/);
  const metaFile = join(root, 'samples.json');
  writeJson(metaFile, [['run_1', '/elsewhere/00002.png', mat, 4, 'x']]);
  await fails(async () => ds.readSamplesMetadata(metaFile), metaFile, /entry 0: path .* has no \/Rename_Images\/ part/);
});

// scipy.io.savemat({'ab': [[1.5, 2.0]], 'part_mask': uint8 [4, 3, 2]}, do_compression=True): frame 0 has
// column 0 set, frame 1 column 1. Real MATLAB/scipy files use small-form name tags and compression.
const SCIPY_MAT =
  'TUFUTEFCIDUuMCBNQVQtZmlsZSBQbGF0Zm9ybTogcG9zaXgsIENyZWF0ZWQgb246IFR1ZSBOb3YgMjQgMDE6MDY6MzUgMjAyNgAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAABSU0PAAAALgAAAHic42NgYHAAYjYg5oDSIMAK5TMCMROYZmJITGJg4ASyBRhg4Ic9lOEAAEA1AskPAAAAPAAAAHic42NgYEgAYjYg5gBiTgYIYAViHiBmAWJmIGaCijNC1RQkFpXE5yYWZ0PFQfISIHkgYEACMD4A5hsEjg==';

test('MAT v5 as scipy.io.savemat writes it (compressed, small name tags)', async (t) => {
  const file = join(tempDir(t), 'puppet_mask.mat');
  writeText(file, Buffer.from(SCIPY_MAT, 'base64'));
  const pm = await readPuppetMasks(file);
  assert.deepEqual([pm.height, pm.width, pm.numFrames], [4, 3, 2]);
  assert.deepEqual(pm.frame(1), labelMap(3, 4, [[1, 0, 0, 1, 4]]));
  assert.deepEqual(pm.frame(2), labelMap(3, 4, [[1, 1, 0, 2, 4]]));
  assert.deepEqual(await readMatVariable(file, 'ab', 'test'), { dims: [1, 2], data: Float64Array.of(1.5, 2) });
});
