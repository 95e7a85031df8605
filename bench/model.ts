// Full-size SOC++ forward: wall time, per-stage times and peak RSS beside the reference's numbers
// (official code, PyTorch 1.13.1 CPU, 2 threads, measured on this machine).
//   npx tsx bench/model.ts [--preset socpp-swin-t] [--frames 8] [--size 360x640] [--runs 3] [--sampling gather]
import { loadSocConfig } from '../src/models/soc/config.js';
import { SOC } from '../src/models/soc/soc.js';
import * as torch from '../src/tensor/index.js';
import { readFileSync } from 'node:fs';

const arg = (name: string, dflt: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1]! : dflt;
};
const presets = arg('preset', 'socpp-swin-t,socpp-swin-b').split(',');
const T = Number(arg('frames', '8'));
const [H, W] = arg('size', '360x640').split('x').map(Number) as [number, number];
const runs = Number(arg('runs', '3'));
const sampling = arg('sampling', 'gather') as 'gather' | 'gridSample';
torch.setNumThreads(Number(arg('threads', '2')));

const REFERENCE: Record<string, { total: number; backbone: number; transformer?: number; maskHead?: number; text?: number; rss: number }> = {
  'socpp-swin-t@8x360x640': { total: 30.7, backbone: 14.9, transformer: 13.6, maskHead: 1.1, text: 0.4, rss: 4.3 },
  'socpp-swin-b@8x360x640': { total: 50.8, backbone: 36.5, transformer: 11.6, rss: 4.5 },
  'socpp-swin-t@8x192x320': { total: 8.4, backbone: NaN, rss: NaN },
};

function peakRssGb(): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
  return m ? Number(m[1]) / 2 ** 20 : NaN;
}

const MASK_HEAD = 'mask head (FPN + dynamic convs)';
// Stage boundaries, by the hook that closes each stage.
const STAGES: [string, string][] = [
  ['backbone', 'hooks.backbone:1.3'],
  ['text encoder', 'hooks.method.SOC.forward_text:1'],
  ['fusion + input proj', 'hooks_in.transformer:4'],
  ['deformable transformer', 'hooks.transformer:6'],
  ['VOC + BMRW + fusion', 'hooks.query_fusion'],
  ['class/box heads', 'hooks_in.spatial_decoder:0'],
];

for (const preset of presets) {
  const model = new SOC(loadSocConfig(preset), { sampling }).eval();
  const video = torch.randn([T, 1, 3, H, W]).keep();
  const videoMask = torch.zeros([T, 1, H, W], { dtype: 'bool' }).keep();
  const tokens = (n: number) => torch.tensor(Array.from({ length: n }, () => [0, ...Array.from({ length: 10 }, (_, i) => 100 + i), 2])).keep();
  for (const sentences of [1, 5]) {
    const inputIds = tokens(sentences);
    const attentionMask = torch.onesLike(inputIds).keep();
    const targetSizes = torch.tensor(Array.from({ length: sentences }, () => [H, W])).keep();
    const once = () => {
      const times = new Map<string, number>();
      let last = performance.now();
      const start = last;
      const stageOf = new Map(STAGES.map(([name, hook]) => [hook, name]));
      const hook = (k: string) => {
        const stage = stageOf.get(k);
        if (stage) {
          const now = performance.now();
          times.set(stage, (times.get(stage) ?? 0) + (now - last) / 1000);
          last = now;
        }
      };
      torch.noGrad(() =>
        torch.tidy(() => {
          // one backbone pass shared by all sentences, as `soc segment` does
          const features = model.encodeVideo(video, videoMask, { hook });
          for (let s = 0; s < sentences; s++) {
            model.decode(features, { inputIds: inputIds.slice(0, s, s + 1), attentionMask: attentionMask.slice(0, s, s + 1), targetSizes: targetSizes.slice(0, s, s + 1) }, { hook });
            const now = performance.now();
            times.set(MASK_HEAD, (times.get(MASK_HEAD) ?? 0) + (now - last) / 1000);
            last = now;
          }
          return null;
        }),
      );
      const end = performance.now();
      return { total: (end - start) / 1000, times };
    };
    once(); // warm-up
    const results = Array.from({ length: runs }, once).sort((a, b) => a.total - b.total);
    const med = results[Math.floor(results.length / 2)]!;
    const key = `${preset}@${T}x${H}x${W}`;
    const ref = REFERENCE[key];
    console.log(`\n${key}, ${sentences} sentence(s), sampling ${sampling}: ${med.total.toFixed(2)} s (median of ${runs}; runs ${results.map((r) => r.total.toFixed(2)).join(', ')})`);
    if (ref && sentences === 1) console.log(`  reference ${ref.total} s → ratio ${(med.total / ref.total).toFixed(2)}`);
    for (const [stage, sec] of med.times) {
      const r = stage === 'backbone' ? ref?.backbone : stage === 'deformable transformer' ? ref?.transformer : stage.startsWith('mask head') ? ref?.maskHead : stage === 'text encoder' ? ref?.text : undefined;
      const ratio = r && sentences === 1 && Number.isFinite(r) ? `  (reference ${r} s, ratio ${(sec / r).toFixed(2)})` : '';
      console.log(`  ${stage.padEnd(32)} ${sec.toFixed(2)} s${ratio}`);
    }
    console.log(`  peak RSS so far ${peakRssGb().toFixed(2)} GB${ref && Number.isFinite(ref.rss) ? ` (reference ${ref.rss} GB)` : ''}`);
  }
  model.dispose();
}
