// nn.Module bookkeeping (names, order, aliasing, loading errors) and layer numerics.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import * as torch from '../../src/tensor/index.js';
import { Conv2d, Conv3d, Dropout, Embedding, F, GroupNorm, LayerNorm, Linear, Module, ModuleList, MultiheadAttention, Sequential, StateDictError, init } from '../../src/nn/index.js';
import type { Tensor } from '../../src/tensor/index.js';
import { assertClose } from '../helpers/assert.js';

class MLP extends Module {
  readonly layers: ModuleList<Linear>;
  constructor(dims: number[]) {
    super();
    this.layers = this.registerModule('layers', new ModuleList(dims.slice(1).map((d, i) => new Linear(dims[i]!, d))));
  }
}

class Toy extends Module {
  readonly scale: Tensor;
  readonly head: MLP;
  readonly decoder: Holder;
  readonly seq: Sequential;
  constructor() {
    super();
    this.scale = this.registerParameter('scale', torch.ones([2]));
    this.registerBuffer('index', torch.arange(3));
    this.registerBuffer('scratch', torch.zeros([1]), false);
    this.head = this.registerModule('head', new MLP([4, 3, 2]));
    this.decoder = this.registerModule('decoder', new Holder(this.head)); // aliased child, as bbox_embed
    this.seq = this.registerModule('seq', new Sequential([new Linear(2, 2), new Dropout(0.1), new LayerNorm(2)]));
  }
}

class Holder extends Module {
  constructor(head: MLP) {
    super();
    this.registerModule('head', head);
  }
}

describe('Module', () => {
  test('state dict keys follow PyTorch naming and order, aliases included', () => {
    const m = new Toy();
    assert.deepEqual(
      [...m.stateDict().keys()],
      [
        'scale',
        'index',
        'head.layers.0.weight',
        'head.layers.0.bias',
        'head.layers.1.weight',
        'head.layers.1.bias',
        'decoder.head.layers.0.weight',
        'decoder.head.layers.0.bias',
        'decoder.head.layers.1.weight',
        'decoder.head.layers.1.bias',
        'seq.0.weight',
        'seq.0.bias',
        'seq.2.weight',
        'seq.2.bias',
      ],
    );
    // named_parameters drops the alias and buffers
    assert.deepEqual(
      [...m.namedParameters()].map(([n]) => n),
      ['scale', 'head.layers.0.weight', 'head.layers.0.bias', 'head.layers.1.weight', 'head.layers.1.bias', 'seq.0.weight', 'seq.0.bias', 'seq.2.weight', 'seq.2.bias'],
    );
    assert.equal(m.stateDict().get('head.layers.0.weight'), m.stateDict().get('decoder.head.layers.0.weight'));
    assert.equal(m.numParameters(), 2 + 12 + 3 + 6 + 2 + 6 + 2 + 2);
  });

  test('loadStateDict copies values and reports missing, unexpected and mis-shaped keys', () => {
    const a = new Toy();
    const b = new Toy();
    b.loadStateDict(a.stateDict());
    assert.deepEqual(b.head.layers.at(0).weight.toArray(), a.head.layers.at(0).weight.toArray());

    const sd = new Map(a.stateDict());
    sd.delete('seq.2.bias');
    sd.set('extra.weight', torch.zeros([1]));
    assert.throws(
      () => b.loadStateDict(sd),
      (e: unknown) =>
        e instanceof StateDictError &&
        e.missingKeys.join() === 'seq.2.bias' &&
        e.unexpectedKeys.join() === 'extra.weight' &&
        /Missing key\(s\) in state_dict: "seq.2.bias"/.test(e.message) &&
        /Unexpected key\(s\) in state_dict: "extra.weight"/.test(e.message),
    );
    const res = b.loadStateDict(sd, { strict: false });
    assert.deepEqual(res, { missingKeys: ['seq.2.bias'], unexpectedKeys: ['extra.weight'] });

    const bad = new Map(a.stateDict());
    bad.set('head.layers.1.weight', torch.zeros([5, 3]));
    assert.throws(
      () => b.loadStateDict(bad, { strict: false }),
      /size mismatch for head.layers.1.weight: copying a param with shape \[5,3\] from checkpoint, the shape in current model is \[2,3\]/,
    );
  });

  test('train/eval, freezing, parameter leaves', () => {
    const m = new Toy();
    assert.equal(m.seq.at(1).training, true);
    m.eval();
    assert.equal(m.seq.at(1).training, false);
    assert.ok(m.parameters().every((p) => p.requiresGrad && p.isLeaf));
    m.head.requiresGrad_(false);
    assert.equal(m.numParameters(true), 2 + 6 + 2 + 2);
    // dropout is the identity in eval mode
    const x = torch.randn([3, 2]);
    assert.equal(m.seq.at(1).forward(x), x);
  });
});

