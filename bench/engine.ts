// Tensor-engine numbers: matmul throughput through the binding and per-op call overhead.
//   npx tsx bench/engine.ts [--threads N]
import * as torch from '../src/tensor/index.js';

const threads = Number(process.argv[process.argv.indexOf('--threads') + 1]) || 2;
torch.setNumThreads(threads);

function time(fn: () => void, reps: number): number {
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < reps; i++) fn();
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

// matmul GFLOP/s (float32, 1024²), median of 5 runs of 10
const n = 1024;
const a = torch.randn([n, n]).keep();
const b = torch.randn([n, n]).keep();
time(() => a.matmul(b).dispose(), 3);
const runs: number[] = [];
for (let r = 0; r < 5; r++) runs.push((10 * 2 * n ** 3) / time(() => a.matmul(b).dispose(), 10) / 1e9);
runs.sort((x, y) => x - y);
console.log(`matmul ${n}x${n} float32, ${threads} threads: ${runs[2]!.toFixed(1)} GFLOP/s (median of 5)`);

// per-op overhead: tiny tensors, so the time is the binding's (JS -> N-API -> dispatcher -> JS)
const x = torch.ones([1]).keep();
const y = torch.ones([1]).keep();
const reps = 200_000;
time(() => x.add(y).dispose(), 10_000);
const plain = (time(() => x.add(y).dispose(), reps) / reps) * 1e6;
const scoped = (time(() => torch.tidy(() => x.add(y).mul(2)), reps / 2) / reps) * 1e6;
const meta = (time(() => void x.shape, reps) / reps) * 1e6;
console.log(`per-op call overhead: ${plain.toFixed(2)} µs (add of 1-element tensors, explicit dispose)`);
console.log(`per-op call overhead inside tidy: ${scoped.toFixed(2)} µs`);
console.log(`shape query: ${meta.toFixed(2)} µs`);
