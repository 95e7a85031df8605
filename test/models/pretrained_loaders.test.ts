// Loading the pretrained files users download: the Kinetics Video-Swin checkpoint (written here in
// the mmaction2 layout, since the real file cannot be downloaded in CI) and a Hugging Face RoBERTa
// folder (config.json + model.safetensors / pytorch_model.bin).
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import * as torch from '../../src/tensor/index.js';
import type { Tensor } from '../../src/tensor/index.js';
import { saveTorchFile, writeSafetensors } from '../../src/io/checkpoint.js';
import { FileFormatError } from '../../src/errors.js';
import { StateDictError } from '../../src/nn/index.js';
import { SwinTransformer3D, swinConfig } from '../../src/models/backbone/video_swin.js';
import { convertKineticsSwinState, kineticsExpectedShapes, loadKineticsSwin } from '../../src/models/backbone/kinetics.js';
import { RobertaConfigSchema, RobertaModel } from '../../src/models/text/roberta.js';
import {
  IncompleteRobertaWeightsError,
  MissingPretrainedFilesError,
  hfRobertaKey,
  loadRobertaFromFolder,
  readRobertaConfig,
} from '../../src/models/text/roberta_hf.js';
import { maxAbsDiff } from '../helpers/assert.js';
import { tempDir } from '../helpers/shared.js';

// ------------------------------------------------------------------------------------------ Kinetics

const tinySwin = () => swinConfig({ embedDim: 8, depths: [2, 2, 2, 2], numHeads: [1, 2, 4, 8], windowSize: [2, 7, 7] });

/**
 * An mmaction2-style checkpoint dict for the weights of `src`: `backbone.*` in the reference's
 * SwinTransformer3D naming (per-stage `downsample`, a final `norm`), a temporal patch kernel of 2,
 * and a `cls_head` classifier, plus the `meta` entry mmaction2 writes.
 */
function kineticsCheckpoint(src: SwinTransformer3D, opts: { drop?: string } = {}): { ckpt: Map<string, unknown>; patch2: Tensor } {
  const sd = new Map<string, unknown>();
  const c0 = src.config.embedDim;
  const patch2 = torch.randn([c0, 3, 2, 4, 4]).keep();
  for (const [k, v] of src.stateDict()) {
    const key = `backbone.${k.replace(/^downsamples\.(\d+)\./, 'layers.$1.downsample.')}`;
    sd.set(key, k === 'patch_embed.proj.weight' ? patch2 : v);
  }
  const last = src.numChannels.at(-1)!;
  sd.set('backbone.norm.weight', torch.randn([last]).keep());
  sd.set('backbone.norm.bias', torch.randn([last]).keep());
  sd.set('cls_head.fc_cls.weight', torch.randn([400, last]).keep());
  sd.set('cls_head.fc_cls.bias', torch.randn([400]).keep());
  if (opts.drop) sd.delete(opts.drop);
  const ckpt = new Map<string, unknown>([
    ['meta', new Map<string, unknown>([['epoch', 30], ['mmaction_version', '0.15.0']])],
    ['state_dict', sd],
  ]);
  return { ckpt, patch2 };
}