describe('layers', () => {
  test('Linear, Conv, norms, Embedding shapes and values', () => {
    const lin = new Linear(3, 2);
    assert.deepEqual(lin.weight.shape, [2, 3]);
    const x = torch.randn([4, 3]);
    assertClose(lin.forward(x), x.matmul(lin.weight.t()).add(lin.bias!), 1e-6);
    assert.equal(new Linear(3, 2, { bias: false }).bias, null);
    assert.deepEqual(new Conv2d(3, 8, 3, { stride: 2, padding: 1 }).forward(torch.randn([1, 3, 9, 9])).shape, [1, 8, 5, 5]);
    assert.deepEqual(new Conv3d(3, 8, [1, 4, 4], { stride: [1, 4, 4] }).forward(torch.randn([1, 3, 2, 8, 8])).shape, [1, 8, 2, 2, 2]);
    assert.deepEqual(new GroupNorm(2, 4).forward(torch.randn([1, 4, 3, 3])).shape, [1, 4, 3, 3]);
    const emb = new Embedding(5, 3, { paddingIdx: 1 });
    assert.deepEqual(emb.weight.select(0, 1).toArray(), [0, 0, 0]);
  });

  test('default initialisation bounds and seeded determinism', () => {
    const g1 = new torch.Generator(5);
    const g2 = new torch.Generator(5);
    const a = new Linear(100, 50, { generator: g1 });
    const b = new Linear(100, 50, { generator: g2 });
    assert.deepEqual(a.weight.toArray(), b.weight.toArray());
    assert.ok(a.weight.abs().max().item() <= 1 / Math.sqrt(100));
    const w = torch.empty([64, 32]);
    init.xavierUniform_(w, 1, g1);
    assert.ok(w.abs().max().item() <= Math.sqrt(6 / 96) + 1e-7);
    init.truncNormal_(w, 0, 0.02, -2, 2, g1);
    assertClose(w.std(), [0.02], 0.002);
    init.constant_(w, 3);
    assert.equal(w.mean().item(), 3);
  });
});

/** Multi-head attention written independently: per head, in float64, from the packed weights. */
function referenceAttention(q: Tensor, k: Tensor, v: Tensor, mha: MultiheadAttention, keyPadding: Tensor | null): Tensor {
  const E = mha.embedDim;
  const H = mha.numHeads;
  const d = E / H;
  const W = mha.inProjWeight.double();
  const bias = mha.inProjBias!.double();
  const proj = (x: Tensor, i: number) => x.double().matmul(W.slice(0, i * E, (i + 1) * E).t()).add(bias.slice(0, i * E, (i + 1) * E));
  const Q = proj(q, 0); // [L, N, E]
  const K = proj(k, 1);
  const V = proj(v, 2);
  const [L, N] = q.shape as [number, number];
  const S = k.shape[0]!;
  const out = torch.zeros([L, N, E], { dtype: 'float64' });
  for (let n = 0; n < N; n++) {
    for (let h = 0; h < H; h++) {
      const qh = Q.select(1, n).slice(1, h * d, (h + 1) * d); // [L, d]
      const kh = K.select(1, n).slice(1, h * d, (h + 1) * d); // [S, d]
      const vh = V.select(1, n).slice(1, h * d, (h + 1) * d);
      let scores = qh.matmul(kh.t()).div(Math.sqrt(d)); // [L, S]
      if (keyPadding) scores = scores.maskedFill(keyPadding.select(0, n).view(1, S), -Infinity);
      const o = scores.softmax(-1).matmul(vh); // [L, d]
      out.select(1, n).slice(1, h * d, (h + 1) * d).copy_(o);
    }
  }
  return F.linear(out, mha.outProj.weight.double(), mha.outProj.bias!.double());
}

describe('MultiheadAttention', () => {
  const g = new torch.Generator(11);
  const mha = new MultiheadAttention(8, 2, { generator: g, dropout: 0.1 }).eval();
  init.normal_(mha.inProjBias!, 0, 0.5, g);
  init.normal_(mha.outProj.bias!, 0, 0.5, g);

  test('packed in_proj_weight and out_proj keys', () => {
    assert.deepEqual([...mha.stateDict().keys()], ['in_proj_weight', 'in_proj_bias', 'out_proj.weight', 'out_proj.bias']);
    assert.deepEqual(mha.inProjWeight.shape, [24, 8]);
  });

  test('matches an independent per-head computation, with key padding', () => {
    const q = torch.randn([3, 2, 8], { generator: g });
    const kv = torch.randn([5, 2, 8], { generator: g });
    const k2 = torch.randn([5, 2, 8], { generator: g });
    const pad = torch.tensor([[false, false, false, true, true], [false, false, false, false, false]]);
    // distinct q/k/v, key === value, and self-attention paths
    assertClose(mha.forward(q, k2, kv).output, referenceAttention(q, k2, kv, mha, null), 1e-5);
    assertClose(mha.forward(q, kv, kv, { keyPaddingMask: pad }).output, referenceAttention(q, kv, kv, mha, pad), 1e-5);
    assertClose(mha.forward(q, q, q).output, referenceAttention(q, q, q, mha, null), 1e-5);
    // a padded key has no influence
    const kvChanged = kv.clone();
    kvChanged.select(0, 4).select(0, 0).fill_(100);
    assertClose(mha.forward(q, kvChanged, kvChanged, { keyPaddingMask: pad }).output.select(1, 0), mha.forward(q, kv, kv, { keyPaddingMask: pad }).output.select(1, 0), 1e-6);
    const w = mha.forward(q, kv, kv, { keyPaddingMask: pad, needWeights: true }).weights!;
    assert.deepEqual(w.shape, [2, 3, 5]);
    assertClose(w.sum(-1), torch.ones([2, 3]), 1e-6);
    assert.equal(w.select(0, 0).select(1, 4).abs().max().item(), 0);
  });

  test('dropout on attention weights only in training mode', () => {
    const q = torch.randn([3, 1, 8], { generator: g });
    const a = mha.forward(q, q, q).output;
    const b = mha.forward(q, q, q).output;
    assert.deepEqual(a.toArray(), b.toArray());
    mha.train();
    torch.manualSeed(1);
    const c = mha.forward(q, q, q).output;
    mha.eval();
    assert.notDeepEqual(a.toArray(), c.toArray());
  });
});
