// `soc eval`, `soc merge` and `soc predict` end to end with the tiny golden model on generated
// datasets: results files, sharded + merged = unsharded, resume, the model outputs the protocols
// use equal a direct forward, and the submission layout and zip.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test, type TestContext } from 'node:test';
import { A2dSentences } from '../../src/data/a2d-sentences.js';
import { decodeLabelPng } from '../../src/data/image.js';
import { Mevis } from '../../src/data/mevis.js';
import { generateSynthDataset } from '../../src/data/synth.js';
import { parseSynthExpressions, synthExpressionKinds } from '../../src/evaluation/protocols/video-protocols.js';
import type { Mask, RgbImage } from '../../src/data/types.js';
import { cocoEval } from '../../src/evaluation/coco/cocoeval.js';
import { type MaskStack, evaluateUnsupervised } from '../../src/evaluation/davis.js';
import { type A2dRecord, cocoInputs, openA2dProtocol } from '../../src/evaluation/protocols/a2d.js';
import { cleanQuery } from '../../src/evaluation/protocols/model-run.js';
import { type RefDavisRecord, openRefDavisProtocol } from '../../src/evaluation/protocols/ref-davis.js';
import { RunFolder, type RunManifest, parseShard, shardUnits } from '../../src/evaluation/protocols/run-folder.js';
import { openVideoProtocol } from '../../src/evaluation/protocols/video-protocols.js';
import { mergeRuns, runProtocol } from '../../src/evaluation/protocols/runner.js';
import { postprocessYtvos } from '../../src/inference/postprocess.js';
import { ReferringSegmenter } from '../../src/inference/predictor.js';
import { ZipReader } from '../../src/io/zip.js';
import { preprocessVideo } from '../../src/media/preprocess.js';
import { fromTypedArray, tensor } from '../../src/tensor/creation.js';
import { noGrad } from '../../src/tensor/autograd.js';
import { tidy } from '../../src/tensor/scope.js';
import { binary, columnMajorFrames, labelMap, writeA2dH5, writeJpeg, writeJson, writeLabelPng, writeMat5, writeRgbPng, writeText } from '../data/fixtures.js';
import { REPO_ROOT, sharedPath, tempDir } from '../helpers/shared.js';
import { TINY_WORDS, writeTinyModel } from '../helpers/tiny-model.js';

const SMALL = ['--short-side', '48', '--max-size', '64'];
const SMALL_RULE = { shortSide: 48, maxSize: 64 };