describe('Kinetics Video-Swin checkpoint', () => {
  test('a checkpoint in the mmaction2 layout loads: prefix stripped, patch weight summed over time, downsample renamed, norm and cls_head dropped', (t) => {
    const dir = tempDir(t);
    const src = new SwinTransformer3D(tinySwin());
    const { ckpt, patch2 } = kineticsCheckpoint(src);
    const path = join(dir, 'swin_tiny_patch244_window877_kinetics400_1k.pth');
    saveTorchFile(path, ckpt);

    const dst = new SwinTransformer3D(tinySwin());
    loadKineticsSwin(path, dst);
    const got = dst.stateDict();
    assert.deepEqual([...got.keys()], [...src.stateDict().keys()]);
    torch.tidy(() => {
      const want = patch2.sum(2, { keepdim: true });
      assert.deepEqual(got.get('patch_embed.proj.weight')!.shape, [8, 3, 1, 4, 4]);
      assert.equal(maxAbsDiff(got.get('patch_embed.proj.weight')!, want), 0);
      for (const [k, v] of src.stateDict()) {
        if (k === 'patch_embed.proj.weight') continue;
        assert.equal(maxAbsDiff(got.get(k)!, v), 0, k);
      }
      assert.ok(got.has('downsamples.2.reduction.weight'));
      assert.ok(![...got.keys()].some((k) => k.startsWith('norm.') || k.includes('downsample.')));
    });
    src.dispose();
    dst.dispose();
    patch2.dispose();
  });

  test('the mapping function on an in-memory dict returns SOC names and validates like a strict load', () => {
    const src = new SwinTransformer3D(tinySwin());
    const model = new SwinTransformer3D(tinySwin());
    const { ckpt, patch2 } = kineticsCheckpoint(src);
    const sd = ckpt.get('state_dict') as Map<string, Tensor>;
    const out = convertKineticsSwinState(sd, model);
    assert.deepEqual([...out.keys()].sort(), [...model.stateDict().keys()].sort());
    out.get('patch_embed.proj.weight')!.dispose();

    // a missing key, an extra key and a wrong shape are each reported like PyTorch's strict load
    const noNorm = new Map(sd);
    noNorm.delete('backbone.norm.weight');
    assert.throws(() => convertKineticsSwinState(noNorm, model, 'ck.pth'), (e: Error) => e instanceof FileFormatError && /Missing key\(s\) in state_dict: "norm\.weight"/.test(e.message));
    const extra = new Map(sd);
    extra.set('backbone.layers.3.downsample.reduction.weight', torch.zeros([1]).keep());
    assert.throws(() => convertKineticsSwinState(extra, model, 'ck.pth'), /Unexpected key\(s\) in state_dict: "layers\.3\.downsample\.reduction\.weight"/);
    const noBackbone = new Map([...sd].filter(([k]) => k.startsWith('cls_head')));
    assert.throws(() => convertKineticsSwinState(noBackbone, model, 'ck.pth'), /no 'backbone\.\*' weights/);
    const wider = new SwinTransformer3D(swinConfig({ embedDim: 16, depths: [2, 2, 2, 2], numHeads: [1, 2, 4, 8], windowSize: [2, 7, 7] }));
    assert.throws(
      () => convertKineticsSwinState(sd, wider, 'ck.pth'),
      (e: Error) => /size mismatch for patch_embed\.proj\.weight: copying a param with shape \[8,3,1,4,4\]/.test(e.message) && /embed_dim 16/.test(e.message),
    );
    for (const m of [src, model, wider]) m.dispose();
    patch2.dispose();
  });

  test('file-level errors: no state_dict entry, missing file', (t) => {
    const dir = tempDir(t);
    const model = new SwinTransformer3D(tinySwin());
    const p = join(dir, 'bad.pth');
    saveTorchFile(p, new Map([['model', new Map([['x', torch.zeros([1])]])]]));
    assert.throws(() => loadKineticsSwin(p, model), (e: Error) => e instanceof FileFormatError && /state_dict/.test(e.message));
    assert.throws(() => loadKineticsSwin(join(dir, 'absent.pth'), model), /no such file/);
    model.dispose();
  });

  test('swin-t: the keys a Kinetics checkpoint must hold (reference naming, spec parameters.md §4)', () => {
    const m = new SwinTransformer3D(swinConfig('swin-t'));
    const shapes = kineticsExpectedShapes(m);
    assert.deepEqual(shapes.get('patch_embed.proj.weight'), [96, 3, 1, 4, 4]);
    assert.deepEqual(shapes.get('layers.0.downsample.reduction.weight'), [192, 384]);
    assert.deepEqual(shapes.get('layers.2.downsample.norm.weight'), [1536]);
    assert.deepEqual(shapes.get('layers.2.blocks.5.attn.relative_position_bias_table'), [2535, 12]);
    assert.deepEqual(shapes.get('layers.3.blocks.1.attn.relative_position_index'), [392, 392]);
    assert.deepEqual(shapes.get('norm.weight'), [768]);
    assert.ok(!shapes.has('layers.3.downsample.reduction.weight'));
    m.dispose();
  });
});

// ------------------------------------------------------------------------------------------ RoBERTa folder

const TINY_ROBERTA = {
  architectures: ['RobertaForMaskedLM'],
  model_type: 'roberta',
  vocab_size: 64,
  hidden_size: 32,
  num_hidden_layers: 2,
  num_attention_heads: 4,
  intermediate_size: 64,
  hidden_act: 'gelu',
  hidden_dropout_prob: 0.1,
  attention_probs_dropout_prob: 0.1,
  max_position_embeddings: 40,
  type_vocab_size: 1,
  initializer_range: 0.02,
  layer_norm_eps: 1e-5,
  pad_token_id: 1,
  bos_token_id: 0,
  eos_token_id: 2,
  transformers_version: '4.24.0',
};

