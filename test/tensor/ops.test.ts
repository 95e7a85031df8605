// Tensor operations against hand-worked values, and gradients against finite differences.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import * as torch from '../../src/tensor/index.js';
import { F } from '../../src/nn/index.js';
import type { Tensor } from '../../src/tensor/index.js';
import { assertClose } from '../helpers/assert.js';

describe('creation and dtypes', () => {
  test('every dtype round-trips through typed arrays', () => {
    const cases: [torch.DType, ArrayBufferView][] = [
      ['float32', new Float32Array([1.5, -2, 3.25])],
      ['float64', new Float64Array([1e-300, -2, Math.PI])],
      ['int64', new BigInt64Array([-(2n ** 62n), 0n, 7n])],
      ['int32', new Int32Array([-5, 0, 2 ** 31 - 1])],
      ['int16', new Int16Array([-300, 1, 2])],
      ['int8', new Int8Array([-128, 0, 127])],
      ['uint8', new Uint8Array([0, 128, 255])],
      ['bool', new Uint8Array([1, 0, 1])],
      ['float16', new Uint16Array([0x3c00, 0xc000, 0x7bff])], // 1, -2, 65504
      ['bfloat16', new Uint16Array([0x3f80, 0xc000, 0x4049])], // 1, -2, 3.140625
    ];
    for (const [dt, arr] of cases) {
      const t = torch.fromTypedArray(arr, [3], dt);
      assert.equal(t.dtype, dt);
      assert.deepEqual(Array.from(t.toTypedArray() as ArrayLike<unknown>), Array.from(arr as unknown as ArrayLike<unknown>), dt);
    }
    assert.deepEqual(torch.fromTypedArray(new Uint16Array([0x3c00, 0xc000, 0x7bff]), [3], 'float16').toNumbers(), [1, -2, 65504]);
    assert.deepEqual(torch.fromTypedArray(new Uint16Array([0x3f80, 0xc000, 0x4049]), [3], 'bfloat16').toNumbers(), [1, -2, 3.140625]);
  });

  test('factories follow PyTorch dtype rules', () => {
    assert.equal(torch.arange(5).dtype, 'int64');
    assert.equal(torch.arange(0, 1, 0.25).dtype, 'float32');
    assert.deepEqual(torch.arange(0, 1, 0.25).toArray(), [0, 0.25, 0.5, 0.75]);
    assert.equal(torch.tensor([1, 2]).dtype, 'int64');
    assert.equal(torch.tensor([1.5, 2]).dtype, 'float32');
    assert.equal(torch.tensor([true, false]).dtype, 'bool');
    assert.deepEqual(torch.tensor([[1, 2], [3, 4]]).shape, [2, 2]);
    assert.deepEqual(torch.full([2], 7, { dtype: 'int32' }).toArray(), [7, 7]);
    assert.deepEqual(torch.eye(2).toArray(), [[1, 0], [0, 1]]);
    assert.deepEqual(torch.linspace(0, 1, 5).toArray(), [0, 0.25, 0.5, 0.75, 1]);
    assert.throws(() => torch.tensor([[1, 2], [3]]), /ragged/);
    assert.throws(() => torch.fromTypedArray(new Float32Array(5), [2, 2]), /needs 4 elements, got 5/);
  });

  test('seeded generators give PyTorch 1.13 numbers', () => {
    // torch.manual_seed(0); torch.randn(3) / torch.rand(3) in PyTorch.
    torch.manualSeed(0);
    assertClose(torch.randn([3]), [1.5409961, -0.2934289, -2.1787894], 1e-6);
    torch.manualSeed(0);
    assertClose(torch.rand([3]), [0.4962566, 0.7682218, 0.0884774], 1e-6);
    const g1 = new torch.Generator(42);
    const g2 = new torch.Generator(42);
    assert.deepEqual(torch.randn([5], { generator: g1 }).toArray(), torch.randn([5], { generator: g2 }).toArray());
    // state save/restore reproduces the stream
    const state = g1.getState();
    const a = torch.rand([4], { generator: g1 }).toArray();
    g1.setState(state);
    assert.deepEqual(torch.rand([4], { generator: g1 }).toArray(), a);
  });
});

