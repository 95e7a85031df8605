// Whole training iterations (train mode, dropouts active, the default deformable core): the loss
// goes down on a repeated batch, and resident memory stays bounded over iterations.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadSafetensors, loadStateDict } from '../../src/io/checkpoint.js';
import { loadSocConfig } from '../../src/models/soc/config.js';
import { SOC } from '../../src/models/soc/soc.js';
import * as torch from '../../src/tensor/index.js';
import { buildCriterion } from '../../src/training/criterion.js';
import { targetsFrom } from '../../src/training/golden-train.js';
import { AdamW, clipGradNorm, trainerParamGroups } from '../../src/training/optim.js';
import { sharedPath } from '../helpers/shared.js';

/** The tiny fixture model with its official weights. */
function fixtureModel(modelDir: string, overrides: Record<string, unknown> = {}): { config: ReturnType<typeof loadSocConfig>; model: SOC } {
  const config = loadSocConfig(join(modelDir, 'config.json'), overrides);
  const model = new SOC(config);
  const weights = loadStateDict(join(modelDir, 'weights.safetensors'));
  model.loadStateDict(weights);
  torch.disposeAll(weights);
  return { config, model };
}

test('repeated iterations on the fixture batch: loss decreases, memory bounded, scopes closed', (t) => {
  const modelDir = sharedPath(t, 'golden', 'socpp_tiny');
  const trainDir = sharedPath(t, 'golden', 'socpp_tiny_train');
  if (!modelDir || !trainDir) return;
  torch.manualSeed(0);
  const { config, model } = fixtureModel(modelDir);
  model.train();
  const criterion = buildCriterion(config);
  // a large learning rate so that a few steps visibly lower the loss
  const optimizer = new AdamW(trainerParamGroups(model, { lr: 1e-3, lrBackbone: 1e-4, textEncoderLr: 1e-4, weightDecay: 1e-4 }));
  const inputs = loadSafetensors(join(modelDir, 'inputs.safetensors'));
  const targetTensors = loadSafetensors(join(trainDir, 'targets.safetensors'));
  const targets = targetsFrom(targetTensors, 'targets.');
  const batch = {
    video: inputs.get('video')!,
    videoMask: inputs.get('video_mask')!,
    inputIds: inputs.get('input_ids')!,
    attentionMask: inputs.get('attention_mask')!,
    targetSizes: torch.tensor(targets[0]!.map((x) => x.size), { dtype: 'int64' }).keep(),
  };
  const iterate = () =>
    torch.tidy(() => {
      const out = model.forward(batch);
      const { total } = criterion.forward(out, targets);
      const loss = total.item();
      optimizer.zeroGrad();
      total.backward();
      clipGradNorm(model.parameters(), 0.1);
      optimizer.step();
      return loss;
    });
  const losses = [iterate(), iterate(), iterate()];
  const before = process.memoryUsage().rss;
  for (let i = 0; i < 6; i++) losses.push(iterate());
  const grownMb = (process.memoryUsage().rss - before) / 2 ** 20;
  t.diagnostic(`losses ${losses.map((l) => l.toFixed(3)).join(' ')}; RSS grew ${grownMb.toFixed(1)} MB over 6 iterations`);
  assert.ok(losses.every(Number.isFinite));
  assert.ok(losses.at(-1)! < losses[0]!, 'the loss goes down on a repeated batch');
  assert.ok(grownMb < 40, `resident memory grew by ${grownMb.toFixed(1)} MB`);
  assert.equal(torch.scopeDepth(), 0);
  optimizer.dispose();
  model.dispose();
  torch.disposeAll([inputs, targetTensors]);
});

