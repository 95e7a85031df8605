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

test('repeated iterations on the fixture batch: loss decreases, memory bounded, scopes closed', (t) => {
  const modelDir = sharedPath(t, 'golden', 'socpp_tiny');
  const trainDir = sharedPath(t, 'golden', 'socpp_tiny_train');
  if (!modelDir || !trainDir) return;
  torch.manualSeed(0);
  const config = loadSocConfig(join(modelDir, 'config.json'));
  const model = new SOC(config);
  const weights = loadStateDict(join(modelDir, 'weights.safetensors'));
  model.loadStateDict(weights);
  torch.disposeAll(weights);
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