describe('views and indexing', () => {
  test('views share storage with their base', () => {
    const a = torch.zeros([2, 3]);
    const v = a.view(6);
    v.fill_(2);
    assert.deepEqual(a.toArray(), [[2, 2, 2], [2, 2, 2]]);
    const col = a.select(1, 1);
    col.fill_(5);
    assert.deepEqual(a.toArray(), [[2, 5, 2], [2, 5, 2]]);
    assert.ok(col.sharesStorageWith(a));
    assert.equal(col.storageOffset, 1);
    assert.deepEqual(col.strides, [3]);
    const t = a.t();
    assert.equal(t.isContiguous(), false);
    assert.equal(t.contiguous().isContiguous(), true);
  });

  test('reshape, permute, slicing, gather, masked fill, advanced indexing', () => {
    const x = torch.arange(24).reshape(2, 3, 4);
    assert.deepEqual(x.permute(2, 0, 1).shape, [4, 2, 3]);
    assert.deepEqual(x.flatten(1).shape, [2, 12]);
    assert.deepEqual(x.unflatten(2, [2, 2]).shape, [2, 3, 2, 2]);
    assert.deepEqual(x.slice(2, 1, null, 2).select(0, 0).toArray(), [[1, 3], [5, 7], [9, 11]]);
    assert.deepEqual(x.slice(1, -1).select(0, 1).toArray(), [[20, 21, 22, 23]]);
    assert.deepEqual(x.narrow(1, 1, 1).shape, [2, 1, 4]);
    assert.deepEqual(x.select(0, 0).indexSelect(0, torch.tensor([2, 0])).toArray(), [[8, 9, 10, 11], [0, 1, 2, 3]]);
    const m = torch.tensor([[1, 2], [3, 4]]);
    assert.deepEqual(m.gather(1, torch.tensor([[1, 0], [0, 0]])).toArray(), [[2, 1], [3, 3]]);
    assert.deepEqual(m.maskedFill(torch.tensor([[true, false], [false, true]]), -1).toArray(), [[-1, 2], [3, -1]]);
    assert.deepEqual(m.index([torch.tensor([1, 0, 1])]).toArray(), [[3, 4], [1, 2], [3, 4]]);
    assert.deepEqual(m.index([null, torch.tensor([1])]).toArray(), [[2], [4]]);
    assert.deepEqual(m.unsqueeze(0).expand(2, 2, 2).shape, [2, 2, 2]);
    assert.deepEqual(m.repeat(1, 2).toArray(), [[1, 2, 1, 2], [3, 4, 3, 4]]);
    assert.deepEqual(m.flip(0).toArray(), [[3, 4], [1, 2]]);
    assert.deepEqual(torch.arange(5).roll(2, 0).toArray(), [3, 4, 0, 1, 2]);
    assert.deepEqual(m.split(1, 0).map((t) => t.toArray()), [[[1, 2]], [[3, 4]]]);
    assert.deepEqual(torch.arange(5).split([2, 3]).map((t) => t.toArray()), [[0, 1], [2, 3, 4]]);
    assert.deepEqual(m.chunk(2, 1).map((t) => t.toArray()), [[[1], [3]], [[2], [4]]]);
    assert.deepEqual(torch.cat([m, m], 1).shape, [2, 4]);
    assert.deepEqual(torch.stack([m, m], 0).shape, [2, 2, 2]);
    assert.deepEqual(m.unbind(1).map((t) => t.toArray()), [[1, 3], [2, 4]]);
    const z = torch.zeros([3]);
    z.indexPut_([torch.tensor([0, 2])], torch.tensor([5, 6], { dtype: 'float32' }));
    assert.deepEqual(z.toArray(), [5, 0, 6]);
    assert.deepEqual(torch.zeros([2, 3]).scatter(1, torch.tensor([[2], [0]]), 1).toArray(), [[0, 0, 1], [1, 0, 0]]);
  });
});