/** An HF checkpoint of `src` as RobertaForMaskedLM saves it: `roberta.` prefix, an lm_head, optionally no pooler / position_ids. */
function hfState(src: RobertaModel, o: { pooler: boolean; positionIds: boolean; prefix: boolean }): Map<string, Tensor> {
  const out = new Map<string, Tensor>();
  for (const [k, v] of src.stateDict()) {
    if (!o.pooler && k.startsWith('pooler.')) continue;
    if (!o.positionIds && k === 'embeddings.position_ids') continue;
    out.set(o.prefix ? `roberta.${k}` : k, v);
  }
  out.set('lm_head.dense.weight', torch.randn([32, 32]).keep());
  out.set('lm_head.bias', torch.randn([64]).keep());
  return out;
}

function writeFolder(dir: string, config: object = TINY_ROBERTA): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'config.json'), JSON.stringify(config, null, 2));
}

const IDS = () => torch.tensor([[0, 23, 41, 7, 58, 12, 2], [0, 9, 30, 47, 2, 1, 1]]);
const MASK = () => torch.tensor([[1, 1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 1, 0, 0]]);

describe('Hugging Face RoBERTa folder', () => {
  test('model.safetensors with roberta. keys, lm_head, no pooler, no position_ids: encoder weights load, pooler stays random with a note', (t) => {
    const dir = join(tempDir(t), 'pretrained_roberta');
    writeFolder(dir);
    const src = new RobertaModel(RobertaConfigSchema.parse(TINY_ROBERTA)).eval();
    writeSafetensors(join(dir, 'model.safetensors'), hfState(src, { pooler: false, positionIds: false, prefix: true }));
    const { model, notes, config } = loadRobertaFromFolder(dir);
    assert.equal(config.hidden_size, 32);
    assert.equal(model.training, false);
    assert.ok(notes.some((n) => /no pooler weights/.test(n)), notes.join('\n'));
    assert.ok(notes.some((n) => /lm_head/.test(n)));
    torch.noGrad(() =>
      torch.tidy(() => {
        const a = src.forward(IDS(), MASK());
        const b = model.forward(IDS(), MASK());
        assert.equal(maxAbsDiff(a.lastHiddenState, b.lastHiddenState), 0);
        assert.ok(maxAbsDiff(a.poolerOutput, b.poolerOutput) > 0, 'pooler must keep its own random init');
        assert.deepEqual(model.stateDict().get('embeddings.position_ids')!.toNumbers(), Array.from({ length: 40 }, (_, i) => i));
      }),
    );
    src.dispose();
    model.dispose();
  });

  test('pytorch_model.bin (torch.save zip) with plain keys, pooler and position_ids: everything loads exactly', (t) => {
    const dir = tempDir(t);
    writeFolder(dir);
    const src = new RobertaModel(RobertaConfigSchema.parse(TINY_ROBERTA)).eval();
    saveTorchFile(join(dir, 'pytorch_model.bin'), hfState(src, { pooler: true, positionIds: true, prefix: false }));
    const { model, notes } = loadRobertaFromFolder(dir);
    assert.ok(!notes.some((n) => /pooler/.test(n)));
    torch.noGrad(() =>
      torch.tidy(() => {
        const a = src.forward(IDS(), MASK());
        const b = model.forward(IDS(), MASK());
        assert.equal(maxAbsDiff(a.lastHiddenState, b.lastHiddenState), 0);
        assert.equal(maxAbsDiff(a.poolerOutput, b.poolerOutput), 0);
      }),
    );
    src.dispose();
    model.dispose();
  });

  test('model.safetensors is preferred when both weight files are present', (t) => {
    const dir = tempDir(t);
    writeFolder(dir);
    const a = new RobertaModel(RobertaConfigSchema.parse(TINY_ROBERTA));
    const b = new RobertaModel(RobertaConfigSchema.parse(TINY_ROBERTA));
    writeSafetensors(join(dir, 'model.safetensors'), hfState(a, { pooler: true, positionIds: false, prefix: true }));
    saveTorchFile(join(dir, 'pytorch_model.bin'), hfState(b, { pooler: true, positionIds: true, prefix: true }));
    const { model } = loadRobertaFromFolder(dir);
    const w = 'encoder.layer.1.output.dense.weight';
    assert.equal(maxAbsDiff(model.stateDict().get(w)!, a.stateDict().get(w)!), 0);
    for (const m of [a, b, model]) m.dispose();
  });

  test('RobertaModel.loadStateDict accepts a state dict with or without embeddings.position_ids', () => {
    const cfg = RobertaConfigSchema.parse(TINY_ROBERTA);
    const src = new RobertaModel(cfg);
    const dst = new RobertaModel(cfg);
    const without = new Map([...src.stateDict()].filter(([k]) => k !== 'embeddings.position_ids'));
    dst.loadStateDict(without);
    dst.loadStateDict(src.stateDict());
    assert.throws(() => dst.loadStateDict(new Map([...without].filter(([k]) => !k.startsWith('pooler.')))), StateDictError);
    src.dispose();
    dst.dispose();
  });

  test('errors: missing files, invalid config.json, incomplete or mismatched weights', (t) => {
    const root = tempDir(t);
    const empty = join(root, 'empty');
    mkdirSync(empty);
    assert.throws(
      () => loadRobertaFromFolder(empty),
      (e: Error) =>
        e instanceof MissingPretrainedFilesError &&
        e.message.includes(`download roberta-base's config.json and pytorch_model.bin from the Hugging Face Hub into ${empty}; soc-ts never downloads`),
    );
    const onlyConfig = join(root, 'config-only');
    writeFolder(onlyConfig);
    assert.throws(() => loadRobertaFromFolder(onlyConfig), (e: Error) => e instanceof MissingPretrainedFilesError && /pytorch_model\.bin/.test(e.message));

    const badConfig = join(root, 'bad-config');
    writeFolder(badConfig, { ...TINY_ROBERTA, hidden_size: 'big' });
    assert.throws(() => readRobertaConfig(badConfig), (e: Error) => e instanceof FileFormatError && /hidden_size/.test(e.message));
    const bert = join(root, 'bert');
    writeFolder(bert, { ...TINY_ROBERTA, model_type: 'bert' });
    assert.throws(() => readRobertaConfig(bert), /model_type/);

    const src = new RobertaModel(RobertaConfigSchema.parse(TINY_ROBERTA));
    const partial = join(root, 'partial');
    writeFolder(partial);
    const st = hfState(src, { pooler: true, positionIds: true, prefix: true });
    st.delete('roberta.encoder.layer.1.output.dense.weight');
    writeSafetensors(join(partial, 'model.safetensors'), st);
    assert.throws(
      () => loadRobertaFromFolder(partial),
      (e: Error) => e instanceof IncompleteRobertaWeightsError && /encoder\.layer\.1\.output\.dense\.weight/.test(e.message),
    );

    const mismatch = join(root, 'mismatch');
    writeFolder(mismatch, { ...TINY_ROBERTA, intermediate_size: 48 });
    writeSafetensors(join(mismatch, 'model.safetensors'), hfState(src, { pooler: true, positionIds: false, prefix: true }));
    assert.throws(() => loadRobertaFromFolder(mismatch), (e: Error) => e instanceof StateDictError && /size mismatch for encoder\.layer\.0\.intermediate\.dense\.weight/.test(e.message));
    src.dispose();
  });

  test('sequences longer than the position table are refused with a clear error', () => {
    const m = new RobertaModel(RobertaConfigSchema.parse(TINY_ROBERTA));
    torch.tidy(() => {
      assert.doesNotThrow(() => m.forward(torch.zeros([1, 38], { dtype: 'int64' })));
      assert.throws(() => m.forward(torch.zeros([1, 39], { dtype: 'int64' })), /at most 38 tokens/);
    });
    m.dispose();
  });

  test('HF key mapping', () => {
    assert.equal(hfRobertaKey('roberta.encoder.layer.3.attention.self.query.weight'), 'encoder.layer.3.attention.self.query.weight');
    assert.equal(hfRobertaKey('embeddings.LayerNorm.gamma'), 'embeddings.LayerNorm.weight');
    assert.equal(hfRobertaKey('roberta.embeddings.LayerNorm.beta'), 'embeddings.LayerNorm.bias');
    assert.equal(hfRobertaKey('lm_head.layer_norm.weight'), null);
    assert.equal(hfRobertaKey('classifier.dense.weight'), null);
  });
});
