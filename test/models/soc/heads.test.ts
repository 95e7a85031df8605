// FPN spatial decoder, controller + dynamic mask head inputs, BMRW and query fusion against golden hooks.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { FPNSpatialDecoder, bmrw, computeLocations, dynamicParamSizes } from '../../../src/models/soc/heads.js';
import { CrossAttentionLayer, MLP } from '../../../src/models/layers.js';
import * as torch from '../../../src/tensor/index.js';
import { assertClose, maxAbsDiff } from '../../helpers/assert.js';
import { loadTensors, need, withoutPrefix } from '../../helpers/golden.js';
import { sharedPath } from '../../helpers/shared.js';

describe('SOC heads on socpp_tiny', () => {
  test('FPN spatial decoder, controller, BMRW, query fusion', (t) => {
    const dir = sharedPath(t, 'golden', 'socpp_tiny');
    if (!dir) return;
    const cfg = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
    const d = cfg.DeformTransformer.d_model;
    const w = loadTensors(join(dir, 'weights.safetensors'));
    const o = loadTensors(join(dir, 'outputs.safetensors'));
    torch.noGrad(() => {
      const fpn = new FPNSpatialDecoder(d, [d, d, cfg.backbone_num_channels[0]], cfg.mask_kernels_dim).eval();
      fpn.loadStateDict(withoutPrefix(w, 'spatial_decoder.'));
      const y = fpn.forward(need(o, 'hooks_in.spatial_decoder:0'), [0, 1, 2].map((i) => need(o, `hooks_in.spatial_decoder:1.${i}`)));
      assert.ok(maxAbsDiff(y, need(o, 'hooks.spatial_decoder')) <= 1e-4);

      const sizes = dynamicParamSizes(cfg.mask_kernels_dim, cfg.dynamic_mask_channels, cfg.controller_layers, cfg.rel_coord);
      assert.deepEqual(sizes, { weights: cfg.dynamic_mask_weight_nums, biases: cfg.dynamic_mask_bias_nums });
      const controller = new MLP(d, d, cfg.controller_num_gen_params, 3).eval();
      controller.loadStateDict(withoutPrefix(w, 'controller.'));
      for (const k of [0, 1]) {
        assert.ok(maxAbsDiff(controller.forward(need(o, `hooks_in.controller#${k}:0`)), need(o, `hooks.controller#${k}`)) <= 1e-4);
      }

      const refined = bmrw(need(o, 'hooks_in.method.SOC.BMRW:x'), need(o, 'hooks_in.method.SOC.BMRW:y'));
      assert.ok(maxAbsDiff(refined, need(o, 'hooks.method.SOC.BMRW')) <= 1e-4, `BMRW ${maxAbsDiff(refined, need(o, 'hooks.method.SOC.BMRW'))}`);

      const fusion = new CrossAttentionLayer(d, cfg.query_fusion_nhead_hardcoded, 0.1).eval();
      fusion.loadStateDict(withoutPrefix(w, 'query_fusion.'));
      const fused = fusion.forward(need(o, 'hooks_in.query_fusion:0'), need(o, 'hooks_in.query_fusion:1'));
      assert.ok(maxAbsDiff(fused, need(o, 'hooks.query_fusion')) <= 1e-4);
    });
  });
});

test('cell-centre locations at stride 4', () => {
  assertClose(computeLocations(2, 3, 4), [[2, 2], [6, 2], [10, 2], [2, 6], [6, 6], [10, 6]], 0);
});