function soc(...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [join(REPO_ROOT, 'bin', 'soc.js'), ...args], { cwd: REPO_ROOT, encoding: 'utf8', env: { ...process.env, SOC_FROM_SOURCE: '1', SOC_DEBUG: '' } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const readJsonFile = (f: string) => JSON.parse(readFileSync(f, 'utf8'));

/** A tiny model and a synthetic MeViS-layout dataset (3 valid videos of 6 frames, ground truth in mask_dict.json). */
async function setup(t: TestContext, format: 'mevis' | 'ytvos' = 'mevis'): Promise<{ dir: string; root: string; model: ReturnType<typeof writeTinyModel>; modelArgs: string[] } | null> {
  const golden = sharedPath(t, 'golden', 'socpp_tiny');
  if (!golden) return null;
  const dir = tempDir(t);
  const model = writeTinyModel(golden, join(dir, 'model'));
  const root = join(dir, 'data');
  await generateSynthDataset({ out: root, videos: 5, seed: 1, frames: 6, height: 48, width: 64, validFraction: 0.6, format });
  return { dir, root, model, modelArgs: ['--checkpoint', model.checkpoint, '--tokenizer', model.tokenizer, ...SMALL] };
}

describe('shards', () => {
  test('--shard i/n splits the videos round-robin, disjoint and covering', () => {
    const units = ['a', 'b', 'c', 'd', 'e'];
    assert.deepEqual(shardUnits(units, parseShard('1/2')), ['a', 'c', 'e']);
    assert.deepEqual(shardUnits(units, parseShard('2/2')), ['b', 'd']);
    assert.deepEqual(shardUnits(units, null), units);
    for (const bad of ['0/2', '3/2', '1', 'a/b', '1/0']) assert.throws(() => parseShard(bad), /--shard must be i\/n/);
  });

  test('a run folder is reused only with resume, for the same run and shard', (t) => {
    const dir = join(tempDir(t), 'run');
    const manifest: RunManifest = {
      format: 'soc-run',
      version: 1,
      command: 'eval',
      dataset: 'mevis',
      split: 'valid',
      settings: { clips: 'chunks of 4 frames' },
      model: { checkpointSha256: 'a', configSha256: 'b', variant: 'socpp' },
      units: ['v1', 'v2', 'v3'],
      shard: { index: 1, count: 2 },
      info: { created: 'now' },
    };
    const run = RunFolder.open(dir, manifest);
    assert.deepEqual(run.units, ['v1', 'v3']);
    run.write('v3', { x: 1 });
    assert.throws(() => RunFolder.open(dir, manifest), /already holds a run; pass --resume/);
    const resumed = RunFolder.open(dir, { ...manifest, info: { created: 'later' } }, { resume: true });
    assert.deepEqual([resumed.has('v1'), resumed.has('v3'), resumed.read('v3')], [false, true, { x: 1 }]);
    assert.throws(() => RunFolder.open(dir, { ...manifest, settings: { clips: 'chunks of 5 frames' } }, { resume: true }), /it was started with different settings/);
    assert.throws(() => RunFolder.open(dir, { ...manifest, shard: { index: 2, count: 2 } }, { resume: true }), /it holds shard 1\/2, not shard 2\/2/);
    const other = join(tempDir(t), 'other');
    writeText(join(other, 'notes.txt'), 'x');
    assert.throws(() => RunFolder.open(other, manifest), /exists and is not empty/);
  });
});

describe('soc eval --dataset mevis', () => {
  test('runs end to end; 2 shards merged equal the unsharded run; resume skips finished videos', async (t) => {
    const s = await setup(t);
    if (!s) return;
    const args = ['eval', '--dataset', 'mevis', '--data-root', s.root, '--split', 'valid', ...s.modelArgs, '--clip-frames', '4'];
    const full = join(s.dir, 'full');
    const r = soc(...args, '--out', full);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /MeViS valid: 3 videos, 21 expressions \(trainer protocol\)/);
    assert.match(r.stdout, /NOTE: not the reference protocol.*frames resized to 48\/64 .*instead of 360\/640; chunks of 4 frames instead of the committed valid_samples_metadata.json's 80/);
    const results = readJsonFile(join(full, 'results.json'));
    assert.equal(results.partial, false);
    assert.equal(results.expressions, 21);
    assert.equal(results.per_expression.length, 21);
    for (const k of ['J&F-Mean', 'J-Mean', 'J-Recall', 'J-Decay', 'F-Mean', 'F-Recall', 'F-Decay']) assert.equal(typeof results[k], 'number', k);
    assert.equal(results['J&F-Mean'], (results['J-Mean'] + results['F-Mean']) / 2);
    const csv = readFileSync(join(full, 'results.csv'), 'utf8').trim().split('\n');
    assert.equal(csv.length, 23);
    assert.match(csv[22]!, /^mean,/);
    // each expression is scored on every frame, in 4 + 2 frame chunks
    const rec = readJsonFile(join(full, 'videos', 'vid00001.json'));
    assert.deepEqual(rec.expressions[0].frames, ['00000', '00001', '00002', '00003', '00004', '00005']);
    assert.deepEqual(rec.expressions[0].clips.map((c: { start: number; frames: number }) => [c.start, c.frames]), [[0, 4], [4, 2]]);
    // synthetic expressions: J&F per kind = the mean of those expressions' J&F, grouped by their words
    const severalObjects = /^the (two|three|four|five|six) /; // a count word starts a multi-object expression
    const kindOf = (text: string) => (severalObjects.test(text) ? 'several objects' : /moving|still|stop|leave/.test(text) ? 'one object, with motion' : 'one object, appearance only');
    const jfByName = new Map<string, number>(results.per_expression.map((e: { name: string; 'J&F-Mean': number }) => [e.name, e['J&F-Mean']]));
    const expected = new Map<string, number[]>();
    const texts = new Map<string, string>(); // one-object expressions, for the attribute check below
    for (const f of readdirSync(join(full, 'videos'))) {
      const v = readJsonFile(join(full, 'videos', f));
      for (const e of v.expressions) {
        if (!severalObjects.test(e.text)) texts.set(`${v.video}/${e.id}`, e.text);
        const k = kindOf(e.text);
        expected.set(k, [...(expected.get(k) ?? []), jfByName.get(`${v.video}/${e.id}`)!]);
      }
    }
    assert.equal(results.by_expression_kind.reduce((a: number, k: { expressions: number }) => a + k.expressions, 0), 21);
    for (const k of results.by_expression_kind) {
      const v = expected.get(k.kind)!;
      assert.equal(k.expressions, v.length, k.kind);
      assert.ok(Math.abs(k['J&F-Mean'] - v.reduce((a, b) => a + b, 0) / v.length) < 1e-12, k.kind);
    }
    assert.match(r.stdout, /by kind of expression \(soc synth data\):/);
    // by attribute: one-object expressions grouped by the words they contain
    const words: Record<string, RegExp> = {
      colour: /\b(red|green|blue|yellow|purple)\b/,
      size: /\b(small|large)\b/,
      shape: /\b(circle|square|triangle|diamond)\b/,
      motion: /\b(moving|still|stops|leaves)\b/,
    };
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    assert.deepEqual(results.by_attribute.map((a: { attribute: string }) => a.attribute), ['colour', 'size', 'shape', 'motion']);
    for (const a of results.by_attribute) {
      const naming = [...texts].filter(([, text]) => words[a.attribute]!.test(text));
      const only = naming.filter(([, text]) => Object.entries(words).every(([k, re]) => k === a.attribute || !re.test(text)));
      for (const [got, want] of [[a.naming, naming], [a.naming_only_it, only]] as const) {
        if (want.length === 0) {
          assert.equal(got, null, a.attribute);
          continue;
        }
        assert.equal(got.expressions, want.length, a.attribute);
        assert.ok(Math.abs(got['J&F-Mean'] - mean(want.map(([n]) => jfByName.get(n)!))) < 1e-12, a.attribute);
      }
    }
    assert.ok(results.by_attribute.some((a: { naming: unknown }) => a.naming !== null));
    assert.match(r.stdout, /by attribute named \(one-object expressions\):/);
    // one expression the generator would not write (real MeViS text) and there is no breakdown
    const scored = results.per_expression.map((e: { name: string }, i: number) => ({ name: e.name, text: i === 0 ? 'the dog jumping over the fence' : 'the red circle', j: [1], f: [1] }));
    assert.equal(parseSynthExpressions(scored), null);
    assert.deepEqual(synthExpressionKinds(parseSynthExpressions(scored.slice(1))!).map((k) => [k.kind, k.summary.perObject.length]), [['one object, appearance only', 20]]);

    // two shards, then merge
    const parts = ['1/2', '2/2'].map((sh, i) => {
      const out = join(s.dir, `part${i + 1}`);
      const p = soc(...args, '--shard', sh, '--out', out);
      assert.equal(p.code, 0, p.stderr);
      assert.match(p.stdout, new RegExp(`PARTIAL \\(shard ${i + 1}/2, ${i === 0 ? 2 : 1} of 3 videos\\)`));
      return out;
    });
    assert.deepEqual(readdirSync(join(parts[0]!, 'videos')).sort(), ['vid00001.json', 'vid00004.json']);
    const merged = join(s.dir, 'merged');
    const m = soc('merge', ...parts, '--out', merged);
    assert.equal(m.code, 0, m.stderr);
    const mergedResults = readJsonFile(join(merged, 'results.json'));
    assert.deepEqual(mergedResults, results);
    assert.equal(readFileSync(join(merged, 'results.csv'), 'utf8'), readFileSync(join(full, 'results.csv'), 'utf8'));

    // an incomplete set of shards is refused, naming what is missing
    const one = soc('merge', parts[0]!, '--out', join(s.dir, 'merged-1'));
    assert.equal(one.code, 1);
    assert.match(one.stderr, /1 of 3 videos have no result in the given folders \(give every shard's folder.*\): vid00003/);

    // resume: only the video without a record is run again
    rmSync(join(full, 'videos', 'vid00003.json'));
    const resumed = soc(...args, '--out', full, '--resume');
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.match(resumed.stderr, /1 videos to process, 2 already done \(resumed\)/);
    assert.deepEqual(readJsonFile(join(full, 'results.json')), results);
  });

  test('the trainer protocol equals a direct forward per chunk; saved masks score the same with soc score', async (t) => {
    const s = await setup(t);
    if (!s) return;
    const out = join(s.dir, 'run');
    const r = soc('eval', '--dataset', 'mevis', '--data-root', s.root, '--split', 'valid', ...s.modelArgs, '--clip-frames', '4', '--save-masks', '--out', out);
    assert.equal(r.code, 0, r.stderr);
    const ds = await Mevis.open(s.root, 'valid');
    const video = ds.videos[0]!;
    const exp = video.expressions[1]!;
    const segmenter = ReferringSegmenter.load({ checkpoint: s.model.checkpoint, tokenizer: s.model.tokenizer });
    t.after(() => segmenter.dispose());
    // the reference's forward of one sample: chunk frames 4..5, lowercased text, the trainer post-processor
    const frames = video.frames.slice(4);
    const clip = preprocessVideo(await Promise.all(frames.map((f) => ds.loadFrame(video.id, f))), SMALL_RULE);
    const direct = noGrad(() =>
      tidy(() => {
        const batch = segmenter.tokenizer.encodeBatch([cleanQuery(exp.text)]);
        const ids = batch.inputIds[0]!;
        const out = segmenter.model.forward({
          video: clip.video,
          videoMask: clip.paddingMask,
          inputIds: fromTypedArray(BigInt64Array.from(ids, (v) => BigInt(v)), [1, ids.length]),
          attentionMask: fromTypedArray(BigInt64Array.from(batch.attentionMask[0]!, (v) => BigInt(v)), [1, ids.length]),
          targetSizes: tensor([[clip.resizedSize[0], clip.resizedSize[1]]]),
        });
        const masks = postprocessYtvos(out, clip.resizedSize, [{ resizedSize: clip.resizedSize, originalSize: clip.originalSize }]).videos[0]!.masks;
        return new Uint8Array(masks.contiguous().toBytes());
      }),
    );
    const n = 48 * 64;
    frames.forEach((f, i) => {
      const png = decodeLabelPng(readFileSync(join(out, 'Annotations', video.id, exp.id, `${f}.png`)), f);
      assert.deepEqual(png.data, direct.subarray(i * n, (i + 1) * n).map((v) => v * 255), `frame ${f}`);
    });
    // scoring the saved masks gives the eval's numbers exactly
    const scoreJson = join(s.dir, 'score.json');
    const sc = soc('score', '--dataset', 'mevis', '--pred', out, '--gt', join(s.root, 'valid'), '--json', scoreJson, '--jobs', '1');
    assert.equal(sc.code, 0, sc.stderr);
    const evalResults = readJsonFile(join(out, 'results.json'));
    const scored = readJsonFile(scoreJson);
    for (const k of ['J&F-Mean', 'J-Mean', 'J-Recall', 'J-Decay', 'F-Mean', 'F-Recall', 'F-Decay']) assert.equal(scored[k], evalResults[k], k);
  });

  test('a split without ground truth is refused with a pointer to soc predict', async (t) => {
    const s = await setup(t);
    if (!s) return;
    rmSync(join(s.root, 'valid', 'mask_dict.json'));
    rmSync(join(s.root, 'valid', 'Annotations'), { recursive: true });
    const r = soc('eval', '--dataset', 'mevis', '--data-root', s.root, '--split', 'valid', ...s.modelArgs, '--out', join(s.dir, 'x'));
    assert.equal(r.code, 1);
    assert.match(r.stderr, /has no ground truth to score against .*soc predict/);
  });
});

describe('soc predict', () => {
  test('writes Annotations/<video>/<exp>/<frame>.png (0/255 grayscale) and the zip; shards merge into the same zip', async (t) => {
    const s = await setup(t, 'ytvos');
    if (!s) return;
    const args = ['predict', '--dataset', 'ref-youtube-vos', '--data-root', s.root, ...s.modelArgs];
    const out = join(s.dir, 'pred');
    const r = soc(...args, '--out', out);
    assert.equal(r.code, 0, r.stderr);
    const meta = readJsonFile(join(s.root, 'meta_expressions', 'valid', 'meta_expressions.json')).videos as Record<string, { expressions: Record<string, unknown>; frames: string[] }>;
    const expected: string[] = ['Annotations/'];
    for (const [video, v] of Object.entries(meta)) {
      expected.push(`Annotations/${video}/`);
      for (const exp of Object.keys(v.expressions).sort()) {
        expected.push(`Annotations/${video}/${exp}/`);
        for (const f of v.frames) expected.push(`Annotations/${video}/${exp}/${f}.png`);
      }
    }
    const zip = ZipReader.open(join(out, 'submission.zip'));
    assert.deepEqual(zip.names, expected);
    let foreground = 0;
    for (const name of expected.filter((n) => n.endsWith('.png'))) {
      const bytes = zip.read(name);
      assert.ok(Buffer.from(bytes).equals(readFileSync(join(out, name))), name);
      const png = decodeLabelPng(bytes, name);
      assert.deepEqual([png.width, png.height], [64, 48]);
      for (const v of png.data) {
        assert.ok(v === 0 || v === 255, `${name}: value ${v}`);
        foreground += v ? 1 : 0;
      }
    }
    assert.ok(foreground > 0, 'some pixels are foreground');
    // shards + merge give the same submission
    const parts = ['1/2', '2/2'].map((sh, i) => {
      const p = join(s.dir, `p${i}`);
      const pr = soc(...args, '--shard', sh, '--out', p);
      assert.equal(pr.code, 0, pr.stderr);
      assert.deepEqual(readdirSync(p).filter((n) => n.endsWith('.zip')), [], 'no zip for a shard');
      return p;
    });
    const merged = join(s.dir, 'merged');
    assert.equal(soc('merge', ...parts, '--out', merged).code, 0);
    assert.deepEqual(readFileSync(join(merged, 'submission.zip')), readFileSync(join(out, 'submission.zip')));
  });
});

// ---------------------------------------------------------------------------------------------
// Ref-DAVIS17: a converted-layout mini dataset (2 videos, 2 objects each, void pixels)

const DW = 40;
const DH = 32;

async function makeRefDavis(root: string): Promise<void> {
  const videos: Record<string, { expressions: Record<string, { exp: string; obj_id: string }>; frames: string[] }> = {};
  for (const [video, n] of [['bike', 5], ['dogs', 3]] as const) {
    const frames = Array.from({ length: n }, (_, t) => String(t).padStart(5, '0'));
    for (const [t, f] of frames.entries()) {
      await writeJpeg(join(root, 'valid/JPEGImages', video, `${f}.jpg`), DW, DH, [40 + 30 * t, 90, 160]);
      writeLabelPng(join(root, 'valid/Annotations', video, `${f}.png`), labelMap(DW, DH, [[1, 2 + t, 2, 14 + t, 16], [2, 20, 10, 36, 30], [255, 0, 30, 40, 32]]));
    }
    const words = TINY_WORDS;
    const expressions: Record<string, { exp: string; obj_id: string }> = {};
    for (let k = 0; k < 8; k++) expressions[String(k)] = { exp: `the ${words[2 + (k % 8)]} ${words[4 + (k % 3)]}`, obj_id: String(1 + Math.floor(k / 4)) };
    videos[video] = { expressions, frames };
  }
  writeJson(join(root, 'meta_expressions/valid/meta_expressions.json'), { videos });
}

describe('soc eval --dataset ref-davis', () => {
  test('4 annotator sets merged and scored with the unsupervised evaluation; shards merge to the same results', async (t) => {
    const golden = sharedPath(t, 'golden', 'socpp_tiny');
    if (!golden) return;
    const dir = tempDir(t);
    const model = writeTinyModel(golden, join(dir, 'model'));
    const root = join(dir, 'davis');
    await makeRefDavis(root);
    const segmenter = ReferringSegmenter.load({ checkpoint: model.checkpoint, tokenizer: model.tokenizer });
    t.after(() => segmenter.dispose());
    const open = () => openRefDavisProtocol({ root, clipFrames: 2, resize: SMALL_RULE, saveMasks: true });
    const full = join(dir, 'full');
    const r = await runProtocol(await open(), { segmenter, checkpoint: model.checkpoint, out: full });
    assert.equal(r.processed, 2);
    assert.match(r.results.text, /Ref-DAVIS17 valid: 2 videos, 4 objects/);
    assert.match(r.results.text, /anno_3 \(annot2 full-video\)/);
    assert.match(r.results.text, /mean = average of the 4 annotator sets/);
    const results = readJsonFile(join(full, 'results.json'));
    assert.equal(results.sets.length, 4);
    assert.deepEqual(results.sets[0].per_object.map((o: { name: string }) => o.name), ['bike_1', 'bike_2', 'dogs_1', 'dogs_2']);
    assert.equal(results['J-Mean'], results.sets.reduce((a: number, x: Record<string, number>) => a + x['J-Mean']!, 0) / 4);

    // the saved label maps, scored directly with the unsupervised evaluation, give the record's numbers
    const rec = RunFolder.read(full).read<RefDavisRecord>('bike');
    const T = 5;
    const stackOf = (masks: Mask[], keep: (v: number) => boolean): MaskStack => {
      const data = new Uint8Array(T * DW * DH);
      masks.forEach((m, t) => data.set(m.data.map((v) => (keep(v) ? 1 : 0)), t * DW * DH));
      return { data, frames: T, height: DH, width: DW };
    };
    const gt = Array.from({ length: T }, (_, t) => decodeLabelPng(readFileSync(join(root, 'valid/Annotations/bike', `0000${t}.png`)), 'gt'));
    for (let k = 0; k < 4; k++) {
      const labels = Array.from({ length: T }, (_, t) => decodeLabelPng(readFileSync(join(full, `anno_${k}`, 'bike', `0000${t}.png`)), 'pred'));
      const max = Math.max(...labels.flatMap((m) => Array.from(m.data)));
      assert.ok(max <= 2, 'labels are 0 (background) or an object index');
      const proposals = Array.from({ length: max }, (_, p) => stackOf(labels, (v) => v === p + 1));
      const matched = evaluateUnsupervised([1, 2].map((id) => stackOf(gt, (v) => v === id)), proposals, stackOf(gt, (v) => v === 255));
      assert.deepEqual(rec.sets[k]!.objects.map((o) => [o.j, o.f]), matched.map((m) => [Array.from(m.j), Array.from(m.f)]), `set ${k}`);
    }

    const parts = [1, 2].map((i) => join(dir, `part${i}`));
    for (const [i, p] of parts.entries()) await runProtocol(await open(), { segmenter, checkpoint: model.checkpoint, out: p, shard: { index: i + 1, count: 2 } });
    const merged = join(dir, 'merged');
    mergeRuns(parts, merged);
    assert.deepEqual(readJsonFile(join(merged, 'results.json')), results);
    assert.deepEqual(readdirSync(join(merged, 'anno_0')).sort(), ['bike', 'dogs']);
  });
});

// ---------------------------------------------------------------------------------------------
// A2D-Sentences: h5 annotations and a stand-in video decoder

const AW = 32;
const AH = 24;

describe('soc eval --dataset a2d', () => {
  test('every query becomes a COCO result; mAP, P@K and IoU; shards merge to the same results', async (t) => {
    const golden = sharedPath(t, 'golden', 'socpp_tiny');
    if (!golden) return;
    const dir = tempDir(t);
    const model = writeTinyModel(golden, join(dir, 'model'));
    const root = join(dir, 'a2d');
    writeText(join(root, 'Release/videoset.csv'), ['vidA,11,0,5,24,32,10,2,1', 'vidB,12,0,5,24,32,10,1,1', 'vidT,13,0,5,24,32,10,1,0', ''].join('\n'));
    writeText(join(root, 'text_annotations/a2d_annotation.txt'), ['video_id,instance_id,query', 'vidA,1,The Red  box', 'vidA,2,the yellow square', 'vidB,1,a small box moving left', 'vidT,1,train only'].join('\n'));
    writeText(join(root, 'text_annotations/a2d_missed_videos.txt'), '');
    const L = labelMap(AW, AH, [[1, 2, 2, 12, 14], [2, 16, 6, 30, 22]]);
    const dirH5 = join(root, 'text_annotations/a2d_annotation_with_instances');
    await writeA2dH5(join(dirH5, 'vidA/00002.h5'), [1, 2], [1, 2].map((l) => ({ ...L, data: binary(L, l) })));
    await writeA2dH5(join(dirH5, 'vidA/00009.h5'), [2], [{ ...L, data: binary(L, 2) }]);
    await writeA2dH5(join(dirH5, 'vidB/00005.h5'), [1], [{ ...L, data: binary(L, 1) }]);
    await writeA2dH5(join(dirH5, 'vidT/00001.h5'), [1], [{ ...L, data: binary(L, 1) }]);
    const frames = (seed: number): RgbImage[] => Array.from({ length: 10 }, (_, k) => ({ width: AW, height: AH, data: new Uint8Array(AW * AH * 3).map((_, i) => (i * 7 + k * 13 + seed) % 256) }));
    const decodeVideo = async (path: string) => frames(path.includes('vidA') ? 1 : 2);
    const segmenter = ReferringSegmenter.load({ checkpoint: model.checkpoint, tokenizer: model.tokenizer });
    t.after(() => segmenter.dispose());
    const open = () => openA2dProtocol({ dataset: 'a2d', root, resize: SMALL_RULE, decodeVideo });
    const protocol = await open();
    assert.deepEqual(protocol.units, ['vidA', 'vidB']);
    const full = join(dir, 'full');
    const r = await runProtocol(protocol, { segmenter, checkpoint: model.checkpoint, out: full });
    const Q = segmenter.config.DeformTransformer.num_queries;
    assert.ok(r.results.text.includes(`A2D-Sentences test: 2 videos, 4 samples, ${4 * Q} COCO results (all queries)`), r.results.text);
    assert.match(r.results.text, /Average Precision {2}\(AP\) @\[ IoU=0\.50:0\.95 \| area= {3}all \| maxDets=100 \]/);
    const results = readJsonFile(join(full, 'results.json'));
    const records = ['vidA', 'vidB'].map((u) => RunFolder.read(full).read<A2dRecord>(u));
    // per video, the samples in list order: (instance 1, frame 2), (instance 2, frame 2), (instance 2, frame 9)
    assert.deepEqual(records.map((x) => x.samples.map((s) => s.imageId)), [['v_vidA_f_2_i_1', 'v_vidA_f_2_i_2', 'v_vidA_f_9_i_2'], ['v_vidB_f_5_i_1']]);
    assert.equal(records[0]!.samples[0]!.query, 'the red box');
    // the COCO numbers equal cocoEval on the same inputs
    const { gt, results: dts } = cocoInputs(records);
    const coco = cocoEval(gt, dts, { useCats: false });
    assert.equal(results['mAP 0.5:0.95'], coco.stats[0]);
    assert.equal(results['AP 0.5'], coco.stats[1]);
    assert.equal(dts.length, 4 * Q);
    for (const k of ['P@0.5', 'P@0.9', 'overall_iou', 'mean_iou']) assert.equal(typeof results[k], 'number', k);
    // the ground truth follows create_gt_in_coco_format.py: reBBox as xywh, RLE area
    const ann = gt.annotations[0] as { bbox: number[]; area: number; id: number };
    assert.deepEqual([ann.id, ann.bbox, ann.area], [1, [2, 2, 9, 11], 120]);
    // the sample order is the reference's (text annotation × annotated frame)
    const ds = await A2dSentences.open(root, { decodeVideo });
    assert.deepEqual((gt.images as { id: string }[]).map((i) => i.id), (await ds.samples('test')).map((s) => `v_${s.videoId}_f_${s.frameIdx}_i_${s.instanceId}`));

    const parts = [1, 2].map((i) => join(dir, `part${i}`));
    for (const [i, p] of parts.entries()) await runProtocol(await open(), { segmenter, checkpoint: model.checkpoint, out: p, shard: { index: i + 1, count: 2 } });
    mergeRuns(parts, join(dir, 'merged'));
    assert.deepEqual(readJsonFile(join(dir, 'merged', 'results.json')), results);
  });
});

describe('soc eval --dataset jhmdb', () => {
  test("the reference's sample list (re-rooted), windows clamped to the video, GT from puppet_mask.mat", async (t) => {
    const golden = sharedPath(t, 'golden', 'socpp_tiny');
    if (!golden) return;
    const dir = tempDir(t);
    const model = writeTinyModel(golden, join(dir, 'model'));
    const root = join(dir, 'jhmdb');
    writeText(join(root, 'jhmdb_annotation.txt'), 'video_id,query\nrun_1,The man Running\njump_2,a girl jumping\n');
    const puppet = (k: number) => labelMap(AW, AH, [[1, 2 + k, 3, 14 + k, 20]]);
    for (const [action, video] of [['run', 'run_1'], ['jump', 'jump_2']] as const) {
      for (let i = 1; i <= 5; i++) await writeRgbPng(join(root, 'Rename_Images', action, video, `${String(i).padStart(5, '0')}.png`), AW, AH, [20 * i, 60, 90]);
      writeMat5(join(root, 'puppet_mask', action, video, 'puppet_mask.mat'), 'part_mask', [AH, AW, 5], columnMajorFrames([0, 1, 2, 3, 4].map(puppet)));
    }
    const abs = '/opt/tiger/x/jhmdb_sentences';
    const samples = join(dir, 'samples.json');
    writeJson(samples, [
      ['run_1', `${abs}/Rename_Images/run/run_1/00001.png`, `${abs}/puppet_mask/run/run_1/puppet_mask.mat`, 5, 'The man Running'],
      ['run_1', `${abs}/Rename_Images/run/run_1/00004.png`, `${abs}/puppet_mask/run/run_1/puppet_mask.mat`, 5, 'The man Running'],
      ['jump_2', `${abs}/Rename_Images/jump/jump_2/00003.png`, `${abs}/puppet_mask/jump/jump_2/puppet_mask.mat`, 5, 'a girl jumping'],
    ]);
    const segmenter = ReferringSegmenter.load({ checkpoint: model.checkpoint, tokenizer: model.tokenizer });
    t.after(() => segmenter.dispose());
    const protocol = await openA2dProtocol({ dataset: 'jhmdb', root, samplesFile: samples, resize: SMALL_RULE });
    assert.match(String(protocol.settings.samples), /samples\.json \(sha256 [0-9a-f]{64}\)/);
    const r = await runProtocol(protocol, { segmenter, checkpoint: model.checkpoint, out: join(dir, 'run') });
    assert.ok(r.results.text.includes('JHMDB-Sentences test: 2 videos, 3 samples'), r.results.text);
    const rec = RunFolder.read(join(dir, 'run')).read<A2dRecord>('run_1');
    assert.deepEqual(rec.samples.map((s) => [s.imageId, s.query, s.gt.area, s.gt.bbox]), [
      ['v_run_1_f_1', 'the man running', 12 * 17, undefined],
      ['v_run_1_f_4', 'the man running', 12 * 17, undefined],
    ]);
    // without a sample list, random frames are drawn and labelled as not the reference's
    const drawn = await openA2dProtocol({ dataset: 'jhmdb', root, seed: 3, resize: SMALL_RULE });
    assert.match(String(drawn.settings.samples), /NOT the reference's committed sample list/);
  });
});

describe('MeViS protocol variants', () => {
  test('--samples (the reference chunk file) equals the same chunking; infer equals segment() on whole videos', async (t) => {
    const s = await setup(t);
    if (!s) return;
    const segmenter = ReferringSegmenter.load({ checkpoint: s.model.checkpoint, tokenizer: s.model.tokenizer });
    t.after(() => segmenter.dispose());
    const ds = await Mevis.open(s.root, 'valid');
    // valid_samples_metadata.json: [video, [frames of the chunk], {exp, exp_id}] per (chunk, expression)
    const rows = ds.videos.flatMap((v) => [v.frames.slice(0, 3), v.frames.slice(3)].flatMap((chunk) => v.expressions.map((e) => [v.id, chunk, { exp: e.text, exp_id: e.id, obj_id: e.objIds }])));
    const samplesFile = join(s.dir, 'valid_samples_metadata.json');
    writeJson(samplesFile, rows);
    const run = async (name: string, o: Partial<Parameters<typeof openVideoProtocol>[1]>) => {
      const p = await openVideoProtocol('eval', { dataset: 'mevis', root: s.root, split: 'valid', resize: SMALL_RULE, ...o });
      await runProtocol(p, { segmenter, checkpoint: s.model.checkpoint, out: join(s.dir, name) });
      return RunFolder.read(join(s.dir, name));
    };
    const fromFile = await run('samples', { samplesFile });
    const chunked = await run('chunked', { chunkFrames: 3 });
    for (const v of ds.videos) assert.deepEqual(fromFile.read(v.id), chunked.read(v.id), v.id);
    assert.match(String(fromFile.manifest.settings.clips), /from the samples file/);

    // infer: raw text, whole video, one query per video, masks as segment() gives them
    const infer = await run('infer', { protocol: 'infer', saveMasks: true });
    const video = ds.videos[1]!;
    const exp = video.expressions[0]!;
    const clip = preprocessVideo(await Promise.all(video.frames.map((f) => ds.loadFrame(video.id, f))), SMALL_RULE);
    const [direct] = segmenter.segment(clip, [exp.text]);
    const want = direct!.masks.toTypedArray() as Uint8Array;
    direct!.masks.dispose();
    const n = 48 * 64;
    video.frames.forEach((f, i) => {
      const png = decodeLabelPng(readFileSync(join(infer.dir, 'Annotations', video.id, exp.id, `${f}.png`)), f);
      assert.deepEqual(png.data, want.subarray(i * n, (i + 1) * n).map((v) => v * 255), `frame ${f}`);
    });
    const rec = infer.read<{ expressions: { clips: unknown[]; text: string }[] }>(video.id);
    assert.equal(rec.expressions[0]!.clips.length, 1);
    assert.equal(rec.expressions[0]!.text, exp.text);
  });
});
