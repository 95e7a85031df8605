// The full-size deformable transformer (swin-t / 8×360×640 shapes: d_model 256, 8 heads, 4 levels,
// 4 points, 3 + 3 layers, FFN 2048, 20 queries) with random weights, eval, no grad, 2 threads:
// median of 3 forwards after a warm-up, for each sampling core, beside the reference's 13.6 s.
//   npx tsx bench/deformable.ts                 both cores, each in its own process (own peak RSS)
//   npx tsx bench/deformable.ts --sampling gather
import { spawnSync } from 'node:child_process';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { ModuleList } from '../src/nn/index.js';
import { MLP } from '../src/models/layers.js';
import { DeformableTransformer, type DeformSampling } from '../src/models/transformer/deformable_transformer.js';
import * as torch from '../src/tensor/index.js';

/** Official code, PyTorch 1.13.1 CPU (pure-PyTorch grid_sample core), 2 threads, this machine. */
const REFERENCE_SECONDS = 13.6;
const FRAMES = 8;
const QUERIES = 20;
const D_MODEL = 256;
const LEVELS: [number, number][] = [
  [45, 80],
  [23, 40],
  [12, 20],
  [6, 10],
];

function runOne(sampling: DeformSampling): void {
  torch.setNumThreads(2);
  const g = new torch.Generator().manualSeed(0);
  const transformer = new DeformableTransformer({
    dModel: D_MODEL,
    nHeads: 8,
    numEncoderLayers: 3,
    numDecoderLayers: 3,
    dimFeedforward: 2048,
    dropout: 0.1,
    numFeatureLevels: 4,
    encNPoints: 4,
    decNPoints: 4,
    sampling,
    generator: g,
  }).eval();
  const heads = new ModuleList(Array.from({ length: 3 }, () => new MLP(D_MODEL, D_MODEL, 4, 3)));
  transformer.decoder.setBboxEmbed(heads);
  // The reference init leaves offsets and attention projections at zero; perturb every weight a
  // little (as the fixtures do) so sampling locations and weights are irregular.
  torch.noGrad(() => {
    for (const p of [...transformer.parameters(), ...heads.parameters()]) p.add_(torch.randn(p.shape, { generator: g }).mul(0.02));
  });

  const srcs = LEVELS.map(([h, w]) => torch.randn([FRAMES, D_MODEL, h, w], { generator: g }).keep());
  const masks = LEVELS.map(([h, w]) => torch.zeros([FRAMES, h, w], { dtype: 'bool' }).keep());
  const pos = LEVELS.map(([h, w]) => torch.randn([FRAMES, D_MODEL, h, w], { generator: g }).keep());
  const tgt = torch.randn([1, FRAMES, QUERIES, D_MODEL], { generator: g }).keep();
  const queryEmbed = torch.randn([QUERIES, D_MODEL], { generator: g }).keep();

  const forward = () => {
    const t0 = process.hrtime.bigint();
    torch.noGrad(() => torch.tidy(() => void transformer.forward(srcs, tgt, masks, pos, queryEmbed)));
    return Number(process.hrtime.bigint() - t0) / 1e9;
  };
  forward(); // warm-up
  const cpu0 = process.cpuUsage();
  const times = [forward(), forward(), forward()];
  const cpu = process.cpuUsage(cpu0);
  const median = [...times].sort((a, b) => a - b)[1]!;
  // CPU seconds per forward (both threads): less sensitive than wall time to other processes
  const cpuPerForward = (cpu.user + cpu.system) / 1e6 / 3;
  const sysPerForward = cpu.system / 1e6 / 3;
  const peakRssMB = process.resourceUsage().maxRSS / 1024;
  console.log(JSON.stringify({ sampling, median, times, cpuPerForward, sysPerForward, peakRssMB, load: loadavg()[0] }));
}

function main(): void {
  const i = process.argv.indexOf('--sampling');
  if (i >= 0) {
    runOne(process.argv[i + 1] as DeformSampling);
    return;
  }
  console.log(`deformable transformer, swin-t shapes: ${FRAMES} frames, levels ${LEVELS.map(([h, w]) => `${h}×${w}`).join(', ')}, ${QUERIES} queries, 2 threads`);
  console.log(`load average before: ${loadavg().map((x) => x.toFixed(2)).join(' ')} (other processes on this machine slow the numbers down)`);
  const self = fileURLToPath(import.meta.url);
  for (const sampling of ['gridSample', 'gather'] as DeformSampling[]) {
    const r = spawnSync(process.execPath, [...process.execArgv, self, '--sampling', sampling], { encoding: 'utf8' });
    const line = r.stdout.trim().split('\n').pop() ?? '';
    if (r.status !== 0 || !line.startsWith('{')) {
      console.error(`${sampling}: failed\n${r.stderr}`);
      continue;
    }
    const res = JSON.parse(line) as { median: number; times: number[]; cpuPerForward: number; peakRssMB: number; load: number };
    console.log(
      `${sampling.padEnd(10)} ${res.median.toFixed(2)} s (runs ${res.times.map((t) => t.toFixed(2)).join(', ')}; ${res.cpuPerForward.toFixed(2)} CPU-s per forward), ` +
        `reference ${REFERENCE_SECONDS} s, ratio ${(res.median / REFERENCE_SECONDS).toFixed(3)}, peak RSS ${res.peakRssMB.toFixed(0)} MB, load ${res.load.toFixed(2)}`,
    );
  }
}

main();