describe('arithmetic and reductions', () => {
  test('broadcasting and type promotion', () => {
    const a = torch.tensor([[1], [2]]);
    const b = torch.tensor([10, 20, 30]);
    assert.deepEqual(a.add(b).toArray(), [[11, 21, 31], [12, 22, 32]]);
    assert.equal(a.add(b).dtype, 'int64');
    assert.equal(a.mul(0.5).dtype, 'float32');
    assert.deepEqual(a.div(2).toArray(), [[0.5], [1]]);
    assert.deepEqual(torch.tensor([-3, 3]).div(2, 'floor').toArray(), [-2, 1]);
    assert.deepEqual(torch.tensor([-3, 3]).div(2, 'trunc').toArray(), [-1, 1]);
    assert.deepEqual(torch.tensor([5, -5]).remainder(3).toArray(), [2, 1]);
    assert.deepEqual(torch.tensor([1, 2, 3]).rsub(10).toArray(), [9, 8, 7]);
    assert.deepEqual(torch.tensor([1.5, -2.5]).clamp(-2, 1).toArray(), [1, -2]);
    assert.deepEqual(torch.tensor([1, 5]).where(torch.tensor([true, false]), 0).toArray(), [1, 0]);
    assert.deepEqual(torch.where(torch.tensor([true, false]), 9, torch.tensor([1, 2])).toArray(), [9, 2]);
    assert.deepEqual(torch.tensor([1, 2]).eq(torch.tensor([1, 3])).toArray(), [true, false]);
    assert.deepEqual(torch.tensor([1, 2]).gt(1).logicalOr(torch.tensor([true, false])).toArray(), [true, true]);
  });

  test('reductions', () => {
    const x = torch.tensor([[1, 5, 3], [4, 2, 6]], { dtype: 'float32' });
    assert.equal(x.sum().item(), 21);
    assert.deepEqual(x.sum(0).toArray(), [5, 7, 9]);
    assert.deepEqual(x.sum(1, { keepdim: true }).shape, [2, 1]);
    assert.deepEqual(x.mean(1).toArray(), [3, 4]);
    assert.equal(x.max().item(), 6);
    assert.deepEqual(x.maxDim(1).indices.toArray(), [1, 2]);
    assert.deepEqual(x.minDim(0).values.toArray(), [1, 2, 3]);
    assert.deepEqual(x.argmax(1).toArray(), [1, 2]);
    assert.deepEqual(x.amax(0).toArray(), [4, 5, 6]);
    assert.deepEqual(x.prod(1).toArray(), [15, 48]);
    assert.deepEqual(x.cumsum(1).toArray(), [[1, 6, 9], [4, 6, 12]]);
    assertClose(x.std(1), [2, 2], 1e-6);
    assertClose(x.var(1, { correction: 0 }), [8 / 3, 8 / 3], 1e-6);
    assertClose(x.norm(), [Math.sqrt(91)], 1e-5);
    assertClose(x.norm(1, 1), [9, 12], 1e-6);
    assertClose(x.logsumexp(1), [Math.log(Math.exp(1) + Math.exp(5) + Math.exp(3)), Math.log(Math.exp(4) + Math.exp(2) + Math.exp(6))], 1e-5);
    const tk = x.topk(2, 1);
    assert.deepEqual(tk.values.toArray(), [[5, 3], [6, 4]]);
    assert.deepEqual(tk.indices.toArray(), [[1, 2], [2, 0]]);
    assert.deepEqual(x.sort(1, true).indices.toArray(), [[1, 2, 0], [2, 0, 1]]);
    assert.deepEqual(torch.tensor([2, 1, 2, 1]).sort(0, false, true).indices.toArray(), [1, 3, 0, 2]);
    assert.deepEqual(x.argsort(1).toArray(), [[0, 2, 1], [1, 0, 2]]);
    assert.equal(torch.tensor([false, true]).any().item(), 1);
    assert.equal(torch.tensor([false, true]).all().item(), 0);
  });

  test('matmul, bmm, einsum, linalg.solve, cdist', () => {
    const a = torch.tensor([[1, 2], [3, 4]], { dtype: 'float32' });
    const b = torch.tensor([[5, 6], [7, 8]], { dtype: 'float32' });
    assert.deepEqual(a.matmul(b).toArray(), [[19, 22], [43, 50]]);
    assert.deepEqual(a.unsqueeze(0).bmm(b.unsqueeze(0)).squeeze(0).toArray(), [[19, 22], [43, 50]]);
    assert.deepEqual(torch.einsum('ij,kj->ik', a, b).toArray(), [[17, 23], [39, 53]]);
    const A = torch.tensor([[3, 1], [1, 2]], { dtype: 'float64' });
    assertClose(torch.linalgSolve(A, torch.tensor([9, 8], { dtype: 'float64' })), [2, 3], 1e-12);
    assertClose(torch.linalgSolve(A, torch.eye(2, { dtype: 'float64' })), [[0.4, -0.2], [-0.2, 0.6]], 1e-12);
    assert.deepEqual(torch.cdist(a, b, 1).toArray(), [[8, 12], [4, 8]]);
  });
});

