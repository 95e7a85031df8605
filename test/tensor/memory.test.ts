// Native memory is freed: deterministically by scopes and dispose, and by the garbage collector
// (told about native bytes) for tensors nobody disposed.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as torch from '../../src/tensor/index.js';
import { F } from '../../src/nn/index.js';

const MB = 1024 * 1024;

test('10,000+ op calls inside tidy keep resident memory bounded', () => {
  const w = torch.randn([64, 64]).keep();
  const step = () =>
    torch.tidy(() => {
      let x = torch.randn([64, 64]);
      for (let i = 0; i < 25; i++) {
        x = F.relu(x.matmul(w)).add(1).softmax(-1); // 4 ops per round
      }
      return x.sum().item();
    });
  for (let i = 0; i < 20; i++) step(); // warm up allocator and op caches
  const before = process.memoryUsage().rss;
  let calls = 0;
  for (let i = 0; i < 120; i++) {
    step();
    calls += 102;
  }
  const grown = (process.memoryUsage().rss - before) / MB;
  assert.ok(calls >= 10_000);
  // Leaking every 16 KB intermediate would add ~190 MB.
  assert.ok(grown < 40, `resident memory grew by ${grown.toFixed(1)} MB over ${calls} op calls`);
  assert.equal(torch.scopeDepth(), 0);
});

test('tidy keeps its result and kept tensors, disposes the rest', () => {
  let inner: torch.Tensor | undefined;
  let kept: torch.Tensor | undefined;
  const out = torch.tidy(() => {
    inner = torch.ones([2]);
    kept = torch.ones([2]).keep();
    return { a: inner.add(1), list: [torch.zeros([1])] };
  });
  assert.equal(inner!.isDisposed, true);
  assert.equal(kept!.isDisposed, false);
  assert.equal(out.a.isDisposed, false);
  assert.equal(out.list[0]!.isDisposed, false);
  // nested: the inner result moves to the outer scope and is freed there
  let moved: torch.Tensor | undefined;
  torch.tidy(() => {
    moved = torch.tidy(() => torch.ones([1]));
    return null;
  });
  assert.equal(moved!.isDisposed, true);
  // an exception still frees the scope
  let leaked: torch.Tensor | undefined;
  assert.throws(() =>
    torch.tidy(() => {
      leaked = torch.ones([1]);
      throw new Error('boom');
    }),
  );
  assert.equal(leaked!.isDisposed, true);
});

test('undisposed tensors are reclaimed by the garbage collector', () => {
  // 3,000 × 1 MB tensors never disposed: 3 GB if V8 did not know about native memory.
  const before = process.memoryUsage().rss;
  for (let i = 0; i < 3000; i++) torch.zeros([256, 1024]);
  const grown = (process.memoryUsage().rss - before) / MB;
  assert.ok(grown < 1024, `resident memory grew by ${grown.toFixed(0)} MB`);
});
