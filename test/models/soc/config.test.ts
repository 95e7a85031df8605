// Model configuration: reference YAML layout, presets, fixture configs, overrides and validation.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadSocConfig, presetNames, swinConfigOf } from '../../../src/models/soc/config.js';
import { UsageError } from '../../../src/errors.js';
import { sharedPath, tempDir } from '../../helpers/shared.js';

// The reference's configs/*.yaml layout: every key holds {desc?, value}; sections hold a mapping value.
const REFERENCE_STYLE_YAML = `
# * Train
lr:
  desc: main model learning rate
  value: 2e-5
with_box_refine:
  value: True
num_proxy_query:
  value: 20
DeformTransformer:
  desc: "the parameter of the MultiFormer"
  value:
    enc_layers: 3
      # desc: Number of encoding layers in the transformer
    dec_layers: 3
    dim_feedforward: 2048
    d_model: 256
    dropout: 0.1
    nheads: 8
    num_queries: 20
    num_feature_levels: 4
    dec_n_points: 4
    enc_n_points: 4
    two_stage: False
freeze_text_encoder:
  value: false
VOC:
  value:
    input_dim: 256
    window_size: 0
    num_frame_queries: 20
    num_frames: 8
    num_queries: 20
    nheads: 8
    dim_feedforward: 2048
    enc_layers: 3
    dec_layers: 3
dataset_name:
  value: ref_youtube_vos
train_short_size:
  value: 360
`;

test('reads the reference YAML {desc, value} layout, keeping training keys', (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'refer_youtube_vos.yaml');
  writeFileSync(file, REFERENCE_STYLE_YAML);
  const c = loadSocConfig(file, { backbone: 'video-swin-b' });
  assert.equal(c.variant, 'socpp');
  assert.equal(c.backbone, 'video-swin-b');
  assert.equal(swinConfigOf(c).embedDim, 128);
  assert.equal(c.DeformTransformer.num_queries, 20);
  assert.equal(c.freeze_text_encoder, false);
  assert.equal(c.lr, 2e-5);
  assert.equal(c.dataset_name, 'ref_youtube_vos');
  assert.equal(c.train_short_size, 360);
});

test('presets and dotted overrides', () => {
  assert.deepEqual(presetNames(), ['socpp-swin-t', 'socpp-swin-b', 'soc-swin-t', 'soc-swin-b']);
  const soc = loadSocConfig('soc-swin-t');
  assert.equal(soc.variant, 'soc');
  assert.equal(soc.use_proxymmf, false);
  const c = loadSocConfig('socpp-swin-t', { 'DeformTransformer.num_queries': '10', 'VOC.num_queries': 10, 'VOC.num_frame_queries': 10 });
  assert.equal(c.DeformTransformer.num_queries, 10);
  assert.equal(c.DeformTransformer.d_model, 256);
});

test('invalid values give errors naming the keys', () => {
  assert.throws(
    () => loadSocConfig('socpp-swin-t', { 'DeformTransformer.num_queries': 10 }),
    (e: unknown) => e instanceof UsageError && /VOC\.num_queries: VOC\.num_queries and num_frame_queries must equal DeformTransformer\.num_queries \(10\)/.test((e as Error).message),
  );
  assert.throws(() => loadSocConfig('socpp-swin-t', { backbone: 'resnet50' }), /backbone: unknown Video-Swin backbone 'resnet50'/);
  assert.throws(() => loadSocConfig('socpp-swin-t', { use_proxymmf: false }), /use_proxymmf: SOC\+\+ needs use_proxymmf: true/);
  assert.throws(() => loadSocConfig('no-such-preset'), /neither a preset \(socpp-swin-t, socpp-swin-b, soc-swin-t, soc-swin-b\) nor a readable file/);
});

test('golden fixture configs map to the right variant and dimensions', (t) => {
  const dir = sharedPath(t, 'golden');
  if (!dir) return;
  const pp = loadSocConfig(join(dir, 'socpp_tiny', 'config.json'));
  assert.equal(pp.variant, 'socpp');
  assert.equal(swinConfigOf(pp).embedDim, 8);
  assert.deepEqual(swinConfigOf(pp).windowSize, [2, 7, 7]);
  assert.equal(pp.text_encoder_config.hidden_size, 32);
  assert.equal(pp.num_proxy_query, 3);
  const soc = loadSocConfig(join(dir, 'soc_tiny', 'config.json'));
  assert.equal(soc.variant, 'soc');
  assert.equal(soc.use_proxymmf, false);
});
