// The complete SOC++ and SOC models against the official code's fixtures (every stored tensor),
// full-size state-dict manifests, and memory over repeated forwards.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { replayGolden } from '../../../src/inference/golden.js';
import { loadSocConfig } from '../../../src/models/soc/config.js';
import { SOC } from '../../../src/models/soc/soc.js';
import { loadSafetensors } from '../../../src/io/checkpoint.js';
import * as torch from '../../../src/tensor/index.js';
import { sharedPath } from '../../helpers/shared.js';

for (const fixture of ['socpp_tiny', 'soc_tiny']) {
  test(`${fixture}: every stored tensor is reproduced within 1e-4 (check-golden)`, (t) => {
    const dir = sharedPath(t, 'golden', fixture);
    if (!dir) return;
    const report = replayGolden(dir);
    const failed = report.rows.filter((r) => r.status === 'fail');
    assert.deepEqual(failed, [], 'no failed rows');
    const missing = report.rows.filter((r) => r.status === 'missing').map((r) => r.name);
    assert.deepEqual(missing, [], 'every stored tensor produced');
    assert.ok(report.compared >= 130, `compared ${report.compared}`);
    assert.ok(report.maxAbsErr <= 1e-4, `max abs error ${report.maxAbsErr}`);
    t.diagnostic(`${fixture}: compared ${report.compared}, max abs error ${report.maxAbsErr.toExponential(2)}`);
  });
}

describe('full-size models', () => {
  for (const [preset, file] of [
    ['socpp-swin-t', 'param_manifest_swin_t.json'],
    ['socpp-swin-b', 'param_manifest_swin_b.json'],
  ] as const) {
    test(`${preset}: state dict equals the official manifest (names, order, shapes, dtypes, aliases)`, (t) => {
      const path = sharedPath(t, 'golden', file);
      if (!path) return;
      const manifest = JSON.parse(readFileSync(path, 'utf8')) as { entries: { name: string; shape: number[]; dtype: string; same_tensor_as?: string[] }[] };
      const model = new SOC(loadSocConfig(preset));
      try {
        const sd = model.stateDict();
        assert.deepEqual([...sd.keys()], manifest.entries.map((e) => e.name));
        for (const e of manifest.entries) {
          const tensor = sd.get(e.name)!;
          assert.deepEqual(tensor.shape, e.shape, e.name);
          assert.equal(tensor.dtype, e.dtype.replace(/^torch\./, ''), e.name);
          for (const alias of e.same_tensor_as ?? []) assert.equal(sd.get(alias), tensor, `${e.name} aliases ${alias}`);
        }
      } finally {
        model.dispose();
      }
    });
  }
});

test('100 consecutive forwards of the tiny model keep memory flat', (t) => {
  const dir = sharedPath(t, 'golden', 'socpp_tiny');
  if (!dir) return;
  const model = new SOC(loadSocConfig(join(dir, 'config.json'))).eval();
  model.loadStateDict(loadSafetensors(join(dir, 'weights.safetensors')));
  const inputs = loadSafetensors(join(dir, 'inputs.safetensors'));
  const run = () =>
    torch.tidy(() =>
      torch.noGrad(() =>
        model.forward({
          video: inputs.get('video')!,
          videoMask: inputs.get('video_mask')!,
          inputIds: inputs.get('input_ids')!,
          attentionMask: inputs.get('attention_mask')!,
          targetSizes: inputs.get('target_size')!,
        }).predCls.sum().item(),
      ),
    );
  const first = run();
  for (let i = 0; i < 10; i++) run();
  const before = process.memoryUsage().rss;
  for (let i = 0; i < 100; i++) assert.equal(run(), first);
  const grownMb = (process.memoryUsage().rss - before) / 2 ** 20;
  t.diagnostic(`RSS change over 100 forwards: ${grownMb.toFixed(1)} MB`);
  assert.ok(grownMb < 30, `resident memory grew by ${grownMb.toFixed(1)} MB`);
});

test('clips longer than 64 frames go through the transformer in chunks with the same result', (t) => {
  const dir = sharedPath(t, 'golden', 'socpp_tiny');
  if (!dir) return;
  const model = new SOC(loadSocConfig(join(dir, 'config.json'))).eval();
  model.loadStateDict(loadSafetensors(join(dir, 'weights.safetensors')));
  const T = 66;
  const g = new torch.Generator(3);
  const inputs = {
    video: torch.randn([T, 1, 3, 32, 48], { generator: g }).keep(),
    videoMask: torch.zeros([T, 1, 32, 48], { dtype: 'bool' }).keep(),
    inputIds: torch.tensor([[0, 23, 41, 7, 2]]).keep(),
    attentionMask: torch.tensor([[1, 1, 1, 1, 1]]).keep(),
    targetSizes: torch.tensor([[32, 48]]).keep(),
  };
  let chunks = 0;
  const chunked = torch.noGrad(() => model.forward(inputs, { hook: (k) => void (k === 'hooks.transformer:0' && chunks++) }));
  assert.equal(chunks, 0, 'chunked runs expose no per-call transformer hooks');
  model.transformerChunkFrames = Number.POSITIVE_INFINITY;
  const whole = torch.noGrad(() => model.forward(inputs));
  // Frames are independent in the transformer; only float32 rounding of differently sized batches
  // differs (mask logits reach ~60, so their absolute tolerance is larger).
  for (const [k, tol] of [['predMasks', 2e-4], ['predCls', 1e-5], ['predBoxes', 1e-5], ['predLogit', 1e-5]] as const) {
    const err = chunked[k].sub(whole[k]).abs().max().item();
    assert.ok(err <= tol, `${k}: ${err}`);
  }
  assert.deepEqual(chunked.predMasks.shape, [T, 1, 5, 8, 12]);
});
