// The deformable transformer against the official fixtures (every transformer hook, both sampling
// cores), the fast core against the reference core (values and gradients), and the full-size
// state_dict against the official manifest.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test, type TestContext } from 'node:test';
import { Module, ModuleList } from '../../src/nn/index.js';
import { MLP } from '../../src/models/layers.js';
import {
  DeformableTransformer,
  DeformableTransformerEncoder,
  MSDeformAttn,
  msDeformAttnCoreGather,
  msDeformAttnCoreGridSample,
  type DeformSampling,
  type SpatialShapes,
} from '../../src/models/transformer/deformable_transformer.js';
import * as torch from '../../src/tensor/index.js';
import type { Tensor } from '../../src/tensor/index.js';
import { assertClose, maxAbsDiff } from '../helpers/assert.js';
import { loadTensors, need } from '../helpers/golden.js';
import { sharedPath } from '../helpers/shared.js';

const TOL = 1e-4;
const SAMPLINGS: DeformSampling[] = ['gridSample', 'gather'];

/** The two places the SOC model registers: `transformer` and the box heads it lends to the decoder. */
class TransformerWithBoxHeads extends Module {
  readonly transformer: DeformableTransformer;
  readonly bboxEmbed: ModuleList<MLP>;

  constructor(cfg: DeformConfig) {
    super();
    this.transformer = this.registerModule(
      'transformer',
      new DeformableTransformer({
        dModel: cfg.d_model,
        nHeads: cfg.nheads,
        numEncoderLayers: cfg.enc_layers,
        numDecoderLayers: cfg.dec_layers,
        dimFeedforward: cfg.dim_feedforward,
        dropout: cfg.dropout,
        numFeatureLevels: cfg.num_feature_levels,
        encNPoints: cfg.enc_n_points,
        decNPoints: cfg.dec_n_points,
      }),
    );
    const heads = Array.from({ length: cfg.dec_layers }, () => new MLP(cfg.d_model, cfg.d_model, 4, 3));
    this.bboxEmbed = this.registerModule('bbox_embed', new ModuleList(heads));
    this.transformer.decoder.setBboxEmbed(this.bboxEmbed);
  }
}

interface DeformConfig {
  d_model: number;
  nheads: number;
  enc_layers: number;
  dec_layers: number;
  dim_feedforward: number;
  dropout: number;
  num_feature_levels: number;
  enc_n_points: number;
  dec_n_points: number;
}

