// `soc check-golden DIR`: replays a golden fixture folder (config.json, weights, inputs.safetensors,
// outputs.safetensors) and compares every stored tensor, one row per tensor.

import type { Command } from 'commander';
import type { DeformSampling } from '../../models/index.js';
import { positiveNumber, samplingOption } from '../options.js';
import { replayGolden } from '../../inference/golden.js';
import { pinAvx2Kernels } from '../../native/kernels.js';

export function register(program: Command): void {
  program
    .command('check-golden')
    .description('replay a golden fixture folder made by the official code and compare every stored tensor')
    .argument('<dir>', 'fixture folder: config.json, weights.safetensors or checkpoint.pth, inputs.safetensors, outputs.safetensors')
    .option('--tol <x>', 'absolute tolerance for float tensors', positiveNumber, 1e-4)
    .option('--logit-margin <x>', 'binary-mask pixels may differ where the stored logit is within this of 0', positiveNumber, 1e-3)
    .option('--weights <file>', 'weights to load instead of DIR/weights.safetensors')
    .addOption(samplingOption('gridSample'))
    .option('--native-kernels', "keep this CPU's fastest kernels instead of pinning the AVX2 ones the fixtures were made with")
    .option('--failures-only', 'print only the rows that failed or are missing')
    .action((dir: string, opts: { tol: number; logitMargin: number; weights?: string; sampling: DeformSampling; nativeKernels?: boolean; failuresOnly?: boolean }) => {
      const pinned = opts.nativeKernels ? false : pinAvx2Kernels();
      const started = Date.now();
      const report = replayGolden(dir, {
        tol: opts.tol,
        logitMargin: opts.logitMargin,
        weights: opts.weights,
        sampling: opts.sampling,
        onPass: (p) => process.stderr.write(`pass ${p} done (${((Date.now() - started) / 1000).toFixed(1)} s)\n`),
      });
      const width = Math.max(...report.rows.map((r) => r.name.length), 10);
      for (const r of report.rows) {
        if (opts.failuresOnly && r.status === 'ok') continue;
        const err = r.status === 'missing' ? '-' : r.maxAbsErr.toExponential(2);
        const note = r.note ? `  ${r.note}` : '';
        process.stdout.write(`${r.status.padEnd(7)} ${r.name.padEnd(width)} [${r.shape.join(',')}]`.padEnd(width + 30) + ` ${err}${note}\n`);
      }
      process.stderr.write(`kernels: ${pinned ? 'AVX2 (pinned, as the fixtures were made)' : 'native'}; sampling: ${opts.sampling}\n`);
      process.stdout.write(`max_abs_err=${report.maxAbsErr.toExponential(3)} compared=${report.compared} failed=${report.failed} missing=${report.missing}\n`);
      if (report.failed > 0) process.exitCode = 1;
    });
}
