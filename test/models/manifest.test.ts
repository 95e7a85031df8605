// Full-size modules built with random weights have exactly the keys, shapes and dtypes (and the
// order) of the official SOC++ state dict (golden/param_manifest_swin_{t,b}.json).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { Joiner, swinConfig } from '../../src/models/backbone/video_swin.js';
import { ROBERTA_BASE_CONFIG, RobertaConfigSchema, RobertaModel } from '../../src/models/text/roberta.js';
import { FeatureResizer } from '../../src/models/text/text_projection.js';
import type { Module } from '../../src/nn/index.js';
import { sharedPath } from '../helpers/shared.js';

interface Entry {
  name: string;
  shape: number[];
  dtype: string;
}

function manifest(path: string, prefix: string): Entry[] {
  const m = JSON.parse(readFileSync(path, 'utf8')) as { entries: Entry[] };
  return m.entries.filter((e) => e.name.startsWith(prefix)).map(({ name, shape, dtype }) => ({ name, shape, dtype }));
}

function entries(module: Module, prefix: string): Entry[] {
  return [...module.stateDict(prefix)].map(([name, t]) => ({ name, shape: t.shape, dtype: t.dtype }));
}

for (const which of ['t', 'b'] as const) {
  describe(`param_manifest_swin_${which}.json`, () => {
    test(`video-swin-${which} backbone: backbone.* names, shapes, dtypes and order`, (t) => {
      const path = sharedPath(t, 'golden', `param_manifest_swin_${which}.json`);
      if (!path) return;
      const want = manifest(path, 'backbone.');
      const joiner = new Joiner(swinConfig(`video-swin-${which}`), 256);
      try {
        assert.deepEqual(entries(joiner, 'backbone.'), want);
      } finally {
        joiner.dispose();
      }
      t.diagnostic(`${want.length} backbone entries`);
    });

    test('roberta-base text_encoder.* and txt_proj.*', (t) => {
      const path = sharedPath(t, 'golden', `param_manifest_swin_${which}.json`);
      if (!path) return;
      const json = JSON.parse(readFileSync(path, 'utf8')) as { text_encoder_config: unknown };
      // the manifest's own config.json values give the same model as our roberta-base preset
      assert.deepEqual(RobertaConfigSchema.parse(json.text_encoder_config), ROBERTA_BASE_CONFIG);
      const model = new RobertaModel(ROBERTA_BASE_CONFIG);
      const proj = new FeatureResizer(768, 256, 0.1);
      try {
        assert.deepEqual(entries(model, 'text_encoder.'), manifest(path, 'text_encoder.'));
        assert.deepEqual(entries(proj, 'txt_proj.'), manifest(path, 'txt_proj.'));
      } finally {
        model.dispose();
        proj.dispose();
      }
    });
  });
}