describe('neural-network functions', () => {
  test('activations and normalisations', () => {
    assertClose(F.gelu(torch.tensor([1, -1], { dtype: 'float64' })), [0.8413447460685429, -0.15865525393145707], 1e-12);
    assertClose(F.gelu(torch.tensor([1], { dtype: 'float64' }), 'tanh'), [0.8411919906082768], 1e-12);
    assertClose(torch.tensor([1, 2, 3], { dtype: 'float64' }).softmax(0), [0.09003057317038046, 0.24472847105479764, 0.6652409557748219], 1e-12);
    assertClose(torch.tensor([1, 2, 3], { dtype: 'float64' }).logSoftmax(0), [-2.40760596444438, -1.40760596444438, -0.40760596444438], 1e-12);
    const x = torch.tensor([[1, 2, 3, 4]], { dtype: 'float64' });
    const sd = Math.sqrt(1.25 + 1e-5);
    assertClose(F.layerNorm(x, [4]), [[-1.5 / sd, -0.5 / sd, 0.5 / sd, 1.5 / sd]], 1e-12);
    // GroupNorm(2 groups) on [1, 4, 1, 1]: groups (1,2) and (3,4), each mean ±0.5 around its centre.
    const g = F.groupNorm(torch.tensor([1, 2, 3, 4], { dtype: 'float64' }).view(1, 4, 1, 1), 2);
    const s = Math.sqrt(0.25 + 1e-5);
    assertClose(g.flatten(), [-0.5 / s, 0.5 / s, -0.5 / s, 0.5 / s], 1e-12);
  });

  test('conv2d by hand', () => {
    const x = torch.arange(9, undefined, 1, { dtype: 'float32' }).view(1, 1, 3, 3);
    const w = torch.ones([1, 1, 2, 2]);
    assert.deepEqual(F.conv2d(x, w).toArray(), [[[[8, 12], [20, 24]]]]);
    assert.deepEqual(F.conv2d(x, w, null, { stride: 2, padding: 1 }).toArray(), [[[[0, 3], [9, 24]]]]);
    assert.deepEqual(F.conv2d(x, w, torch.tensor([1], { dtype: 'float32' })).toArray(), [[[[9, 13], [21, 25]]]]);
  });

  test('interpolate: legacy nearest and bilinear in both corner modes', () => {
    const v = torch.tensor([0, 1], { dtype: 'float32' }).view(1, 1, 1, 2);
    assert.deepEqual(F.interpolate(v, { size: [1, 3] }).flatten().toArray(), [0, 0, 1]);
    const n12 = F.interpolate(torch.arange(12, undefined, 1, { dtype: 'float32' }).view(1, 1, 1, 12), { size: [1, 23] }).flatten().toNumbers();
    assert.deepEqual(n12, Array.from({ length: 23 }, (_, d) => Math.floor((d * 12) / 23)));
    assertClose(F.interpolate(v, { size: [1, 4], mode: 'bilinear' }).flatten(), [0, 0.25, 0.75, 1], 1e-7);
    assertClose(F.interpolate(v, { size: [1, 4], mode: 'bilinear', alignCorners: true }).flatten(), [0, 1 / 3, 2 / 3, 1], 1e-7);
    // scale_factor uses 1/scale as the source step, size uses in/out: they differ for 3 -> 5.
    const r = torch.tensor([0, 1, 2], { dtype: 'float64' }).view(1, 1, 1, 3);
    assertClose(F.interpolate(r, { scaleFactor: [1, 1.7], mode: 'bilinear' }).flatten().slice(0, 1, 2), [1.5 / 1.7 - 0.5], 1e-12);
    assertClose(F.interpolate(r, { size: [1, 5], mode: 'bilinear' }).flatten().slice(0, 1, 2), [0.4], 1e-12);
  });

  test('grid_sample with zeros padding in both corner modes', () => {
    const x = torch.tensor([[1, 2], [3, 4]], { dtype: 'float32' }).view(1, 1, 2, 2);
    const grid = torch.tensor([[0, 0], [-1, -1], [1, 1], [0.5, -1]], { dtype: 'float32' }).view(1, 1, 4, 2);
    // align_corners false: pixel = ((g + 1)·size − 1)/2
    assertClose(F.gridSample(x, grid).flatten(), [2.5, 0.25, 1, 1], 1e-6);
    assertClose(F.gridSample(x, grid, { alignCorners: true }).flatten(), [2.5, 1, 4, 1.75], 1e-6);
  });

  test('padding and embedding', () => {
    const x = torch.ones([1, 2, 2]);
    assert.deepEqual(F.pad(x, [0, 1, 1, 0]).shape, [1, 3, 3]);
    assert.deepEqual(F.pad(x, [0, 1]).select(0, 0).toArray(), [[1, 1, 0], [1, 1, 0]]);
    const w = torch.tensor([[0, 0], [1, 2], [3, 4]], { dtype: 'float32' });
    assert.deepEqual(F.embedding(torch.tensor([2, 1]), w).toArray(), [[3, 4], [1, 2]]);
  });
});

