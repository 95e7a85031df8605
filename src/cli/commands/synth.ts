// `soc synth`: write the synthetic referring-video dataset (src/data/synth.ts).

import { Command, Option } from 'commander';
import cliProgress from 'cli-progress';
import { UsageError } from '../../errors.js';
import { generateSynthDataset, SYNTH_DEFAULTS, type SynthFormat } from '../../data/synth.js';

function parseInteger(name: string) {
  return (value: string): number => {
    if (!/^\d+$/.test(value)) throw new UsageError(`${name} must be a non-negative integer, got ${JSON.stringify(value)}`);
    return Number(value);
  };
}

function parseSize(value: string): { height: number; width: number } {
  const m = /^(\d+)x(\d+)$/i.exec(value.trim());
  if (!m) throw new UsageError(`--size must look like 96x160 (height x width), got ${JSON.stringify(value)}`);
  return { height: Number(m[1]), width: Number(m[2]) };
}

export function register(program: Command): void {
  program
    .command('synth')
    .description(
      'write a synthetic referring-video dataset (moving shapes, expressions such as "the small red circle moving left", ' +
        'some referring to several objects) in the MeViS or Ref-YouTube-VOS layout, with train and valid splits (both with ground truth)',
    )
    .requiredOption('--out <dir>', 'output folder (written to a temporary folder, then renamed)')
    .requiredOption('--videos <n>', 'number of videos', parseInteger('--videos'))
    .requiredOption('--seed <s>', 'random seed: the same seed gives byte-identical files', parseInteger('--seed'))
    .option('--frames <f>', 'frames per video (default: 8 to 12, varying per video)', parseInteger('--frames'))
    .option('--size <HxW>', 'frame size, height x width', `${SYNTH_DEFAULTS.height}x${SYNTH_DEFAULTS.width}`)
    .option('--valid-fraction <x>', 'share of videos in the valid split', (v) => Number(v), SYNTH_DEFAULTS.validFraction)
    .addOption(new Option('--format <layout>', 'mevis: both MeViS layouts, multi-object expressions; ytvos: Ref-YouTube-VOS, single-object').choices(['mevis', 'ytvos']).default('mevis'))
    .option('--force', 'replace the output folder if it exists')
    .option('--quiet', 'no progress output')
    .action(async (opts: { out: string; videos: number; seed: number; frames?: number; size: string; validFraction: number; format: SynthFormat; force?: boolean; quiet?: boolean }) => {
      const size = parseSize(opts.size);
      const showProgress = !opts.quiet && opts.videos >= 20;
      const bar =
        showProgress && process.stderr.isTTY
          ? new cliProgress.SingleBar({ stream: process.stderr, format: 'synth [{bar}] {value}/{total} videos | ETA {eta}s', hideCursor: true }, cliProgress.Presets.shades_classic)
          : null;
      let lastReported = 0;
      bar?.start(opts.videos, 0);
      const start = Date.now();
      try {
        const summary = await generateSynthDataset({
          out: opts.out,
          videos: opts.videos,
          seed: opts.seed,
          frames: opts.frames ?? null,
          height: size.height,
          width: size.width,
          validFraction: opts.validFraction,
          format: opts.format,
          force: opts.force ?? false,
          onProgress: (done, total) => {
            if (bar) bar.update(done);
            else if (showProgress && (done === total || done - lastReported >= Math.ceil(total / 10))) {
              lastReported = done;
              process.stderr.write(`synth: ${done}/${total} videos\n`);
            }
          },
        });
        bar?.stop();
        const line = (name: string, s: typeof summary.train) =>
          `${name}: ${s.videos} videos, ${s.frames} frames, ${s.objects} objects, ${s.expressions} expressions (${s.multiObjectExpressions} multi-object)`;
        process.stdout.write(
          `wrote ${summary.out} (${summary.format} layout) in ${((Date.now() - start) / 1000).toFixed(1)} s\n  ${line('train', summary.train)}\n  ${line('valid', summary.valid)}\n`,
        );
      } catch (e) {
        bar?.stop();
        throw e;
      }
    });
}
