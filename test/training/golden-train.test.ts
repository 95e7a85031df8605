// The training path against the official code's training fixture (issue 8's acceptance test):
// matcher, losses, gradients, clipping and two AdamW steps, for every case of the folder; plus the
// trainer checkpoint's optimizer/scheduler state and the dropout neutralisation it relies on.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { loadSafetensors, loadStateDict, loadTorchFile, readSafetensorsHeader } from '../../src/io/checkpoint.js';
import { loadSocConfig } from '../../src/models/soc/config.js';
import { SOC } from '../../src/models/soc/soc.js';
import * as torch from '../../src/tensor/index.js';
import { disposeAll } from '../../src/tensor/index.js';
import { replayGoldenTrain } from '../../src/training/golden-train.js';
import { AdamW, MultiStepLR, clipGradNorm, trainerParamGroups } from '../../src/training/optim.js';
import { disableStochasticModules, stochasticModules } from '../../src/training/stochastic.js';
import { REPO_ROOT, sharedPath } from '../helpers/shared.js';

describe('training fixture socpp_tiny_train', () => {
  test('replay: every stored tensor within tolerance (losses 1e-5, gradients 1e-4 rel L2, parameters 0.05·lr + 2 ulp)', (t) => {
    const trainDir = sharedPath(t, 'golden', 'socpp_tiny_train');
    const modelDir = sharedPath(t, 'golden', 'socpp_tiny');
    if (!trainDir || !modelDir) return;
    const report = replayGoldenTrain(trainDir, { modelDir });
    assert.deepEqual(report.rows.filter((r) => r.status === 'fail').map((r) => `${r.name}: ${r.err} ${r.note ?? ''}`), []);
    assert.deepEqual(report.rows.filter((r) => r.status === 'missing').map((r) => r.name), [], 'every stored tensor produced');
    const count = (g: string) => report.rows.filter((r) => r.group === g).length;
    // 339 trainable tensors: raw and clipped gradients, parameters after steps 1 and 2
    assert.equal(count('grad'), 2 * 339);
    assert.equal(count('param'), 2 * 339);
    assert.ok(count('loss') >= 5 * 2 * 12, `loss rows ${count('loss')}`);
    assert.ok(count('matcher') >= 5 * 2 * 6, `matcher rows ${count('matcher')}`);
    const maxOf = (g: string) => Math.max(...report.rows.filter((r) => r.group === g).map((r) => r.relErr));
    t.diagnostic(`compared ${report.compared}; max rel err: loss ${maxOf('loss').toExponential(2)}, grad ${maxOf('grad').toExponential(2)}, param ${maxOf('param').toExponential(2)}`);
  });

  test('`soc check-golden-train` passes: one row per tensor, last line max_rel_err=… compared=… failed=0', (t) => {
    const trainDir = sharedPath(t, 'golden', 'socpp_tiny_train');
    const modelDir = sharedPath(t, 'golden', 'socpp_tiny');
    if (!trainDir || !modelDir) return;
    const r = spawnSync(process.execPath, [join(REPO_ROOT, 'bin', 'soc.js'), 'check-golden-train', trainDir, '--model-dir', modelDir], {
      cwd: REPO_ROOT,
      encoding: 'utf8',
      env: { ...process.env, SOC_FROM_SOURCE: '1' },
    });
    assert.equal(r.status, 0, r.stderr + r.stdout.split('\n').filter((l) => !l.startsWith('ok')).join('\n'));
    const lines = r.stdout.trim().split('\n');
    const last = lines.at(-1)!;
    assert.match(last, /^max_rel_err=\S+ compared=\d+ failed=0$/);
    const compared = Number(/compared=(\d+)/.exec(last)![1]);
    assert.equal(lines.length - 1, compared, 'one row per compared tensor');
    assert.ok(lines.slice(0, -1).every((l) => l.startsWith('ok ')));
  });
});

