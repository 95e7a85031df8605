// VOC (SOC) and NewVOC (SOC++) against the golden hooks of the official code.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
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