test('several sentences on one clip (frameIndex): the outputs and gradients of that clip repeated once per sentence', (t) => {
  const modelDir = sharedPath(t, 'golden', 'socpp_tiny');
  if (!modelDir) return;
  const { model } = fixtureModel(modelDir);
  model.eval();
  const inputs = loadSafetensors(join(modelDir, 'inputs.safetensors'));
  try {
    const video = inputs.get('batch2.video')!; // [T, 2, 3, H, W]: clips a and b
    const videoMask = inputs.get('batch2.video_mask')!;
    const T = video.shape[0]!;
    // sentences 0, 1, 0 on clips a, a, b
    const clipOf = [0, 0, 1];
    const sentenceOf = [0, 1, 0];
    const run = (shared: boolean) =>
      torch.tidy(() => {
        model.zeroGrad();
        const pick = (x: torch.Tensor, dim: number, idx: number[]) => x.indexSelect(dim, torch.tensor(idx, { dtype: 'int64' }));
        const out = model.forward({
          video: shared ? video : pick(video, 1, clipOf),
          videoMask: shared ? videoMask : pick(videoMask, 1, clipOf),
          inputIds: pick(inputs.get('batch2.input_ids')!, 0, sentenceOf),
          attentionMask: pick(inputs.get('batch2.attention_mask')!, 0, sentenceOf),
          targetSizes: pick(inputs.get('batch2.target_size')!, 0, clipOf),
          frameIndex: shared ? torch.tensor(clipOf.flatMap((g) => Array.from({ length: T }, (_, i) => g * T + i)), { dtype: 'int64' }) : null,
        });
        out.predMasks.mean().add(out.predCls.sum()).add(out.predBoxes.sum()).backward();
        const grads = new Map<string, number[]>();
        for (const [n, p] of model.namedParameters()) if (p.grad && (n.startsWith('backbone.') || n.startsWith('text_encoder.embeddings'))) grads.set(n, p.grad.toNumbers());
        return { masks: out.predMasks.toNumbers(), cls: out.predCls.toNumbers(), boxes: out.predBoxes.toNumbers(), grads };
      });
    const a = run(true);
    const b = run(false);
    const maxDiff = (x: number[], y: number[]) => x.reduce((m, v, i) => Math.max(m, Math.abs(v - y[i]!)), 0);
    assert.equal(a.masks.length, b.masks.length);
    assert.ok(maxDiff(a.masks, b.masks) < 1e-4, `masks differ by ${maxDiff(a.masks, b.masks)}`);
    assert.ok(maxDiff(a.cls, b.cls) < 1e-4);
    assert.ok(maxDiff(a.boxes, b.boxes) < 1e-5);
    assert.ok(a.grads.size > 10);
    for (const [n, g] of a.grads) {
      const h = b.grads.get(n)!;
      const scale = Math.max(1e-8, ...h.map(Math.abs));
      assert.ok(maxDiff(g, h) / scale < 1e-4, `gradient of ${n}: relative difference ${maxDiff(g, h) / scale}`);
    }
  } finally {
    torch.disposeAll(inputs);
    model.dispose();
  }
});

test('VOC.separate_batch_elements: each sentence of a several-sentence batch gets its own B = 1 outputs', (t) => {
  const modelDir = sharedPath(t, 'golden', 'socpp_tiny');
  if (!modelDir) return;
  const { model } = fixtureModel(modelDir, { 'VOC.separate_batch_elements': true });
  model.eval();
  const inputs = loadSafetensors(join(modelDir, 'inputs.safetensors'));
  try {
    const video = inputs.get('batch2.video')!; // [T, 2, 3, H, W]: clips a and b
    const T = video.shape[0]!;
    const clipOf = [0, 0, 1]; // sentences 0, 1, 0 on clips a, a, b
    const sentenceOf = [0, 1, 0];
    const pick = (x: torch.Tensor, dim: number, idx: number[]) => x.indexSelect(dim, torch.tensor(idx, { dtype: 'int64' }));
    // clips: the encoded clips; sentenceClips / sentences: each sentence's clip and text
    const forward = (clips: number[], sentenceClips: number[], sentences: number[], frameIndex: torch.Tensor | null) =>
      torch.noGrad(() =>
        model.forward({
          video: pick(video, 1, clips),
          videoMask: pick(inputs.get('batch2.video_mask')!, 1, clips),
          inputIds: pick(inputs.get('batch2.input_ids')!, 0, sentences),
          attentionMask: pick(inputs.get('batch2.attention_mask')!, 0, sentences),
          targetSizes: pick(inputs.get('batch2.target_size')!, 0, sentenceClips),
          frameIndex,
        }),
      );
    torch.tidy(() => {
      const index = torch.tensor(clipOf.flatMap((g) => Array.from({ length: T }, (_, i) => g * T + i)), { dtype: 'int64' });
      const batched = forward([0, 1], clipOf, sentenceOf, index);
      for (let b = 0; b < clipOf.length; b++) {
        const alone = forward([clipOf[b]!], [clipOf[b]!], [sentenceOf[b]!], null);
        for (const key of ['predMasks', 'predCls', 'predBoxes'] as const) {
          const err = batched[key].narrow(1, b, 1).sub(alone[key]).abs().max().item();
          const scale = batched[key].abs().max().item(); // mask logits reach ~56: compare relatively
          assert.ok(err <= 1e-5 * scale, `sentence ${b}: ${key} differs from its B = 1 forward by ${err} (largest value ${scale})`);
        }
      }
    });
  } finally {
    torch.disposeAll(inputs);
    model.dispose();
  }
});