describe('clipping and AdamW from the stored gradients', () => {
  test('clip_grad_norm_ and AdamW step 1 reproduce the fixture bit for bit', (t) => {
    const trainDir = sharedPath(t, 'golden', 'socpp_tiny_train');
    const modelDir = sharedPath(t, 'golden', 'socpp_tiny');
    if (!trainDir || !modelDir) return;
    const model = new SOC(loadSocConfig(join(modelDir, 'config.json')));
    const weights = loadStateDict(join(modelDir, 'weights.safetensors'));
    model.loadStateDict(weights);
    disposeAll(weights);
    const grads = loadSafetensors(join(trainDir, 'grads.safetensors'));
    const after = loadSafetensors(join(trainDir, 'params_after.safetensors'), { names: readSafetensorsHeader(join(trainDir, 'params_after.safetensors')).entries.map((e) => e.name).filter((n) => n.startsWith('step1.')) });
    const losses = loadSafetensors(join(trainDir, 'losses.safetensors'));
    const trainable = [...model.namedParameters()].filter(([, p]) => p.requiresGrad);
    for (const [n, p] of trainable) p.grad = grads.get(`grad.${n}`)!.clone();
    const r = clipGradNorm(model.parameters(), 0.1);
    assert.equal(r.totalNorm.item(), losses.get('step1.grad_total_norm')!.item(), 'total norm');
    assert.equal(r.clipCoefClamped.item(), losses.get('step1.grad_clip_coef_clamped')!.item(), 'clip coefficient');
    const differing = (a: torch.Tensor, b: torch.Tensor) => torch.tidy(() => a.ne(b).sum().item());
    let clippedOff = 0;
    for (const [n, p] of trainable) clippedOff += differing(p.grad!, grads.get(`grad_clipped.${n}`)!);
    assert.equal(clippedOff, 0, 'clipped gradients');

    // AdamW from exactly the stored clipped gradients
    for (const [n, p] of trainable) p.grad = grads.get(`grad_clipped.${n}`)!.clone();
    const opt = new AdamW(trainerParamGroups(model, { lr: 2e-5, lrBackbone: 2e-6, textEncoderLr: 2e-6, weightDecay: 1e-4 }));
    opt.step();
    let paramsOff = 0;
    for (const [n, p] of trainable) paramsOff += differing(p, after.get(`step1.param.${n}`)!);
    assert.equal(paramsOff, 0, 'parameters after step 1');
    for (const m of [grads, after, losses]) disposeAll(m);
    opt.dispose();
    model.dispose();
  });
});

describe('trainer checkpoint state (forward fixture checkpoint.pth)', () => {
  test('optimizer_state_dict and scheduler_state_dict load into the trainer groups of the tiny model', (t) => {
    const dir = sharedPath(t, 'golden', 'socpp_tiny');
    if (!dir) return;
    const model = new SOC(loadSocConfig(join(dir, 'config.json')));
    const ckpt = loadTorchFile(join(dir, 'checkpoint.pth')) as Map<string, unknown>;
    const opt = new AdamW(trainerParamGroups(model, { lr: 1, lrBackbone: 1, textEncoderLr: 1, weightDecay: 0 }));
    assert.deepEqual(opt.paramGroups.map((g) => g.params.length), [222, 117, 0]);
    opt.loadStateDict(ckpt.get('optimizer_state_dict'));
    assert.deepEqual(opt.paramGroups.map((g) => g.lr), [2e-5, 2e-6, 2e-6]);
    assert.deepEqual(opt.paramGroups.map((g) => g.weightDecay), [1e-4, 1e-4, 1e-4]);
    assert.equal(opt.state.size, 0);
    const sched = new MultiStepLR(opt, [5], 0.5);
    sched.loadStateDict(ckpt.get('scheduler_state_dict'));
    assert.deepEqual([...sched.milestones], [[20, 1]]);
    assert.equal(sched.gamma, 0.1);
    assert.equal(sched.lastEpoch, 0);
    assert.deepEqual(sched.baseLrs, [2e-5, 2e-6, 2e-6]);
    for (const v of ckpt.values()) if (v instanceof Map) for (const x of v.values()) (x as { dispose?: () => void }).dispose?.();
    model.dispose();
  });
});

describe('stochastic modules', () => {
  test("the fixture's neutralised modules are exactly the tiny model's stochastic ones; unknown paths are refused", (t) => {
    const trainDir = sharedPath(t, 'golden', 'socpp_tiny_train');
    const modelDir = sharedPath(t, 'golden', 'socpp_tiny');
    if (!trainDir || !modelDir) return;
    const meta = JSON.parse(readFileSync(join(trainDir, 'train.json'), 'utf8')) as { dropout_disabled: Record<string, [string, number][]> };
    const model = new SOC(loadSocConfig(join(modelDir, 'config.json'))).train();
    const listed = Object.entries(meta.dropout_disabled).flatMap(([kind, l]) => l.map(([path, p]) => ({ kind, path, p })));
    const ours = stochasticModules(model);
    assert.deepEqual(
      ours.filter((s) => s.p > 0).map((s) => s.path).sort(),
      listed.filter((s) => s.p > 0).map((s) => s.path).sort(),
      'every module that draws random numbers in train mode is one the fixture neutralised',
    );
    for (const s of listed) {
      const mine = ours.find((o) => o.path === s.path)!;
      assert.equal(mine.kind, s.kind, s.path);
      assert.ok(Math.abs(mine.p - s.p) < 1e-7, `${s.path}: p ${mine.p} vs ${s.p}`);
    }
    assert.deepEqual(disableStochasticModules(model, listed.map((s) => s.path)), []);
    assert.equal(model.training, true, 'the model stays in train mode');
    assert.throws(() => disableStochasticModules(model, ['voc.no_such.dropout']), /no dropout/);
    model.dispose();
  });
});
