// `soc check-golden-train TRAIN_DIR --model-dir FORWARD_DIR`: replays a training fixture folder
// (matcher, losses, gradients, clipping, AdamW steps) and compares every stored tensor, one row
// per tensor.

import type { Command } from 'commander';
import type { DeformSampling } from '../../models/index.js';
import { positiveNumber, samplingOption } from '../options.js';
import { pinAvx2Kernels } from '../../native/kernels.js';
import { replayGoldenTrain, type TrainRowGroup } from '../../training/golden-train.js';

export function register(program: Command): void {
  program
    .command('check-golden-train')
    .description('replay a training fixture folder made by the official code (matcher, losses, gradients, AdamW steps) and compare every stored tensor')
    .argument('<train-dir>', 'training fixture folder: train.json, targets/losses/grads/params_after .safetensors')
    .requiredOption('--model-dir <dir>', 'the forward fixture folder it builds on (config.json, weights, inputs.safetensors)')
    .option('--tol <x>', 'relative tolerance of losses, totals and norms', positiveNumber, 1e-5)
    .option('--grad-tol <x>', 'relative L2 tolerance per gradient (and forward output) tensor', positiveNumber, 1e-4)
    .option('--param-tol <x>', 'parameters after a step may differ by this fraction of their lr (plus 2 ulp)', positiveNumber, 0.05)
    .addOption(samplingOption('gridSample'))
    .option('--native-kernels', "keep this CPU's fastest kernels instead of pinning the AVX2 ones the fixtures were made with")
    .option('--failures-only', 'print only the rows that failed or are missing')
    .action(async (trainDir: string, opts: { modelDir: string; tol: number; gradTol: number; paramTol: number; sampling: DeformSampling; nativeKernels?: boolean; failuresOnly?: boolean }) => {
      const pinned = opts.nativeKernels ? false : pinAvx2Kernels();
      const started = Date.now();
      const report = replayGoldenTrain(trainDir, {
        modelDir: opts.modelDir,
        lossTol: opts.tol,
        gradTol: opts.gradTol,
        paramLrFraction: opts.paramTol,
        sampling: opts.sampling,
        onCase: (c) => process.stderr.write(`case ${c} done (${((Date.now() - started) / 1000).toFixed(1)} s)\n`),
      });
      const width = Math.max(...report.rows.map((r) => r.name.length), 10);
      const lines: string[] = [];
      for (const r of report.rows) {
        if (opts.failuresOnly && r.status === 'ok') continue;
        const err = r.status === 'missing' ? '-' : r.err.toExponential(2);
        const note = r.note ? `  ${r.note}` : '';
        lines.push(`${r.status.padEnd(7)} ${r.name.padEnd(width)} ${`[${r.shape.join(',')}]`.padEnd(16)} ${err.padStart(9)}  ${r.metric}${note}\n`);
      }
      const groups = new Map<TrainRowGroup, { n: number; max: number }>();
      for (const r of report.rows) {
        if (r.status === 'missing') continue;
        const g = groups.get(r.group) ?? { n: 0, max: 0 };
        g.n++;
        g.max = Math.max(g.max, r.relErr);
        groups.set(r.group, g);
      }
      for (const [g, v] of groups) process.stderr.write(`${g.padEnd(8)} ${String(v.n).padStart(5)} rows, max rel err ${v.max.toExponential(2)}\n`);
      process.stderr.write(`kernels: ${pinned ? 'AVX2 (pinned, as the fixtures were made)' : 'native'}; sampling: ${opts.sampling}\n`);
      lines.push(`max_rel_err=${report.maxRelErr.toExponential(3)} compared=${report.compared} failed=${report.failed}${report.missing ? ` missing=${report.missing}` : ''}\n`);
      if (report.failed > 0 || report.missing > 0) process.exitCode = 1;
      // The caller exits the process right after: wait until a piped stdout has taken everything.
      await new Promise<void>((resolve, reject) => process.stdout.write(lines.join(''), (e) => (e ? reject(e) : resolve())));
    });
}