/** Finite-difference gradient of f at x (float64), for small tensors. */
function numericGrad(f: (x: Tensor) => Tensor, x: Tensor, eps = 1e-6): number[] {
  const base = x.toNumbers();
  const g: number[] = [];
  for (let i = 0; i < base.length; i++) {
    const eval1 = (d: number) =>
      torch.tidy(() => {
        const v = Float64Array.from(base);
        v[i]! += d;
        return f(torch.fromTypedArray(v, x.shape)).item();
      });
    g.push((eval1(eps) - eval1(-eps)) / (2 * eps));
  }
  return g;
}

/** Checks autograd against finite differences for each input of f. */
function gradcheck(f: (...xs: Tensor[]) => Tensor, inputs: Tensor[], atol = 1e-6): void {
  const leaves = inputs.map((x) => x.detach().requiresGrad_(true));
  const w = torch.randn(f(...inputs.map((x) => x.detach())).shape, { dtype: 'float64', generator: new torch.Generator(7) });
  const scalar = (...xs: Tensor[]) => f(...xs).mul(w).sum();
  scalar(...leaves).backward();
  leaves.forEach((leaf, k) => {
    const numeric = numericGrad((x) => scalar(...inputs.map((y, j) => (j === k ? x : y))), inputs[k]!);
    assertClose(leaf.grad!, numeric, atol, 1e-5, `input ${k}`);
  });
}

