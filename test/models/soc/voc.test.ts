// VOC (SOC) and NewVOC (SOC++) against the golden hooks of the official code.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { VOC } from '../../../src/models/soc/voc.js';
import * as torch from '../../../src/tensor/index.js';
import type { Tensor } from '../../../src/tensor/index.js';
import { maxAbsDiff } from '../../helpers/assert.js';
import { loadTensors, need, withoutPrefix } from '../../helpers/golden.js';
import { sharedPath } from '../../helpers/shared.js';

for (const [fixture, variant] of [['socpp_tiny', 'socpp'], ['soc_tiny', 'soc']] as const) {
  describe(`VOC on ${fixture}`, () => {
    test('matches every recorded VOC hook within 1e-4', (t) => {
      const dir = sharedPath(t, 'golden', fixture);
      if (!dir) return;
      const cfg = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')).VOC;
      const voc = new VOC({
        variant,
        inputDim: cfg.input_dim,
        numFrameQueries: cfg.num_frame_queries,
        numQueries: cfg.num_queries,
        nheads: cfg.nheads,
        dimFeedforward: cfg.dim_feedforward,
        encLayers: cfg.enc_layers,
        decLayers: cfg.dec_layers,
        windowSize: cfg.window_size,
      }).eval();
      const weights = loadTensors(join(dir, 'weights.safetensors'), (n) => n.startsWith('voc.'));
      voc.loadStateDict(withoutPrefix(weights, 'voc.'));
      const out = loadTensors(join(dir, 'outputs.safetensors'), (n) => n.includes('voc'));
      const recorded = new Map<string, Tensor>();
      const result = torch.noGrad(() =>
        voc.forward(need(out, 'hooks_in.voc:0'), need(out, 'hooks_in.voc:1'), {
          record: (name, x) => recorded.set(name, x.clone().keep()),
        }),
      );
      let compared = 0;
      for (const [name, expected] of out) {
        if (name.startsWith('hooks_in.voc:')) continue;
        const key = name.replace(/^hooks(_in)?\.voc\.?/, '').replace(/^hooks(_in)?\./, '');
        const actual = name === 'hooks.voc' ? result : recorded.get(key);
        assert.ok(actual, `no value recorded for ${name} (key ${key})`);
        const err = maxAbsDiff(actual, expected);
        assert.ok(err <= 1e-4, `${name}: max abs error ${err}`);
        compared++;
        if (process.env.SOC_VERBOSE) console.log(`${fixture} ${name} ${err.toExponential(2)}`);
      }
      assert.ok(compared >= (variant === 'socpp' ? 10 : 1), `compared ${compared} tensors`);
    });
  });
}

// separate_batch_elements (soc-ts): every element of a B > 1 forward gets what a B = 1 forward
// gives it, while the reference's reshape mixes frames and batch elements.
for (const variant of ['socpp', 'soc'] as const) {
  describe(`VOC (${variant}) with separated batch elements`, () => {
    const [L, T, B, Q, C] = [3, 4, 3, 5, 32];
    const build = (separateBatchElements: boolean) => {
      torch.manualSeed(7);
      const config = { variant, inputDim: C, numFrameQueries: Q, numQueries: Q, nheads: 4, dimFeedforward: 64, encLayers: 1, decLayers: 2, windowSize: 0 };
      return new VOC({ ...config, separateBatchElements }).eval();
    };
    const reference = build(false);
    const separated = build(true);
    torch.manualSeed(11);
    const frameQuery = torch.randn([L, T, B, Q, C]).keep();
    const language = torch.randn([B, C]).keep();
    const Lout = variant === 'soc' ? 1 : L; // SOC's VOC keeps the last level in eval mode
    after(() => {
      torch.disposeAll([frameQuery, language]);
      reference.dispose();
      separated.dispose();
    });

    test('each element equals its own B = 1 forward, which both orders agree on', () => {
      torch.tidy(() => {
        const batched = torch.noGrad(() => separated.forward(frameQuery, language));
        assert.deepEqual(batched.shape, [Lout, B, Q, C]);
        for (let b = 0; b < B; b++) {
          const fq = frameQuery.narrow(2, b, 1);
          const lang = language.narrow(0, b, 1);
          const alone = torch.noGrad(() => separated.forward(fq, lang));
          const aloneReference = torch.noGrad(() => reference.forward(fq, lang));
          assert.equal(maxAbsDiff(alone, aloneReference), 0, `element ${b}: the two orders differ at B = 1`);
          const err = maxAbsDiff(batched.narrow(1, b, 1), alone);
          assert.ok(err <= 1e-5, `element ${b}: batched vs alone max abs error ${err}`);
        }
      });
    });

    test("the reference's order mixes the elements when B > 1", () => {
      torch.tidy(() => {
        const mixed = torch.noGrad(() => reference.forward(frameQuery, language));
        const alone = torch.noGrad(() => reference.forward(frameQuery.narrow(2, 1, 1), language.narrow(0, 1, 1)));
        assert.ok(maxAbsDiff(mixed.narrow(1, 1, 1), alone) > 1e-3);
      });
    });
  });
}
