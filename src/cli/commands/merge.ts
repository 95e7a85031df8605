// `soc merge`: combines the folders of a sharded `soc eval` / `soc predict` run into the final results.

import type { Command } from 'commander';
import { mergeRuns } from '../../evaluation/protocols/runner.js';

export function register(program: Command): void {
  program
    .command('merge')
    .description('combine the shard folders of a soc eval / soc predict run (--shard i/n) into one folder with the final results')
    .argument('<parts...>', 'run folders (the --out of each shard)')
    .requiredOption('--out <dir>', 'the merged run folder (written atomically; equal to an unsharded run)')
    .option('--force', 'replace --out if it exists')
    .addHelpText('after', '\nExample:\n  soc merge runs/mevis-1 runs/mevis-2 runs/mevis-3 --out runs/mevis')
    .action((parts: string[], o: { out: string; force?: boolean }) => {
      const { manifest, results } = mergeRuns(parts, o.out, { force: o.force });
      process.stderr.write(`merged ${parts.length} folder(s): ${manifest.units.length} videos of ${manifest.dataset} ${manifest.split} → ${o.out}\n`);
      process.stdout.write(`${results.text}\n`);
    });
}
