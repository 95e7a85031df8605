// Video-Swin backbone + Joiner against the golden fixtures (hooks.backbone*), and the pure helpers.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test, type TestContext } from 'node:test';
import * as torch from '../../src/tensor/index.js';
import type { Tensor } from '../../src/tensor/index.js';
import {
  Joiner,
  SwinTransformer3D,
  WindowAttention3D,
  computeMask,
  getWindowSize,
  relativePositionIndex,
  swinConfig,
  windowPartition,
  windowReverse,
} from '../../src/models/backbone/video_swin.js';
import { PositionEmbeddingSine2D, resizePaddingMask } from '../../src/models/backbone/position_encoding.js';
import { loadTensors, need } from '../helpers/golden.js';
import { maxAbsDiff } from '../helpers/assert.js';
import { sharedPath } from '../helpers/shared.js';

const TOL = 1e-4;

function stripPrefix(m: Map<string, Tensor>, prefix: string): Map<string, Tensor> {
  const out = new Map<string, Tensor>();
  for (const [k, v] of m) if (k.startsWith(prefix)) out.set(k.slice(prefix.length), v);
  return out;
}

interface Fixture {
  dir: string;
  config: { backbone_swin_config: Record<string, unknown>; DeformTransformer: { d_model: number }; position_embedding_2d: { num_pos_feats: number } };
}

function fixture(t: TestContext, name: string): Fixture | null {
  const dir = sharedPath(t, 'golden', name);
  if (!dir) return null;
  return { dir, config: JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) };
}

function buildJoiner(fx: Fixture): Joiner {
  const cfg = swinConfig(fx.config.backbone_swin_config);
  const joiner = new Joiner(cfg, fx.config.DeformTransformer.d_model);
  const weights = loadTensors(join(fx.dir, 'weights.safetensors'), (n) => n.startsWith('backbone.'));
  joiner.loadStateDict(stripPrefix(weights, 'backbone.'));
  torch.disposeAll(weights);
  return joiner.eval();
}

