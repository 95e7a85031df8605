// `soc train`: trains SOC++ / SOC as the reference trainer does (see src/training/trainer.ts), on
// Ref-YouTube-VOS, MeViS, A2D-Sentences, JHMDB-Sentences or a `soc synth` dataset.

import { Command, InvalidArgumentError, Option } from 'commander';
import type { DeformSampling } from '../../models/index.js';
import cliProgress from 'cli-progress';
import { presetNames } from '../../models/soc/config.js';
import { DATASET_KINDS } from '../../training/data/sources.js';
import { WINDOW_SAMPLINGS, type WindowSampling } from '../../training/data/windows.js';
import { TRAIN_CONFIG_PRESETS, type TrainEvent, type TrainOptions, train } from '../../training/trainer.js';
import { collect, parseOverrides, positiveInt, samplingOption } from '../options.js';

/** Commander's view of the options: TrainOptions' fields, plus the CLI's spellings of the rest. */
type TrainCliOptions = Omit<TrainOptions, 'overrides' | 'evaluate' | 'signal' | 'onEvent'> & {
  set: string[];
  eval: boolean;
  progress: boolean;
  sampling: DeformSampling;
  windowSampling?: WindowSampling;
  expressionsPerClip?: number;
};

function nonNegativeInt(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('expected a whole number >= 0');
  return n;
}

function epochList(v: string, previous: number[] | undefined): number[] {
  const values = v.split(',').map((x) => Number(x.trim()));
  if (values.some((x) => !Number.isInteger(x) || x < 1)) throw new InvalidArgumentError('expected epoch numbers >= 1, e.g. --lr-drop 20 or --lr-drop 15,20');
  return [...(previous ?? []), ...values];
}

