// One full-size SOC++ swin-t training iteration at 8×360×640 (random weights, mevis.yaml groups:
// text encoder frozen), with synthetic targets: seconds per iteration and peak RSS. The reference's
// peak RSS on this input exceeds 12 GB.
//   npx tsx bench/train-step-full.ts [--runs 3] [--frames 8] [--size 360x640] [--threads 2]
import { readFileSync } from 'node:fs';
import { loadSocConfig } from '../src/models/soc/config.js';
import { SOC } from '../src/models/soc/soc.js';
import * as torch from '../src/tensor/index.js';
import { buildCriterion } from '../src/training/criterion.js';
import { AdamW, clipGradNorm, trainerParamGroups } from '../src/training/optim.js';
import type { ClipTargets } from '../src/training/targets.js';

const arg = (name: string, dflt: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1]! : dflt;
};
const runs = Number(arg('runs', '3'));
const T = Number(arg('frames', '8'));
const [H, W] = arg('size', '360x640').split('x').map(Number) as [number, number];
torch.setNumThreads(Number(arg('threads', '2')));

const config = loadSocConfig('socpp-swin-t', { lr: 2e-5, lr_backbone: 2e-6, text_encoder_lr: 2e-6, weight_decay: 1e-4 });
const model = new SOC(config).train();
const criterion = buildCriterion(config);
const optimizer = new AdamW(trainerParamGroups(model, { lr: 2e-5, lrBackbone: 2e-6, textEncoderLr: 2e-6, weightDecay: 1e-4 }));
const g = new torch.Generator(0);
const video = torch.randn([T, 1, 3, H, W], { generator: g }).keep();
const videoMask = torch.zeros([T, 1, H, W], { dtype: 'bool' }).keep();
const inputIds = torch.tensor([[0, ...Array.from({ length: 10 }, (_, i) => 100 + i), 2]]).keep();
const attentionMask = torch.onesLike(inputIds).keep();
const targetSizes = torch.tensor([[H, W]]).keep();
// one object: a box moving right, visible in every frame
const targets: ClipTargets = Array.from({ length: T }, (_, t) => {
  const m = torch.zeros([1, H, W], { dtype: 'bool' });
  const x0 = 100 + 10 * t;
  m.narrow(1, 80, 120).narrow(2, x0, 160).fill_(1);
  const box = torch.tensor([[(x0 + 80) / W, 140 / H, 160 / W, 120 / H]], { dtype: 'float32' });
  return [{ masks: m.keep(), boxes: box.keep(), referredInstanceIdx: 0, isRefInstVisible: true, size: [H, W], origSize: [H, W] }];
});

function iteration(): number {
  const t0 = performance.now();
  torch.tidy(() => {
    const out = model.forward({ video, videoMask, inputIds, attentionMask, targetSizes });
    const { total } = criterion.forward(out, targets);
    total.item();
    optimizer.zeroGrad();
    total.backward();
    clipGradNorm(model.parameters(), 0.1);
    optimizer.step();
    return null;
  });
  return (performance.now() - t0) / 1000;
}

iteration();
const times = Array.from({ length: runs }, iteration).sort((a, b) => a - b);
const hwm = Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'))![1]) / 2 ** 20;
console.log(`SOC++ swin-t, ${T}×${H}×${W}, B=1, train mode: ${times[Math.floor(times.length / 2)]!.toFixed(2)} s per iteration (median of ${runs}; ${times.map((x) => x.toFixed(2)).join(', ')})`);
console.log(`  peak RSS ${hwm.toFixed(2)} GB (reference: above 12 GB)`);
