// Seconds per training iteration (forward + matcher + losses + backward + clip + AdamW) of the tiny
// fixture model on the fixture's clip and targets, in train mode (dropouts active), native kernels,
// median of 10 after 2 warm-ups, against the reference measured on this machine (official code,
// PyTorch 1.13.1 CPU, 2 threads, same model, inputs and targets).
//   npx tsx bench/train-step.ts [--threads N] [--sampling gather|gridSample] [--shared DIR]
import { cpus, loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { loadSafetensors, loadStateDict } from '../src/io/checkpoint.js';
import { loadSocConfig } from '../src/models/soc/config.js';
import { SOC } from '../src/models/soc/soc.js';
import type { DeformSampling } from '../src/models/transformer/deformable_transformer.js';
import * as torch from '../src/tensor/index.js';
import { buildCriterion } from '../src/training/criterion.js';
import { targetsFrom } from '../src/training/golden-train.js';
import { AdamW, clipGradNorm, trainerParamGroups } from '../src/training/optim.js';

const REFERENCE = { total: '0.35–0.50', forward: '0.14–0.21', losses: '≈ 0.013', backward: '0.16–0.24', clipAdam: '≈ 0.03', rssGb: 0.44 };

const arg = (name: string, fallback: string) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1]! : fallback;
};
const threads = Number(arg('--threads', '2'));
const sampling = arg('--sampling', 'gather') as DeformSampling;
const shared = resolve(arg('--shared', join(import.meta.dirname, '..', '..', 'shared')));
const modelDir = join(shared, 'golden', 'socpp_tiny');
const trainDir = join(shared, 'golden', 'socpp_tiny_train');
torch.setNumThreads(threads);

const config = loadSocConfig(join(modelDir, 'config.json'));
const model = new SOC(config, { sampling });
const weights = loadStateDict(join(modelDir, 'weights.safetensors'));
model.loadStateDict(weights);
for (const t of weights.values()) t.dispose();
model.train();
const criterion = buildCriterion(config);
const optimizer = new AdamW(trainerParamGroups(model, { lr: config.lr as number, lrBackbone: config.lr_backbone as number, textEncoderLr: config.text_encoder_lr as number, weightDecay: config.weight_decay as number }));
const inputs = loadSafetensors(join(modelDir, 'inputs.safetensors'));
const targets = targetsFrom(loadSafetensors(join(trainDir, 'targets.safetensors')), 'targets.');
const batch = {
  video: inputs.get('video')!,
  videoMask: inputs.get('video_mask')!,
  inputIds: inputs.get('input_ids')!,
  attentionMask: inputs.get('attention_mask')!,
  targetSizes: torch.tensor(targets[0]!.map((t) => t.size), { dtype: 'int64' }).keep(),
};

interface Phases {
  forward: number;
  losses: number;
  backward: number;
  clipAdam: number;
  total: number;
  /** user + system CPU seconds of the whole iteration, all threads (a loaded machine inflates wall time, not this) */
  cpu: number;
}
const now = () => Number(process.hrtime.bigint()) / 1e9;

function iteration(): Phases {
  const c0 = process.cpuUsage();
  const t0 = now();
  let t1 = 0;
  let t2 = 0;
  let t3 = 0;
  torch.tidy(() => {
    const out = model.forward(batch);
    t1 = now();
    const { total } = criterion.forward(out, targets);
    total.item(); // the trainer reads the loss (finite check) every iteration
    t2 = now();
    optimizer.zeroGrad();
    total.backward();
    t3 = now();
    clipGradNorm(model.parameters(), 0.1);
    optimizer.step();
    return null;
  });
  const t4 = now();
  const c = process.cpuUsage(c0);
  return { forward: t1 - t0, losses: t2 - t1, backward: t3 - t2, clipAdam: t4 - t3, total: t4 - t0, cpu: (c.user + c.system) / 1e6 };
}

iteration();
iteration();
const runs: Phases[] = Array.from({ length: 10 }, iteration);
const median = (k: keyof Phases) => {
  const v = runs.map((r) => r[k]).sort((a, b) => a - b);
  return (v[4]! + v[5]!) / 2;
};
const rssGb = process.resourceUsage().maxRSS / 1024 / 1024;
const f = (k: keyof Phases) => median(k).toFixed(3);
console.log(`SOC++ tiny fixture model, T=3 B=1 72×104, train mode, ${threads} threads, native kernels, deformable core '${sampling}'`);
console.log(`  per iteration (median of 10 after 2 warm-ups): ${f('total')} s   reference ${REFERENCE.total} s`);
console.log(`    forward        ${f('forward')} s   reference ${REFERENCE.forward}`);
console.log(`    matcher+losses ${f('losses')} s   reference ${REFERENCE.losses}`);
console.log(`    backward       ${f('backward')} s   reference ${REFERENCE.backward}`);
console.log(`    clip + AdamW   ${f('clipAdam')} s   reference ${REFERENCE.clipAdam}`);
console.log(`  median CPU time per iteration (user + system, all threads): ${f('cpu')} s`);
console.log(`  runs (wall): ${runs.map((r) => r.total.toFixed(3)).join(' ')}`);
console.log(`  load average at the end: ${loadavg()[0]!.toFixed(2)} on ${cpus().length} CPUs`);
console.log(`  peak RSS: ${rssGb.toFixed(2)} GB   reference ≈ ${REFERENCE.rssGb} GB`);