export function register(program: Command): void {
  program
    .command('train')
    .description('train SOC++ / SOC on a referring video segmentation dataset, as the reference trainer does')
    .option('--config <config>', `model and training config: a preset (${[...presetNames(), ...TRAIN_CONFIG_PRESETS].join(', ')}), a reference YAML (configs/mevis.yaml …) or a JSON file (required, except with --resume: the run folder's config.json)`)
    .addOption(new Option('--dataset <name>', 'dataset layout of --data-root').choices([...DATASET_KINDS]).makeOptionMandatory())
    .requiredOption('--data-root <dir>', 'the dataset folder (for synth: the folder `soc synth --out` wrote)')
    .option('--pretrained-backbone <file>', 'Kinetics Video-Swin weights (swin_tiny_patch244_window877_kinetics400_1k.pth)')
    .option('--text-encoder <dir>', 'the roberta-base folder (config.json, weights, tokenizer files)')
    .option('--tokenizer <dir>', 'tokenizer folder, if not the --text-encoder one (default for synth: a BPE of the synthetic vocabulary; with --resume: the run folder\'s)')
    .option('--init <file>', 'start from these model weights, class_embed dropped (fine-tuning, the reference\'s -pw)')
    .option('--resume <file>', 'continue a run from one of its checkpoints (optimizer, schedule, epoch, random state, data order)')
    .option('--epochs <n>', 'total epochs (default: the config\'s, else 30)', positiveInt)
    .option('--lr-drop <epochs>', 'MultiStepLR milestones, comma-separated or repeated (default: the config\'s lr_drop, else 20; with --resume: the checkpoint\'s, and a given list replaces them)', epochList)
    .option('--batch-size <n>', 'clips per iteration (default 1)', positiveInt)
    .option('--window <n>', 'frames per training clip, T (default 8)', positiveInt)
    .addOption(
      new Option('--window-sampling <how>', 'how videos are cut into training clips: consecutive windows (the reference) or strided ones, each spread over the whole video (config key window_sampling)').choices(
        WINDOW_SAMPLINGS,
      ),
    )
    .option('--expressions-per-clip <n>', 'expressions trained on each clip, sharing its backbone pass (default 1, the reference; config key expressions_per_clip)', positiveInt)
    .option('--out <dir>', 'run folder: config.json, tokenizer/, checkpoints/, log.jsonl, loss.png (default with --resume: the checkpoint\'s run folder)')
    .option('--set <key=value>', 'override a config value, e.g. --set lr=1e-4 or --set DeformTransformer.num_queries=10 (repeatable)', collect, [])
    .option('--seed <n>', 'seed of the model initialisation, dropouts, data order and augmentations (default: the config\'s seed, else 42; with --resume: the run\'s)', nonNegativeInt)
    .option('--deterministic', 'one libtorch thread, so reruns and resumed runs are bit-identical')
    .option('--threads <n>', 'intra-op threads for libtorch', positiveInt)
    .option('--max-iters <n>', 'at most N iterations per epoch (quick runs); evaluation and the checkpoint follow', positiveInt)
    .option('--workers <n>', 'data-loading worker threads (0: load on the main thread)', nonNegativeInt, 1)
    .option('--prefetch <n>', 'batches prepared ahead of the model', nonNegativeInt, 2)
    .option('--samples-metadata <file>', 'a train_samples_metadata_win_size_T.json to use instead of generating the sample list')
    .option('--no-eval', 'skip the evaluation after each epoch')
    .option('--eval-limit <n>', 'evaluate on the first N validation videos (A2D/JHMDB: samples) only', positiveInt)
    .addOption(samplingOption('gather'))
    .option('--no-progress', 'no progress bar (one line per epoch)')
    .addHelpText(
      'after',
      '\nExamples:\n' +
        '  soc synth --out data/synth --videos 400 --seed 1\n' +
        '  soc train --config synth-small --dataset synth --data-root data/synth --out runs/synth\n' +
        '  soc train --config configs/mevis.yaml --dataset mevis --data-root /data/mevis --pretrained-backbone swin_tiny_patch244_window877_kinetics400_1k.pth \\\n' +
        '      --text-encoder pretrained/pretrained_roberta --epochs 30 --lr-drop 20 --window 8 --out runs/mevis\n' +
        '  soc train --config configs/mevis.yaml --dataset mevis --data-root /data/mevis --resume runs/mevis/checkpoints/03.pth.tar\n' +
        '\nThen: soc segment --checkpoint runs/synth/checkpoints/best.pth.tar --config runs/synth/config.json --tokenizer runs/synth/tokenizer …',
    )
    .action(async (opts: TrainCliOptions) => {
      const log = (m: string) => process.stderr.write(`${m}\n`);
      const useBar = opts.progress && process.stderr.isTTY;
      // the bar of the epoch in progress (in an object: the event handler reassigns it)
      const ui: { bar: cliProgress.SingleBar | null } = { bar: null };
      let recent: number[] = [];
      const controller = new AbortController();
      const onSignal = () => {
        if (controller.signal.aborted) process.exit(130);
        log('\nstopping after this iteration (the epoch in progress is not saved; Ctrl-C again to quit now)');
        controller.abort();
      };
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);
      const onEvent = (e: TrainEvent) => {
        switch (e.type) {
          case 'info':
            log(e.message);
            break;
          case 'epoch-start':
            recent = [];
            if (useBar) {
              ui.bar = new cliProgress.SingleBar(
                { format: `epoch ${e.epoch + 1}/${e.epochs} |{bar}| {value}/{total} | loss {loss} | lr {lr} | {speed} it/s | ETA {eta_formatted}`, stream: process.stderr, etaBuffer: 20 },
                cliProgress.Presets.shades_classic,
              );
              ui.bar.start(e.batches, 0, { loss: '-', lr: '-', speed: '-' });
            }
            break;
          case 'iteration': {
            recent.push(e.stepSeconds + e.dataSeconds);
            if (recent.length > 20) recent.shift();
            const speed = recent.length / recent.reduce((a, b) => a + b, 0);
            ui.bar?.update(e.batch + 1, { loss: e.loss.toFixed(4), lr: e.lr.toExponential(1), speed: speed.toFixed(2) });
            break;
          }
          case 'epoch-end':
            ui.bar?.stop();
            ui.bar = null;
            log(`epoch ${e.epoch + 1}: loss ${e.loss.toFixed(4)} (mean ${e.meanLoss.toFixed(4)} over ${e.iterations} iterations) in ${e.seconds.toFixed(1)} s`);
            break;
          case 'eval-start':
            log('evaluating…');
            break;
          case 'eval':
            if (e.result?.metric) {
              const values = Object.entries(e.result.values).map(([k, v]) => `${k} ${v.toFixed(4)}`).join(', ');
              log(`evaluation (${e.result.count} ${e.result.metric.name === 'J&F' ? 'expressions' : 'samples'}, ${e.result.seconds.toFixed(1)} s): ${values}`);
            }
            break;
          case 'checkpoint':
            log(`saved ${e.path}${e.best ? ' (best so far → best.pth.tar)' : ''}`);
            break;
        }
      };
      try {
        const { set, eval: evaluate, progress: _progress, windowSampling, expressionsPerClip, ...trainOptions } = opts;
        // data options kept in the run's config.json, so --resume continues with them
        const overrides = {
          ...(windowSampling ? { window_sampling: windowSampling } : {}),
          ...(expressionsPerClip ? { expressions_per_clip: expressionsPerClip } : {}),
          ...parseOverrides(set),
        };
        const summary = await train({ ...trainOptions, overrides, evaluate, signal: controller.signal, onEvent });
        const best = summary.best ? `, best ${summary.best.name} ${summary.best.value.toFixed(4)}` : '';
        log(
          `${summary.interrupted ? 'interrupted' : 'done'}: ${summary.epochsRun} epoch(s), ${summary.iterations} iterations in total${best}; ` +
            `${summary.secondsPerIteration.toFixed(3)} s per step, ${summary.dataSecondsPerIteration.toFixed(3)} s waiting for data per iteration → ${summary.out}`,
        );
        if (summary.interrupted) process.exitCode = 130;
      } finally {
        ui.bar?.stop();
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
      }
    });
}
