// J and F per 480×854 frame (what `soc score` spends its time on), beside the reference's Python
// evaluator (davis2017/metrics.py: db_eval_iou, db_eval_boundary) on the same masks when available.
//   npx tsx bench/score.ts [--frames 50] [--reference /path/to/MRVS_SOC]
// The reference needs python3 with numpy, opencv and scikit-image (Debian: python3-opencv python3-skimage).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { boundaryF, jaccard, mask } from '../src/evaluation/jf.js';

const arg = (name: string, dflt: string | undefined) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : dflt;
};
const N = Number(arg('frames', '50'));
const H = 480;
const W = 854;

// Smooth random blobs: a disk per frame moving, plus noise on its border.
let seed = 1;
const rand = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
function blob(cx: number, cy: number, r: number): Uint8Array {
  const m = new Uint8Array(H * W);
  for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) {
    const d = Math.hypot(x - cx, y - cy) + (rand() - 0.5) * 6;
    m[y * W + x] = d < r ? 1 : 0;
  }
  return m;
}
const gts: Uint8Array[] = [];
const preds: Uint8Array[] = [];
for (let i = 0; i < N; i++) {
  gts.push(blob(300 + 3 * i, 240, 120));
  preds.push(blob(305 + 3 * i, 236, 115));
}

const t0 = performance.now();
let sum = 0;
for (let i = 0; i < N; i++) {
  const g = mask(gts[i]!, H, W);
  const p = mask(preds[i]!, H, W);
  sum += jaccard(g, p) + boundaryF(g, p);
}
const ours = (performance.now() - t0) / N;
console.log(`soc-ts: J + F per ${H}×${W} frame: ${ours.toFixed(2)} ms (${N} frames; checksum ${sum.toFixed(6)})`);

const ref = arg('reference', process.env.SOC_REFERENCE_REPO);
if (!ref) {
  console.log('reference: skipped (give --reference /path/to/a MRVS_SOC checkout to time davis2017/metrics.py)');
} else {
  const dir = mkdtempSync(join(tmpdir(), 'soc-bench-score-'));
  try {
    writeFileSync(join(dir, 'gt.bin'), Buffer.concat(gts.map((m) => Buffer.from(m))));
    writeFileSync(join(dir, 'pred.bin'), Buffer.concat(preds.map((m) => Buffer.from(m))));
    const py = `
import sys, time, numpy as np
np.bool = bool  # numpy >= 1.24 removed the alias davis2017/metrics.py uses
sys.path.insert(0, ${JSON.stringify(ref)})
from davis2017.metrics import db_eval_iou, db_eval_boundary
g = np.fromfile(${JSON.stringify(join(dir, 'gt.bin'))}, dtype=np.uint8).reshape(${N}, ${H}, ${W})
p = np.fromfile(${JSON.stringify(join(dir, 'pred.bin'))}, dtype=np.uint8).reshape(${N}, ${H}, ${W})
t = time.perf_counter(); s = 0.0
for i in range(${N}):
    s += float(db_eval_iou(g[i:i+1], p[i:i+1])[0]) + float(db_eval_boundary(g[i:i+1], p[i:i+1])[0])
print(f"{(time.perf_counter() - t) / ${N} * 1000:.2f} {s:.6f}")
`;
    const r = spawnSync('python3', ['-c', py], { encoding: 'utf8' });
    if (r.status !== 0) {
      console.log(`reference: could not run (${r.stderr.trim().split('\n').pop()})`);
    } else {
      const [ms, check] = r.stdout.trim().split(' ');
      console.log(`reference (davis2017/metrics.py): ${ms} ms per frame (checksum ${check}); ratio soc-ts/reference ${(ours / Number(ms)).toFixed(2)}`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