for (const name of ['socpp_tiny', 'soc_tiny']) {
  describe(`Video-Swin backbone on golden/${name}`, () => {
    test('every hooks.backbone* tensor within 1e-4 (single clip)', (t) => {
      const fx = fixture(t, name);
      if (!fx) return;
      const joiner = buildJoiner(fx);
      const inputs = loadTensors(join(fx.dir, 'inputs.safetensors'), (n) => n === 'video' || n === 'video_mask');
      const golden = loadTensors(join(fx.dir, 'outputs.safetensors'), (n) => n.startsWith('hooks.backbone'));
      assert.ok(golden.size >= 20, `expected the backbone hooks, found ${golden.size}`);
      const seen = new Map<string, Tensor>();
      const errors: Record<string, number> = {};
      torch.noGrad(() =>
        torch.tidy(() => {
          const out = joiner.forward(need(inputs, 'video'), need(inputs, 'video_mask'), (n, v) => seen.set(`hooks.backbone.${n}`, v.clone().keep()));
          out.features.forEach((f, i) => {
            seen.set(`hooks.backbone:0.${i}.tensors`, f.tensors.clone().keep());
            seen.set(`hooks.backbone:0.${i}.mask`, f.mask.clone().keep());
            seen.set(`hooks.backbone:1.${i}`, out.pos[i]!.clone().keep());
          });
        }),
      );
      for (const [key, want] of golden) {
        const got = seen.get(key);
        assert.ok(got, `no output for ${key}`);
        assert.deepEqual(got.shape, want.shape, `${key} shape`);
        if (want.dtype === 'bool') {
          assert.equal(got.dtype, 'bool', key);
          assert.deepEqual(got.toNumbers(), want.toNumbers(), key);
        } else {
          errors[key] = maxAbsDiff(got, want);
          assert.ok(errors[key]! <= TOL, `${key}: max abs diff ${errors[key]}`);
        }
      }
      const groups = new Map<string, number>();
      for (const [k, e] of Object.entries(errors)) {
        const g = k.replace(/\.\d+$/, '.*').replace(/:0\.\d+\./, ':0.*.').replace(/:1\.\d+$/, ':1.*');
        groups.set(g, Math.max(groups.get(g) ?? 0, e));
      }
      t.diagnostic(`max abs error per hook group: ${[...groups].map(([g, e]) => `${g} ${e.toExponential(2)}`).join(', ')}`);
      torch.disposeAll([...seen.values(), ...golden.values(), ...inputs.values()]);
      joiner.dispose();
    });

    test('window attention formed one window at a time gives the same hooks', (t) => {
      const fx = fixture(t, name);
      if (!fx) return;
      const joiner = buildJoiner(fx);
      const inputs = loadTensors(join(fx.dir, 'inputs.safetensors'), (n) => n === 'video' || n === 'video_mask');
      const golden = loadTensors(join(fx.dir, 'outputs.safetensors'), (n) => /^hooks\.backbone\.0\.body\.layers\.\d$/.test(n));
      const saved = WindowAttention3D.chunkBytes;
      WindowAttention3D.chunkBytes = 1;
      try {
        torch.noGrad(() =>
          torch.tidy(() => {
            joiner.forward(need(inputs, 'video'), need(inputs, 'video_mask'), (n, v) => {
              const want = golden.get(`hooks.backbone.${n}`);
              if (want) assert.ok(maxAbsDiff(v, want) <= TOL, n);
            });
          }),
        );
      } finally {
        WindowAttention3D.chunkBytes = saved;
      }
      assert.equal(golden.size, 4);
      torch.disposeAll([...golden.values(), ...inputs.values()]);
      joiner.dispose();
    });

    test('padded batch2 clip: shapes, masks and padded-region encodings', (t) => {
      const fx = fixture(t, name);
      if (!fx) return;
      const joiner = buildJoiner(fx);
      const inputs = loadTensors(join(fx.dir, 'inputs.safetensors'), (n) => n.startsWith('batch2.') || n === 'video');
      const video = need(inputs, 'batch2.video');
      const mask = need(inputs, 'batch2.video_mask');
      const [T, B, , H, W] = video.shape as number[];
      const sizes = need(inputs, 'batch2.target_size').toArray() as [number, number][];
      // legacy nearest: source index ⌊dst · (in/out)⌋ with a float32 scale
      const expectedMask = (b: number, h: number, w: number) =>
        Array.from({ length: h }, (_, i) =>
          Array.from({ length: w }, (_, j) => Math.floor(i * Math.fround(H! / h)) >= sizes[b]![0] || Math.floor(j * Math.fround(W! / w)) >= sizes[b]![1]),
        );
      torch.noGrad(() =>
        torch.tidy(() => {
          const out = joiner.forward(video, mask);
          assert.deepEqual(out.mask.shape, [B! * T!, H, W]);
          const chans = joiner.numChannels;
          let h = Math.ceil(H! / 4);
          let w = Math.ceil(W! / 4);
          out.features.forEach((f, i) => {
            assert.deepEqual(f.tensors.shape, [B! * T!, chans[i], h, w], `level ${i}`);
            assert.deepEqual(f.mask.shape, [B! * T!, h, w]);
            assert.deepEqual(out.pos[i]!.shape, [B! * T!, fx.config.DeformTransformer.d_model, h, w]);
            // frame row b·T + t carries video b's padding, resized with the legacy nearest rule
            const got = f.mask.toArray() as boolean[][][];
            for (let r = 0; r < B! * T!; r++) assert.deepEqual(got[r], expectedMask(Math.floor(r / T!), h, w), `mask of frame row ${r} at level ${i}`);
            h = Math.ceil(h / 2);
            w = Math.ceil(w / 2);
          });
          // batch element 0 of the padded pass equals the single-clip pass (Swin mixes no batch elements)
          const single = joiner.forward(need(inputs, 'video'), torch.zeros([T!, 1, H!, W!], { dtype: 'bool' }));
          single.features.forEach((f, i) => {
            const err = maxAbsDiff(out.features[i]!.tensors.slice(0, 0, T!), f.tensors);
            assert.ok(err <= 1e-5, `level ${i}: batch element 0 differs by ${err}`);
          });
        }),
      );
      torch.disposeAll([...inputs.values()]);
      joiner.dispose();
    });
  });
}

