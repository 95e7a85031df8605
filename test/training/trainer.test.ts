// `soc train` end to end on a tiny `soc synth` dataset with a tiny SOC++ (the golden tiny weights
// with a small tokenizer): the run folder, the checkpoint in the reference trainer's format, that
// it loads in `soc segment`'s predictor (and in PyTorch when a Python with torch is at hand), and
// exact resume: a run killed with SIGKILL and resumed from its last checkpoint ends with
// parameters and optimizer state bit-identical to an uninterrupted run.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { loadRgbImage } from '../../src/data/image.js';
import { generateSynthDataset } from '../../src/data/synth.js';
import { ReferringSegmenter } from '../../src/inference/predictor.js';
import { loadTorchFile } from '../../src/io/checkpoint.js';
import { preprocessVideo } from '../../src/media/preprocess.js';
import * as torch from '../../src/tensor/index.js';
import { REPO_ROOT, sharedRoot } from '../helpers/shared.js';
import { writeTinyModel } from '../helpers/tiny-model.js';
import { columnMajorFrames, labelMap, writeMat5, writeRgbPng, writeText } from '../data/fixtures.js';
import { ClipSource } from '../../src/training/data/sources.js';
import { validateCentreFrames } from '../../src/training/data/validation.js';

interface Run {
  code: number | null;
  stderr: string;
}

/** `soc train …` from the sources; `onStderr` may kill the child. */
function socTrain(args: string[], onStderr?: (text: string, child: ChildProcess) => void): Promise<Run> {
  return new Promise((resolveRun, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'src', 'cli', 'main.ts'), 'train', ...args], { cwd: REPO_ROOT, env: { ...process.env, SOC_DEBUG: '1' } });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      onStderr?.(stderr, child);
    });
    child.on('error', reject);
    child.on('close', (code) => resolveRun({ code, stderr }));
  });
}

function numbersOf(t: torch.Tensor): number[] {
  return Array.from(t.toTypedArray() as ArrayLike<number | bigint>, Number);
}

/** Every tensor of a (nested) checkpoint value, by dotted path. */
function tensorsOf(v: unknown, prefix = '', out = new Map<string, torch.Tensor>()): Map<string, torch.Tensor> {
  if (torch.isTensor(v)) out.set(prefix, v);
  else if (v instanceof Map) for (const [k, x] of v) tensorsOf(x, `${prefix}${String(k)}.`, out);
  else if (Array.isArray(v)) v.forEach((x, i) => tensorsOf(x, `${prefix}${i}.`, out));
  return out;
}