const HOOK = /^hooks\.(transformer[.:]|transformer$|bbox_embed\.\d+#0$)/;

interface Fixture {
  model: TransformerWithBoxHeads;
  inputs: Map<string, Tensor>;
  expected: Map<string, Tensor>;
  levels: number;
}

const fixtures = new Map<string, Fixture>();

function loadFixture(dir: string): Fixture {
  let f = fixtures.get(dir);
  if (f) return f;
  const cfg = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')).DeformTransformer as DeformConfig;
  const model = new TransformerWithBoxHeads(cfg).eval();
  // every transformer.* key (the transformer.decoder.bbox_embed.* aliases included) and bbox_embed.*
  const weights = loadTensors(join(dir, 'weights.safetensors'), (k) => k.startsWith('transformer.') || k.startsWith('bbox_embed.'));
  assert.ok([...weights.keys()].some((k) => k.startsWith('transformer.decoder.bbox_embed.')), 'fixture has the aliased keys');
  model.loadStateDict(weights);
  const all = loadTensors(join(dir, 'outputs.safetensors'), (k) => k.startsWith('hooks_in.transformer:') || HOOK.test(k));
  const inputs = new Map([...all].filter(([k]) => k.startsWith('hooks_in.')));
  const expected = new Map([...all].filter(([k]) => !k.startsWith('hooks_in.')));
  f = { model, inputs, expected, levels: cfg.num_feature_levels };
  fixtures.set(dir, f);
  return f;
}

/** Every hook this part of the model produces, under the fixture's names. */
function produce(f: Fixture): Map<string, Tensor> {
  const { model, inputs, levels } = f;
  const tr = model.transformer;
  const perLevel = (i: number) => Array.from({ length: levels }, (_, l) => need(inputs, `hooks_in.transformer:${i}.${l}`));
  const [srcs, masks, pos] = [perLevel(0), perLevel(2), perLevel(3)];
  const r = tr.forward(srcs, need(inputs, 'hooks_in.transformer:1'), masks, pos, need(inputs, 'hooks_in.transformer:4'));
  const got = new Map<string, Tensor>([
    ['hooks.transformer:0', r.hs],
    ['hooks.transformer:2', r.initReference],
    ['hooks.transformer:3', r.interReferences],
    ['hooks.transformer:6', r.interSamples],
    ['hooks.transformer.encoder', r.memory],
    ['hooks.transformer.reference_points', r.referencePointsLogits],
    ['hooks.transformer.decoder:0', r.hs],
    ['hooks.transformer.decoder:1', r.interReferences],
    ['hooks.transformer.decoder:2', r.interSamples],
  ]);
  r.memoryFeatures.forEach((m, l) => got.set(`hooks.transformer:1.${l}`, m));
  r.decoderLayers.forEach((d, l) => {
    got.set(`hooks.transformer.decoder.layers.${l}:0`, d.output);
    got.set(`hooks.transformer.decoder.layers.${l}:1`, d.samplingLocations);
    got.set(`hooks.transformer.decoder.layers.${l}:2`, d.attentionWeights);
    if (d.boxDelta) got.set(`hooks.bbox_embed.${l}#0`, d.boxDelta);
  });
  // encoder layers one by one (the encoder itself only returns the last)
  const flat = tr.flattenLevels(srcs, masks, pos);
  const ref = DeformableTransformerEncoder.getReferencePoints(flat.spatialShapes, flat.validRatios);
  let x = flat.srcFlatten;
  tr.encoder.layers.items.forEach((layer, i) => {
    x = layer.forward(x, flat.lvlPosEmbedFlatten, ref, flat.spatialShapes, flat.maskFlatten);
    got.set(`hooks.transformer.encoder.layers.${i}`, x);
  });
  return got;
}

function checkGolden(t: TestContext, name: string, sampling: DeformSampling): void {
  const dir = sharedPath(t, 'golden', name);
  if (!dir) return;
  const f = loadFixture(dir);
  f.model.transformer.setSampling(sampling);
  torch.noGrad(() =>
    torch.tidy(() => {
      const got = produce(f);
      const rows: string[] = [];
      const failed: string[] = [];
      for (const [key, want] of f.expected) {
        const have = got.get(key);
        assert.ok(have, `no tensor produced for ${key}`);
        const err = maxAbsDiff(have, want);
        rows.push(`${key} [${want.shape}] ${err.toExponential(2)}`);
        if (!(err <= TOL)) failed.push(`${key}: ${err}`);
      }
      t.diagnostic(`${name} ${sampling}: ${rows.length} hooks\n${rows.join('\n')}`);
      assert.ok(rows.length >= 20, `only ${rows.length} transformer hooks in ${name}`);
      assert.deepEqual(failed, [], `hooks over ${TOL}`);
      return null;
    }),
  );
}

describe('DeformableTransformer golden fixtures', () => {
  for (const name of ['socpp_tiny', 'soc_tiny']) {
    for (const sampling of SAMPLINGS) {
      test(`${name}: every transformer hook within ${TOL} (${sampling})`, (t) => checkGolden(t, name, sampling));
    }
  }
});

/** Random core inputs: value [N, S, M, D], locations partly outside [0, 1], softmaxed weights. */
function randomCoreInputs(shapes: SpatialShapes, o: { n: number; lq: number; m: number; d: number; p: number; dtype: 'float32' | 'float64'; seed: number }) {
  const g = new torch.Generator().manualSeed(o.seed);
  const s = shapes.reduce((a, [h, w]) => a + h * w, 0);
  const nl = shapes.length;
  const value = torch.randn([o.n, s, o.m, o.d], { generator: g, dtype: o.dtype });
  const ref = torch.rand([o.n, o.lq, 1, nl, 1, 2], { generator: g, dtype: o.dtype });
  const offsets = torch.randn([o.n, o.lq, o.m, nl, o.p, 2], { generator: g, dtype: o.dtype }).mul(0.4);
  const logits = torch.randn([o.n, o.lq, o.m, nl * o.p], { generator: g, dtype: o.dtype });
  return { value, ref, offsets, logits };
}

describe('MSDeformAttn sampling cores', () => {
  const shapes: SpatialShapes = [
    [9, 13],
    [5, 7],
    [3, 4],
    [1, 2],
  ];

  test('gather equals gridSample within 1e-5 (float32, points outside the maps included)', () => {
    torch.tidy(() => {
      const { value, ref, offsets, logits } = randomCoreInputs(shapes, { n: 3, lq: 300, m: 4, d: 8, p: 3, dtype: 'float32', seed: 7 });
      const loc = ref.add(offsets);
      const aw = logits.softmax(-1).view(3, 300, 4, 4, 3);
      const outside = loc.lt(0).logicalOr(loc.gt(1)).to('float32').mean().item();
      assert.ok(outside > 0.05, `only ${outside} of the coordinates fall outside the maps`);
      const a = msDeformAttnCoreGridSample(value, shapes, loc, aw);
      const b = msDeformAttnCoreGather(value, shapes, loc, aw);
      assert.ok(maxAbsDiff(a, b) <= 1e-5, `max abs diff ${maxAbsDiff(a, b)}`);
      return null;
    });
  });

  test('gather has the gradients of gridSample (float64: value, offsets, attention logits)', () => {
    torch.tidy(() => {
      const n = 2;
      const lq = 40;
      const m = 2;
      const p = 3;
      const inputs = randomCoreInputs(shapes, { n, lq, m, d: 4, p, dtype: 'float64', seed: 11 });
      const gradOut = torch.randn([n, lq, m * 4], { generator: new torch.Generator().manualSeed(3), dtype: 'float64' });
      const run = (core: typeof msDeformAttnCoreGather) => {
        const value = inputs.value.clone().requiresGrad_();
        const offsets = inputs.offsets.clone().requiresGrad_();
        const logits = inputs.logits.clone().requiresGrad_();
        const loc = inputs.ref.add(offsets);
        const aw = logits.softmax(-1).view(n, lq, m, shapes.length, p);
        const out = core(value, shapes, loc, aw);
        const grads = torch.grad([out.mul(gradOut).sum()], [value, offsets, logits]) as Tensor[];
        return { out, grads };
      };
      const a = run(msDeformAttnCoreGridSample);
      const b = run(msDeformAttnCoreGather);
      assert.ok(maxAbsDiff(a.out, b.out) <= 1e-12, `output ${maxAbsDiff(a.out, b.out)}`);
      ['value', 'offsets', 'attention logits'].forEach((what, i) => {
        const err = maxAbsDiff(a.grads[i]!, b.grads[i]!);
        assert.ok(a.grads[i]!.abs().max().item() > 1e-3, `${what} gradient is not trivially zero`);
        assert.ok(err <= 1e-10, `${what} gradient differs by ${err}`);
      });
      return null;
    });
  });

  test('MSDeformAttn: both cores agree with a padding mask and 4-D (box) references', () => {
    torch.tidy(() => {
      const g = new torch.Generator().manualSeed(5);
      const attn = new MSDeformAttn(32, shapes.length, 4, 3, { generator: g });
      // perturb the zero-initialised offset and weight projections so sampling is irregular
      torch.noGrad(() => {
        for (const lin of [attn.samplingOffsets, attn.attentionWeights]) lin.weight.add_(torch.randn(lin.weight.shape, { generator: g }).mul(0.3));
      });
      const s = shapes.reduce((a, [h, w]) => a + h * w, 0);
      const input = torch.randn([2, s, 32], { generator: g });
      const query = torch.randn([2, 50, 32], { generator: g });
      const mask = torch.rand([2, s], { generator: g }).lt(0.3);
      const boxes = torch.cat([torch.rand([2, 50, shapes.length, 2], { generator: g }), torch.rand([2, 50, shapes.length, 2], { generator: g }).mul(0.5)], -1);
      for (const ref of [boxes.narrow(-1, 0, 2), boxes]) {
        attn.sampling = 'gridSample';
        const a = attn.forward(query, ref, input, shapes, mask);
        attn.sampling = 'gather';
        const b = attn.forward(query, ref, input, shapes, mask);
        assert.ok(maxAbsDiff(a.output, b.output) <= 1e-5, `ref dim ${ref.shape[3]}: ${maxAbsDiff(a.output, b.output)}`);
        assert.equal(maxAbsDiff(a.samplingLocations, b.samplingLocations), 0);
      }
      attn.dispose();
      return null;
    });
  });
});

describe('DeformableTransformer training', () => {
  test('parameter gradients agree between the cores (padded frames, box refinement)', () => {
    const cfg: DeformConfig = { d_model: 32, nheads: 4, enc_layers: 2, dec_layers: 2, dim_feedforward: 16, dropout: 0.1, num_feature_levels: 3, enc_n_points: 2, dec_n_points: 3 };
    const model = new TransformerWithBoxHeads(cfg).eval(); // eval: dropout off, so both runs are deterministic
    const g = new torch.Generator().manualSeed(1);
    torch.noGrad(() => {
      for (const p of model.parameters()) p.add_(torch.randn(p.shape, { generator: g }).mul(0.1));
    });
    const shapes: [number, number][] = [[8, 10], [4, 5], [2, 3]];
    const srcs = shapes.map(([h, w]) => torch.randn([2, 32, h, w], { generator: g }).keep());
    const pos = shapes.map(([h, w]) => torch.randn([2, 32, h, w], { generator: g }).keep());
    // frame 1 is padded on the right and bottom at every level
    const masks = shapes.map(([h, w]) => {
      const m = torch.zeros([2, h, w], { dtype: 'bool' });
      m.select(0, 1).narrow(0, h - 1, 1).fill_(1);
      m.select(0, 1).narrow(1, w - 1, 1).fill_(1);
      return m.keep();
    });
    const tgt = torch.randn([1, 2, 4, 32], { generator: g }).keep();
    const queryEmbed = torch.randn([4, 32], { generator: g }).keep();
    const grads = (sampling: DeformSampling) =>
      torch.tidy(() => {
        model.transformer.setSampling(sampling);
        model.zeroGrad();
        const r = model.transformer.forward(srcs, tgt, masks, pos, queryEmbed);
        r.hs.square().mean().add(r.memoryFeatures[0]!.square().mean()).backward();
        return [...model.namedParameters()].map(([name, p]) => [name, p.grad] as const);
      });
    const a = grads('gridSample');
    const b = grads('gather');
    let compared = 0;
    for (const [i, [name, ga]] of a.entries()) {
      const gb = b[i]![1];
      assert.equal(ga === null, gb === null, `${name}: gradient presence differs`);
      if (!ga || !gb) continue;
      const err = maxAbsDiff(ga, gb);
      const scale = ga.abs().max().item();
      assert.ok(err <= 1e-4 * Math.max(1, scale), `${name}: gradients differ by ${err} (scale ${scale})`);
      compared++;
    }
    // everything but the box heads (their refinements are detached) receives a gradient
    assert.ok(compared >= a.length - 6 * cfg.dec_layers, `only ${compared} of ${a.length} parameters have gradients`);
    assert.ok(a.some(([n, gr]) => n.includes('sampling_offsets.weight') && gr && gr.abs().max().item() > 0), 'offsets learn');
    model.dispose();
    for (const t of [...srcs, ...pos, ...masks, tgt, queryEmbed]) t.dispose();
  });
});

describe('valid ratios and encoder reference points', () => {
  test('a padded map gives (valid w / w, valid h / h) and reference points inside the valid region', () => {
    torch.tidy(() => {
      // 4×6 map whose last row and last two columns are padding
      const mask = torch.zeros([1, 4, 6], { dtype: 'bool' });
      mask.narrow(1, 3, 1).fill_(1);
      mask.narrow(2, 4, 2).fill_(1);
      const ratios = DeformableTransformer.getValidRatio(mask);
      assertClose(ratios, [[4 / 6, 3 / 4]], 1e-7);
      const ref = DeformableTransformerEncoder.getReferencePoints([[4, 6]], ratios.unsqueeze(1)); // [1, 24, 1, 2]
      // cell (y=1, x=2): centre (2.5/(6·4/6), 1.5/(4·3/4)) of the valid region, then scaled back by the ratios
      assertClose(ref.select(1, 1 * 6 + 2), [[(2.5 / 4) * (4 / 6), (1.5 / 3) * (3 / 4)]], 1e-6);
      return null;
    });
  });
});

describe('DeformableTransformer state_dict', () => {
  test('full-size keys, order and shapes equal the transformer.* entries of the swin-t manifest', (t) => {
    const path = sharedPath(t, 'golden', 'param_manifest_swin_t.json');
    if (!path) return;
    const manifest = JSON.parse(readFileSync(path, 'utf8')) as { DeformTransformer: DeformConfig; entries: { name: string; shape: number[]; dtype: string }[] };
    const model = new TransformerWithBoxHeads(manifest.DeformTransformer);
    const want = manifest.entries.filter((e) => e.name.startsWith('transformer.'));
    const have = [...model.stateDict()].filter(([k]) => k.startsWith('transformer.'));
    assert.deepEqual(
      have.map(([k]) => k),
      want.map((e) => e.name),
    );
    for (const [i, [k, v]] of have.entries()) {
      assert.deepEqual(v.shape, want[i]!.shape, k);
      assert.equal(v.dtype, want[i]!.dtype, k);
    }
    const sd = model.stateDict();
    assert.equal(sd.get('transformer.decoder.bbox_embed.1.layers.2.weight'), sd.get('bbox_embed.1.layers.2.weight'), 'aliased heads share tensors');
    model.dispose();
  });

  test('initialisation follows the reference scheme', () => {
    const tr = new DeformableTransformer({ dModel: 64, nHeads: 8, numEncoderLayers: 2, numDecoderLayers: 2, dimFeedforward: 32, generator: new torch.Generator().manualSeed(0) });
    const attn = tr.encoder.layers.at(0).selfAttn;
    assert.equal(attn.samplingOffsets.weight.abs().max().item(), 0);
    assert.equal(attn.attentionWeights.weight.abs().max().item(), 0);
    // head 1 of 8 points at 45°: (1, 1), times (p + 1)
    const bias = attn.samplingOffsets.bias!.view(8, 4, 4, 2);
    assert.deepEqual(bias.select(0, 1).select(0, 0).toArray(), [[1, 1], [2, 2], [3, 3], [4, 4]]);
    // head 2 points at 90°: (0, 1), times (p + 1), at every level
    assertClose(bias.select(0, 2).select(0, 3), [[0, 1], [0, 2], [0, 3], [0, 4]], 1e-6);
    assert.equal(tr.referencePoints.bias!.abs().max().item(), 0);
    // clones start from the same biases, as deepcopy does
    assert.equal(maxAbsDiff(tr.encoder.layers.at(0).linear1.bias!, tr.encoder.layers.at(1).linear1.bias!), 0);
    tr.dispose();
  });
});
