// `soc predict`: the Ref-YouTube-VOS / MeViS challenge-server submission (Annotations/ + zip).

import { type Command, Option } from 'commander';
import { openVideoProtocol, type VideoProtocolName } from '../../evaluation/protocols/video-protocols.js';
import { addRunOptions, resizeOverride, type RunCliOptions, runFromCli } from './eval.js';
import { positiveInt } from '../options.js';

interface PredictCliOptions extends RunCliOptions {
  dataset: 'ref-youtube-vos' | 'mevis';
  out: string;
  protocol?: VideoProtocolName;
}

export function register(program: Command): void {
  const cmd = program
    .command('predict')
    .description('write the challenge-server submission of a split: Annotations/<video>/<exp_id>/<frame>.png (0/255 grayscale) and submission.zip')
    .addOption(new Option('--dataset <name>', 'benchmark').choices(['ref-youtube-vos', 'mevis']).makeOptionMandatory());
  addRunOptions(cmd)
    .option('--split <name>', 'split to predict (Ref-YouTube-VOS valid drops the videos of meta_expressions/test)', 'valid')
    .requiredOption('--out <dir>', 'run folder: Annotations/ (each video appears complete), submission.zip once every video is done')
    .addOption(new Option('--protocol <name>', "'trainer' (main.py evaluation; MeViS in ≤ 80-frame chunks, lowercased text) or 'infer' (infer_*.py: whole videos, raw text)").choices(['trainer', 'infer']))
    .option('--clip-frames <n>', 'trainer protocol: frames per forward (MeViS default 80, Ref-YouTube-VOS whole videos)', positiveInt)
    .option('--samples <file>', "trainer protocol: the reference's valid_samples_metadata.json, whose chunks are used as they are")
    .addHelpText(
      'after',
      '\nThe zip holds the top-level folder Annotations/ as the servers expect. Long splits: --shard i/n on several\n' +
        'machines, then `soc merge` builds the complete Annotations/ and the zip; --resume continues a stopped run.\n\n' +
        'Example:\n  soc predict --dataset ref-youtube-vos --data-root data/ref-youtube-vos --checkpoint ytvos.pth --text-encoder roberta-base --out runs/ytvos',
    )
    .action(async (o: PredictCliOptions) => {
      await runFromCli('predict', o, o.out, () =>
        openVideoProtocol('predict', {
          dataset: o.dataset,
          root: o.dataRoot,
          split: o.split ?? 'valid',
          protocol: o.protocol,
          chunkFrames: o.clipFrames,
          samplesFile: o.samples,
          resize: resizeOverride(o, { shortSide: 360, maxSize: 640 }),
        }),
      );
    });
}
