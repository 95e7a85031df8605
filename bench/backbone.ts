// Video-Swin-T backbone alone on one 8-frame 360×640 clip (random weights, eval, no grad, 2 threads):
// median of 3 timed forwards after a warm-up, against the reference PyTorch time on this machine.
//   npx tsx bench/backbone.ts [--threads N]
import { cpus, loadavg } from 'node:os';
import * as torch from '../src/tensor/index.js';
import { SwinTransformer3D, swinConfig } from '../src/models/backbone/video_swin.js';

/** The reference's swin-t backbone forward on the same input (torch 1.13 CPU, 2 threads), seconds. */
const REFERENCE_SECONDS = 14.9;

const argThreads = process.argv.indexOf('--threads');
const threads = argThreads > 0 ? Number(process.argv[argThreads + 1]) : 2;
torch.setNumThreads(threads);

const T = 8;
const H = 360;
const W = 640;
const model = new SwinTransformer3D(swinConfig('swin-t')).eval();
const frames = torch.randn([T, 3, H, W]).keep();

const cpuTimes: number[] = [];
function run(): number {
  const c0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  torch.noGrad(() => torch.tidy(() => void model.forward(frames, T)));
  const wall = Number(process.hrtime.bigint() - t0) / 1e9;
  const c = process.cpuUsage(c0);
  cpuTimes.push((c.user + c.system) / 1e6);
  return wall;
}

const warm = run();
const times = [run(), run(), run()].sort((a, b) => a - b);
const median = times[1]!;
const cpu = cpuTimes.slice(1).sort((a, b) => a - b)[1]!;
const peakMb = process.resourceUsage().maxRSS / 1024;
console.log(`Video-Swin-T backbone, ${T}×3×${H}×${W}, ${threads} threads, eval, no grad`);
console.log(`  warm-up: ${warm.toFixed(2)} s; runs: ${times.map((t) => t.toFixed(2)).join(', ')} s`);
console.log(`  median: ${median.toFixed(2)} s; reference (PyTorch 1.13): ${REFERENCE_SECONDS} s; ratio soc-ts/reference: ${(median / REFERENCE_SECONDS).toFixed(2)}`);
console.log(`  median CPU time (user + system, all threads): ${cpu.toFixed(2)} s (${(cpu / threads).toFixed(2)} s per thread; a busy machine inflates wall time, not this)`);
console.log(`  load average at the end: ${loadavg()[0]!.toFixed(2)} on ${cpus().length} CPUs`);
console.log(`  peak RSS: ${peakMb.toFixed(0)} MB`);