describe('autograd against finite differences', () => {
  const g = new torch.Generator(3);
  const rnd = (shape: number[]) => torch.randn(shape, { dtype: 'float64', generator: g });

  test('grid_sample (input and grid, bilinear, zeros padding, align_corners false)', () => {
    // keep sample points away from pixel-grid kinks so finite differences are valid
    const grid = torch.tensor([[0.13, -0.41], [0.62, 0.27], [-0.83, 0.71], [1.07, -0.2], [-0.33, -0.97]], { dtype: 'float64' }).view(1, 1, 5, 2);
    gradcheck((x, gr) => F.gridSample(x, gr), [rnd([1, 2, 3, 4]), grid]);
  });

  test('interpolate bilinear (both corner modes) and nearest', () => {
    gradcheck((x) => F.interpolate(x, { size: [5, 7], mode: 'bilinear' }), [rnd([1, 2, 3, 4])]);
    gradcheck((x) => F.interpolate(x, { size: [5, 7], mode: 'bilinear', alignCorners: true }), [rnd([1, 2, 3, 4])]);
    gradcheck((x) => F.interpolate(x, { size: [5, 6] }), [rnd([1, 1, 3, 4])]);
  });

  test('conv3d (input, weight, bias)', () => {
    gradcheck((x, w, b) => F.conv3d(x, w, b, { stride: [1, 2, 2], padding: 1 }), [rnd([1, 2, 2, 4, 4]), rnd([3, 2, 1, 3, 3]), rnd([3])]);
  });

  test('linalg.solve (A and B)', () => {
    const A = rnd([3, 3]).add(torch.eye(3, { dtype: 'float64' }).mul(3));
    gradcheck((a, b) => torch.linalgSolve(a, b), [A, rnd([3, 2])]);
  });

  test('layer norm, group norm, softmax, gelu, gather, masked fill', () => {
    gradcheck((x, w, b) => F.layerNorm(x, [4], w, b), [rnd([2, 4]), rnd([4]), rnd([4])]);
    gradcheck((x) => F.groupNorm(x, 2), [rnd([1, 4, 2, 2])]);
    gradcheck((x) => F.gelu(x).softmax(1), [rnd([2, 3])]);
    gradcheck((x) => x.gather(1, torch.tensor([[2, 0], [1, 1]])).maskedFill(torch.tensor([[true, false], [false, false]]), 0), [rnd([2, 3])]);
  });

  test('noGrad, detach and requiresGrad', () => {
    const x = torch.ones([2], { requiresGrad: true });
    assert.equal(torch.noGrad(() => x.mul(2)).requiresGrad, false);
    assert.equal(x.mul(2).requiresGrad, true);
    assert.equal(x.mul(x).gradFn, 'MulBackward0');
    assert.equal(x.detach().requiresGrad, false);
    const y = x.mul(x).sum();
    y.backward();
    assert.deepEqual(x.grad!.toArray(), [2, 2]);
    const [gx] = torch.grad([x.mul(3).sum()], [x]);
    assert.deepEqual(gx!.toArray(), [3, 3]);
  });
});

describe('errors', () => {
  test('libtorch errors become JS errors without C++ backtraces', () => {
    const a = torch.zeros([2, 3]);
    assert.throws(() => a.add(torch.zeros([4])), (e: Error) => /size of tensor a \(3\) must match/.test(e.message) && !/Exception raised from/.test(e.message));
    assert.throws(() => a.view(5), /shape '\[5\]' is invalid/);
  });

  test('using a disposed tensor says so', () => {
    const a = torch.zeros([2]);
    a.dispose();
    assert.equal(a.isDisposed, true);
    assert.throws(() => a.add(1), /already disposed/);
  });
});