describe('soc train', () => {
  let dir = '';
  let common: string[] = [];
  let ready = false;

  after(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  before(async () => {
    const golden = sharedRoot() && join(sharedRoot()!, 'golden', 'socpp_tiny');
    if (!golden || !existsSync(join(golden, 'weights.safetensors'))) return;
    dir = mkdtempSync(join(tmpdir(), 'soc-train-'));
    await generateSynthDataset({ out: join(dir, 'synth'), videos: 5, seed: 4, frames: 6, height: 48, width: 80, validFraction: 0.2 });
    const tiny = writeTinyModel(golden, join(dir, 'tiny'));
    common = [
      '--config', tiny.config,
      '--init', tiny.checkpoint,
      '--tokenizer', tiny.tokenizer,
      '--dataset', 'synth',
      '--data-root', join(dir, 'synth'),
      '--epochs', '3',
      '--max-iters', '2',
      '--window', '3',
      '--set', 'train_short_size=48',
      '--set', 'eval_short_size=48',
      '--eval-limit', '1',
      '--deterministic',
      '--seed', '7',
      '--no-progress',
    ];
    ready = true;
  });

  test('a few iterations: run folder, trainer-format checkpoints, and the best one segments through soc segment\'s predictor', async (t) => {
    if (!ready) return t.skip('../shared/golden/socpp_tiny not found');
    const out = join(dir, 'run');
    const r = await socTrain([...common, '--out', out, '--workers', '0']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /--init .*dropped class_embed\.0\.weight, class_embed\.0\.bias, class_embed\.1\.weight, class_embed\.1\.bias/);
    assert.match(r.stderr, /evaluation \(\d+ expressions.*J&F/);
    for (const f of ['config.json', 'tokenizer/vocab.json', 'log.jsonl', 'loss.png', 'train_samples_metadata_win_size_3.json', 'checkpoints/00.pth.tar', 'checkpoints/02.pth.tar', 'checkpoints/best.pth.tar']) {
      assert.ok(existsSync(join(out, f)), f);
    }
    assert.deepEqual([...readFileSync(join(out, 'loss.png')).subarray(1, 4)].map((c) => String.fromCharCode(c)).join(''), 'PNG');
    const log = readFileSync(join(out, 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    assert.equal(log.filter((e) => e.type === 'iter').length, 6);
    const epochs = log.filter((e) => e.type === 'epoch');
    assert.equal(epochs.length, 3);
    assert.ok(epochs.every((e) => Number.isFinite(e.loss) && typeof e.eval['J&F'] === 'number'));

    const ckpt = loadTorchFile(join(out, 'checkpoints', '02.pth.tar')) as Map<string, unknown>;
    assert.deepEqual([...ckpt.keys()], ['epoch', 'total_epochs', 'model_state_dict', 'optimizer_state_dict', 'scheduler_state_dict', 'grad_scaler_state_dict', 'best_loss', 'soc_ts']);
    assert.equal(ckpt.get('epoch'), 2);
    assert.equal(ckpt.get('total_epochs'), 3);
    assert.equal((ckpt.get('grad_scaler_state_dict') as Map<string, unknown>).size, 0);
    const sched = ckpt.get('scheduler_state_dict') as Map<string, unknown>;
    assert.equal(sched.get('last_epoch'), 3, 'MultiStepLR stepped once per epoch');
    const opt = ckpt.get('optimizer_state_dict') as Map<string, unknown>;
    const state = opt.get('state') as Map<number, Map<string, torch.Tensor>>;
    assert.equal(state.get(0)!.get('step')!.item(), 6, 'six AdamW steps');
    torch.disposeAll([...tensorsOf(ckpt).values()]);

    const segmenter = ReferringSegmenter.load({ checkpoint: join(out, 'checkpoints', 'best.pth.tar'), config: join(out, 'config.json'), tokenizer: join(out, 'tokenizer') });
    try {
      const video = readdirSync(join(dir, 'synth', 'valid', 'JPEGImages'))[0]!;
      const framesDir = join(dir, 'synth', 'valid', 'JPEGImages', video);
      const frames = await Promise.all(readdirSync(framesDir).sort().map((f) => loadRgbImage(join(framesDir, f))));
      const clip = preprocessVideo(frames, { shortSide: 48, maxSize: 640 });
      const [res] = segmenter.segment(clip, ['the red circle']);
      assert.deepEqual(res!.masks.shape, [frames.length, 48, 80]);
      torch.disposeAll([res!.masks, clip.video, clip.paddingMask]);
    } finally {
      segmenter.dispose();
    }

    // Dev check: PyTorch 1.13 reads the checkpoint and resumes its optimizer and scheduler.
    const python = '/usr/bin/python3';
    const probe = existsSync(python) ? spawnSync(python, ['-c', 'import torch'], { encoding: 'utf8' }) : null;
    if (!probe || probe.status !== 0) {
      t.diagnostic('no Python with torch: PyTorch load check skipped');
      return;
    }
    const script = `
import sys, torch
ck = torch.load(sys.argv[1], map_location='cpu')
sd = ck['model_state_dict']
osd = ck['optimizer_state_dict']
shapes = {i: s['exp_avg'].shape for i, s in osd['state'].items()}
params = {i: torch.nn.Parameter(torch.zeros(shapes.get(i, (1,)))) for g in osd['param_groups'] for i in g['params']}
opt = torch.optim.AdamW([{'params': [params[i] for i in g['params']]} for g in osd['param_groups']], lr=1.0)
opt.load_state_dict(osd)
sched = torch.optim.lr_scheduler.MultiStepLR(opt, milestones=[20])
sched.load_state_dict(ck['scheduler_state_dict'])
print(len(sd), ck['epoch'], sched.last_epoch, opt.param_groups[0]['lr'])
`;
    const py = spawnSync(python, ['-c', script, join(out, 'checkpoints', 'best.pth.tar')], { encoding: 'utf8' });
    assert.equal(py.status, 0, py.stderr);
    t.diagnostic(`PyTorch: ${py.stdout.trim()}`);
  });

  test('strided windows and several expressions per clip: kept in config.json, strided sample list, every expression trained', async (t) => {
    if (!ready) return t.skip('../shared/golden/socpp_tiny not found');
    const out = join(dir, 'grouped');
    const r = await socTrain([...common, '--out', out, '--workers', '0', '--epochs', '1', '--no-eval', '--window-sampling', 'strided', '--expressions-per-clip', '3']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /window 3, strided windows, up to 3 expressions per clip\)/);
    assert.match(r.stderr, /VOC mixes their frame queries .*VOC\.separate_batch_elements=true/, 'the note on the reference VOC at B > 1');
    const config = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8'));
    assert.equal(config.window_sampling, 'strided');
    assert.equal(config.expressions_per_clip, 3);
    const samples = JSON.parse(readFileSync(join(out, 'train_samples_metadata_win_size_3_strided.json'), 'utf8')) as [string, string[]][];
    assert.ok(samples.length > 0);
    // 6-frame videos, T = 3: windows (0, 2, 4) and (1, 3, 5)
    assert.ok(samples.every(([, f]) => ['00000,00002,00004', '00001,00003,00005'].includes(f.join())), 'strided windows');
    const ckpt = loadTorchFile(join(out, 'checkpoints', '00.pth.tar')) as Map<string, unknown>;
    const extra = ckpt.get('soc_ts') as Map<string, unknown>;
    assert.equal(extra.get('window_sampling'), 'strided');
    assert.equal(extra.get('expressions_per_clip'), 3);
    torch.disposeAll([...tensorsOf(ckpt).values()]);
    // resuming with other data options says it will not continue exactly
    const resumed = await socTrain(['--dataset', 'synth', '--data-root', join(dir, 'synth'), '--resume', join(out, 'checkpoints', '00.pth.tar'), '--max-iters', '2', '--epochs', '2', '--no-eval', '--no-progress', '--workers', '0', '--deterministic', '--expressions-per-clip', '2', '--lr-drop', '1']);
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.match(resumed.stderr, /warning: .*strided windows, 3 expression\(s\) per clip; .*strided windows, 2 expression\(s\) per clip: it will not continue exactly/);
    // --lr-drop given with --resume replaces the checkpoint's milestones: epoch 1 already runs at lr × 0.1
    assert.match(resumed.stderr, /warning: --lr-drop 1 replaces the checkpoint's milestones/);
    const next = loadTorchFile(join(out, 'checkpoints', '01.pth.tar')) as Map<string, unknown>;
    const milestones = (next.get('scheduler_state_dict') as Map<string, unknown>).get('milestones') as Map<unknown, unknown>;
    assert.deepEqual([...milestones].map(([k, v]) => [Number(k), Number(v)]), [[1, 1]]);
    const groups = (next.get('optimizer_state_dict') as Map<string, unknown>).get('param_groups') as Map<string, unknown>[];
    for (const g of groups) assert.ok(Math.abs(Number(g.get('lr')) - 0.1 * Number(g.get('initial_lr'))) <= 1e-12 * Number(g.get('initial_lr')), 'lr = initial_lr × gamma');
    torch.disposeAll([...tensorsOf(next).values()]);
    const bad = await socTrain([...common, '--out', join(dir, 'bad'), '--workers', '0', '--expressions-per-clip', '0']);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /--expressions-per-clip/);
  });

  test('resume: a run killed with SIGKILL and resumed from its last checkpoint ends bit-identical to an uninterrupted one', async (t) => {
    if (!ready) return t.skip('../shared/golden/socpp_tiny not found');
    const reference = join(dir, 'run', 'checkpoints', '02.pth.tar');
    if (!existsSync(reference)) return t.skip('needs the uninterrupted run of the previous test');
    const out = join(dir, 'killed');
    let killed = false;
    const first = await socTrain([...common, '--out', out, '--workers', '1'], (text, child) => {
      if (!killed && /saved .*00\.pth\.tar/.test(text)) {
        killed = true;
        child.kill('SIGKILL');
      }
    });
    assert.ok(killed, first.stderr);
    assert.equal(first.code, null, 'killed by a signal');
    const saved = readdirSync(join(out, 'checkpoints')).filter((f) => /^\d\d\.pth\.tar$/.test(f)).sort();
    assert.ok(saved.length >= 1 && saved.length < 3, `checkpoints after the kill: ${saved.join(', ')}`);
    assert.ok(!existsSync(join(out, 'checkpoints', '02.pth.tar')));
    const last = join(out, 'checkpoints', saved.at(-1)!);
    // resumed with the run folder's config.json and tokenizer (the defaults with --resume), and
    // another number of loader workers: the data do not depend on them
    const second = await socTrain(['--dataset', 'synth', '--data-root', join(dir, 'synth'), '--resume', last, '--deterministic', '--no-progress', '--eval-limit', '1', '--workers', '0']);
    assert.equal(second.code, 0, second.stderr);
    assert.match(second.stderr, /resumed from/);

    const a = loadTorchFile(reference) as Map<string, unknown>;
    const b = loadTorchFile(join(out, 'checkpoints', '02.pth.tar')) as Map<string, unknown>;
    const ta = tensorsOf(new Map([['model', a.get('model_state_dict')], ['optimizer', a.get('optimizer_state_dict')]]));
    const tb = tensorsOf(new Map([['model', b.get('model_state_dict')], ['optimizer', b.get('optimizer_state_dict')]]));
    assert.deepEqual([...tb.keys()], [...ta.keys()]);
    let differing = 0;
    for (const [k, x] of ta) {
      const y = tb.get(k)!;
      const xs = numbersOf(x);
      const ys = numbersOf(y);
      if (xs.some((v, i) => !Object.is(v, ys[i]))) differing++;
    }
    assert.equal(differing, 0, 'every parameter and optimizer moment bit-identical');
    assert.deepEqual((b.get('scheduler_state_dict') as Map<string, unknown>).get('last_epoch'), 3);
    torch.disposeAll([...ta.values(), ...tb.values(), ...tensorsOf(a).values(), ...tensorsOf(b).values()].filter((x) => !x.isDisposed));
  });

  test('A2D / JHMDB evaluation: COCO mAP, P@K and IoUs of the middle frames through the model with valid indices', async (t) => {
    if (!ready) return t.skip('../shared/golden/socpp_tiny not found');
    const root = join(dir, 'jhmdb');
    const [W, H] = [64, 48];
    writeText(join(root, 'jhmdb_annotation.txt'), 'video_id,query\nrun_1,the red circle\n');
    for (let i = 1; i <= 5; i++) await writeRgbPng(join(root, 'Rename_Images/run/run_1', `${String(i).padStart(5, '0')}.png`), W, H, [40 * i, 50, 60]);
    const masks = [0, 1, 2, 3].map((k) => labelMap(W, H, [[1, 10 + k, 8, 30 + k, 30]]));
    writeMat5(join(root, 'puppet_mask/run/run_1/puppet_mask.mat'), 'part_mask', [H, W, 4], columnMajorFrames(masks), true);
    const source = await ClipSource.open({ dataset: 'jhmdb', root, split: 'test', window: 3 });
    const samples = await source.samples({ seed: 1 });
    const model = ReferringSegmenter.load({ checkpoint: join(dir, 'tiny', 'weights.safetensors'), config: join(dir, 'tiny', 'config.json'), tokenizer: join(dir, 'tiny', 'tokenizer') });
    try {
      const r = await validateCentreFrames(model.model, model.tokenizer, source, samples, { shortSide: 48, maxSize: 640 });
      assert.equal(r.count, 3);
      assert.equal(r.metric?.name, 'mAP 0.5:0.95');
      for (const k of ['mAP 0.5:0.95', 'AP 0.5', 'P@0.5', 'P@0.9', 'overall_iou', 'mean_iou']) {
        const v = r.values[k]!;
        assert.ok(v === -1 || (v >= 0 && v <= 1), `${k} = ${v}`);
      }
      t.diagnostic(JSON.stringify(r.values));
    } finally {
      model.dispose();
    }
  });
});