describe('Video-Swin helpers', () => {
  test('getWindowSize shrinks windows and zeroes shifts on small inputs', () => {
    assert.deepEqual(getWindowSize([8, 90, 160], [8, 7, 7], [4, 3, 3]), { window: [8, 7, 7], shift: [0, 3, 3] });
    assert.deepEqual(getWindowSize([36, 5, 160], [8, 7, 7], [4, 3, 3]), { window: [8, 5, 7], shift: [4, 0, 3] });
    assert.deepEqual(getWindowSize([3, 7, 7], [8, 7, 7], [4, 3, 3]), { window: [3, 7, 7], shift: [0, 0, 0] });
  });

  test('windowPartition / windowReverse round trip and ordering', () => {
    torch.tidy(() => {
      const x = torch.arange(0, 2 * 4 * 6 * 4 * 3).float().view(2, 4, 6, 4, 3);
      const w = windowPartition(x, [2, 3, 2]);
      assert.deepEqual(w.shape, [2 * 2 * 2 * 2, 12, 3]);
      // first window, second token = (d 0, h 0, w 1)
      assert.deepEqual(w.select(0, 0).select(0, 1).toNumbers(), x.select(0, 0).select(0, 0).select(0, 0).select(0, 1).toNumbers());
      const back = windowReverse(w.view(-1, 2, 3, 2, 3), [2, 3, 2], 2, 4, 6, 4);
      assert.equal(maxAbsDiff(back, x), 0);
    });
  });

  test('relative position index of the (8,7,7) window: 392×392, values in [0, 2535)', () => {
    torch.tidy(() => {
      const idx = relativePositionIndex([8, 7, 7]);
      assert.deepEqual(idx.shape, [392, 392]);
      assert.equal(idx.dtype, 'int64');
      assert.equal(idx.min().item(), 0);
      assert.equal(idx.max().item(), 2534);
      // token 0 = (0,0,0), token 391 = (7,6,6): offset (−7,−6,−6) → index 0; reversed → 2534
      assert.equal(idx.select(0, 0).select(0, 391).item(), 0);
      assert.equal(idx.select(0, 391).select(0, 0).item(), 2534);
      // (d_i−d_j+7)·169 + (h_i−h_j+6)·13 + (w_i−w_j+6) on the diagonal
      assert.equal(idx.select(0, 100).select(0, 100).item(), 7 * 169 + 6 * 13 + 6);
    });
  });

  test('computeMask: −100 exactly between tokens of different shift regions', () => {
    torch.tidy(() => {
      // 1-D along W: padded 14, window 7, shift 3 → regions [0,7) [7,11) [11,14)
      const m = computeMask(1, 1, 14, [1, 1, 7], [0, 0, 3]);
      assert.deepEqual(m.shape, [2, 7, 7]);
      assert.equal(m.select(0, 0).abs().sum().item(), 0);
      const second = m.select(0, 1).toArray() as number[][];
      for (let i = 0; i < 7; i++) for (let j = 0; j < 7; j++) assert.equal(second[i]![j], (i < 4) === (j < 4) ? 0 : -100);
    });
  });

  test('nearest mask resize and 2-D sine encoding of a padded mask', () => {
    torch.tidy(() => {
      const mask = torch.zeros([1, 6, 8], { dtype: 'bool' });
      mask.slice(1, 4).fill_(1);
      mask.slice(2, 5).fill_(1);
      const small = resizePaddingMask(mask, [3, 3]);
      // rows ⌊i·6/3⌋ = 0, 2, 4; cols ⌊j·8/3⌋ = 0, 2, 5
      assert.deepEqual(small.toArray(), [[[false, false, true], [false, false, true], [true, true, true]]]);
      const pe = new PositionEmbeddingSine2D(4, { normalize: true }).forward(mask);
      assert.deepEqual(pe.shape, [1, 8, 6, 8]);
      // y channel 0 at a valid pixel of row 1: sin((2 − 0.5)/(4 + 1e-6)·2π)
      const want = Math.sin(((2 - 0.5) / (4 + 1e-6)) * 2 * Math.PI);
      assert.ok(Math.abs((pe.select(0, 0).select(0, 0).select(0, 1).select(0, 0).item()) - want) < 1e-6);
    });
  });

  test('swin configs: presets, snake_case dicts and validation', () => {
    assert.equal(swinConfig('video-swin-b').embedDim, 128);
    assert.deepEqual(swinConfig('swin-s').depths, [2, 2, 18, 2]);
    const c = swinConfig({ embed_dim: 8, depths: [2, 2, 2, 2], num_heads: [1, 2, 4, 8], window_size: [2, 7, 7], patch_size: [1, 4, 4], qk_scale: null, use_checkpoint: false });
    assert.deepEqual(c.windowSize, [2, 7, 7]);
    assert.throws(() => swinConfig('swin-xl'), /unknown Video-Swin backbone/);
    assert.throws(() => swinConfig({ embed_dim: 10, num_heads: [3, 6, 12, 24] }), /divisible/);
    assert.throws(() => swinConfig({ embed_dims: 96 }), /embedDims/);
  });

  test('gradients reach every parameter through shifted, padded windows', () => {
    // no drop path: with one clip a dropped branch would legitimately get no gradient
    const m = new SwinTransformer3D(swinConfig({ embedDim: 8, depths: [2, 2], numHeads: [1, 2], windowSize: [2, 7, 7], dropPathRate: 0 }));
    torch.tidy(() => {
      const outs = m.train().forward(torch.randn([3, 3, 44, 60]), 3);
      torch.stack(outs.map((o) => o.square().mean())).sum().backward();
    });
    for (const [name, p] of m.namedParameters()) {
      const g = p.grad;
      assert.ok(g, `no gradient for ${name}`);
      assert.ok((g.abs().sum().item()) > 0, `zero gradient for ${name}`);
      g.dispose();
    }
    m.dispose();
  });

  test('drop path is active in training only', () => {
    const m = new SwinTransformer3D(swinConfig({ embedDim: 8, depths: [2, 2], numHeads: [1, 2], windowSize: [2, 7, 7], dropPathRate: 0.5 }));
    torch.noGrad(() =>
      torch.tidy(() => {
        const x = torch.randn([4, 3, 32, 32]);
        const a = m.eval().forward(x, 2);
        const b = m.forward(x, 2);
        assert.equal(maxAbsDiff(a[1]!, b[1]!), 0);
        torch.manualSeed(1);
        const c = m.train().forward(x, 2);
        assert.ok(maxAbsDiff(a[1]!, c[1]!) > 0);
      }),
    );
    m.dispose();
  });
});
