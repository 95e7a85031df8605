// `soc eval`: runs a model over a benchmark split with the reference's protocol and prints the
// paper's metrics; resumable and shardable (see src/evaluation/protocols/run-folder.ts).

import { join } from 'node:path';
import { type Command, InvalidArgumentError, Option } from 'commander';
import type { DeformSampling } from '../../models/index.js';
import cliProgress from 'cli-progress';
import { exists } from '../../data/files.js';
import { UsageError } from '../../errors.js';
import { ReferringSegmenter } from '../../inference/predictor.js';
import type { ResizeRule } from '../../media/preprocess.js';
import { presetNames } from '../../models/soc/config.js';
import { openA2dProtocol } from '../../evaluation/protocols/a2d.js';
import type { Protocol } from '../../evaluation/protocols/protocol.js';
import { openRefDavisProtocol } from '../../evaluation/protocols/ref-davis.js';
import { MANIFEST, parseShard, type Shard } from '../../evaluation/protocols/run-folder.js';
import { runProtocol } from '../../evaluation/protocols/runner.js';
import { type VideoProtocolName, openVideoProtocol } from '../../evaluation/protocols/video-protocols.js';
import { setNumThreads } from '../../tensor/runtime.js';
import { collect, parseOverrides, positiveInt, samplingOption } from '../options.js';

/** Options shared by `soc eval` and `soc predict`. */
export interface RunCliOptions {
  dataRoot: string;
  split?: string;
  checkpoint: string;
  config?: string;
  textEncoder?: string;
  tokenizer?: string;
  set: string[];
  out?: string;
  shard?: Shard;
  resume?: boolean;
  protocol?: VideoProtocolName;
  clipFrames?: number;
  samples?: string;
  shortSide?: number;
  maxSize?: number;
  threads?: number;
  sampling: DeformSampling;
  progress: boolean;
}

function shardOption(v: string): Shard {
  try {
    return parseShard(v);
  } catch (e) {
    throw new InvalidArgumentError((e as Error).message.replace(/^--shard must be /, 'expected '));
  }
}

/** Adds the model, run-folder and protocol options shared by `soc eval` and `soc predict`. */
export function addRunOptions(cmd: Command): Command {
  return cmd
    .requiredOption('--data-root <dir>', 'the dataset folder, in the layout of ../shared/spec/datasets.md')
    .requiredOption('--checkpoint <file>', 'model weights: an official trainer checkpoint (.pth/.tar), a state dict or .safetensors')
    .option('--config <config>', `model config: a preset (${presetNames().join(', ')}), a reference YAML or a JSON file (default: config.json next to the checkpoint, else inferred from it)`)
    .option('--text-encoder <dir>', 'the roberta-base folder (config.json, tokenizer.json or vocab.json + merges.txt)')
    .option('--tokenizer <dir>', 'a tokenizer folder, if not the --text-encoder folder')
    .option('--set <key=value>', 'override a config value (repeatable)', collect, [])
    .option('--shard <i/n>', 'process only shard i of n (every n-th video from the i-th); combine the shard folders with soc merge', shardOption)
    .option('--resume', 'continue the run in --out: videos with a result are skipped')
    .option('--short-side <px>', "resize frames to this shorter side instead of the reference's (faster; results are labelled as not comparable)", positiveInt)
    .option('--max-size <px>', "cap on the longer side after resizing instead of the reference's", positiveInt)
    .option('--threads <n>', 'intra-op threads for libtorch', positiveInt)
    .addOption(samplingOption('gather'))
    .option('--no-progress', 'no progress bar');
}

/** The resize rule when --short-side / --max-size override the dataset's. */
export function resizeOverride(o: RunCliOptions, defaults: ResizeRule): ResizeRule | undefined {
  if (o.shortSide === undefined && o.maxSize === undefined) return undefined;
  return { shortSide: o.shortSide ?? defaults.shortSide, maxSize: o.maxSize ?? defaults.maxSize };
}

/** Loads the model, runs the protocol into the run folder with a progress bar, prints the results. */
export async function runFromCli(command: 'eval' | 'predict', o: RunCliOptions, out: string, open: () => Promise<Protocol>): Promise<void> {
  // refuse a used folder before the (slow) dataset scan and model load
  if (exists(join(out, MANIFEST)) && !o.resume) throw new UsageError(`${out} already holds a run; pass --resume to continue it (finished videos are skipped), or choose another --out`);
  const log = (m: string) => process.stderr.write(`${m}\n`);
  const protocol = await open();
  if (o.threads) setNumThreads(o.threads);
  const t0 = Date.now();
  const segmenter = ReferringSegmenter.load(
    { checkpoint: o.checkpoint, config: o.config, textEncoder: o.textEncoder, tokenizer: o.tokenizer, overrides: parseOverrides(o.set) },
    { sampling: o.sampling },
  );
  log(`model: ${segmenter.config.variant === 'socpp' ? 'SOC++' : 'SOC'} (${segmenter.configSource}) loaded in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  const bar = o.progress && process.stderr.isTTY ? new cliProgress.SingleBar({ format: `${command} |{bar}| {value}/{total} videos | {eta_formatted} left | {unit}`, stream: process.stderr }, cliProgress.Presets.shades_classic) : null;
  const started = Date.now();
  try {
    const r = await runProtocol(protocol, {
      segmenter,
      checkpoint: o.checkpoint,
      out,
      shard: o.shard ?? null,
      resume: o.resume,
      info: { dataRoot: o.dataRoot, config: segmenter.configSource, textEncoder: o.textEncoder ?? null, tokenizer: o.tokenizer ?? null },
      onInfo: log,
      onStart: (todo, done) => {
        const scope = o.shard ? `shard ${o.shard.index}/${o.shard.count}: ` : '';
        log(`${scope}${todo} videos to process${done > 0 ? `, ${done} already done (resumed)` : ''} → ${out}`);
        bar?.start(todo, 0, { unit: '' });
      },
      onProgress: (done, total, unit) => {
        if (bar) bar.update(done, { unit });
        else if (o.progress) log(`[${done}/${total}] ${unit} (${((Date.now() - started) / 1000).toFixed(0)} s)`);
      },
    });
    bar?.stop();
    for (const w of new Set(segmenter.warnings)) log(`warning: ${w}`);
    process.stdout.write(`${r.results.text}\n`);
    if (r.results.files.length > 0) log(`written: ${r.results.files.map((f) => join(out, f)).join(', ')}`);
  } finally {
    bar?.stop();
    segmenter.dispose();
  }
}

type EvalDataset = 'mevis' | 'ref-davis' | 'a2d' | 'jhmdb';

interface EvalCliOptions extends RunCliOptions {
  dataset: EvalDataset;
  window?: number;
  seed?: number;
  saveMasks?: boolean;
}

/** The protocol of `soc eval --dataset …` from the CLI options, checking which options apply. */
function openEvalProtocol(o: EvalCliOptions): Promise<Protocol> {
  const refuse = (what: string, ok: boolean) => {
    if (!ok) throw new UsageError(`${what} does not apply to --dataset ${o.dataset}`);
  };
  refuse('--protocol', o.protocol === undefined || o.dataset === 'mevis');
  refuse('--window', o.window === undefined || o.dataset === 'a2d' || o.dataset === 'jhmdb');
  refuse('--seed', o.seed === undefined || o.dataset === 'jhmdb');
  refuse('--samples', o.samples === undefined || o.dataset === 'mevis' || o.dataset === 'jhmdb');
  refuse('--clip-frames', o.clipFrames === undefined || o.dataset === 'mevis' || o.dataset === 'ref-davis');
  refuse('--save-masks', !o.saveMasks || o.dataset === 'mevis' || o.dataset === 'ref-davis');
  refuse('--split', o.split === undefined || o.dataset === 'mevis' || o.dataset === 'ref-davis');
  switch (o.dataset) {
    case 'mevis':
      return openVideoProtocol('eval', {
        dataset: 'mevis',
        root: o.dataRoot,
        split: o.split ?? 'valid_u',
        protocol: o.protocol,
        chunkFrames: o.clipFrames,
        samplesFile: o.samples,
        resize: resizeOverride(o, { shortSide: 360, maxSize: 640 }),
        saveMasks: o.saveMasks,
      });
    case 'ref-davis':
      if (o.split !== undefined && o.split !== 'valid' && o.split !== 'train') throw new UsageError(`--split for ref-davis is valid or train, got ${o.split}`);
      return openRefDavisProtocol({ root: o.dataRoot, split: (o.split ?? 'valid') as 'valid' | 'train', clipFrames: o.clipFrames, resize: resizeOverride(o, { shortSide: 360, maxSize: 640 }), saveMasks: o.saveMasks });
    case 'a2d':
    case 'jhmdb':
      return openA2dProtocol({ dataset: o.dataset, root: o.dataRoot, windowFrames: o.window, resize: resizeOverride(o, { shortSide: 320, maxSize: 576 }), samplesFile: o.samples, seed: o.seed });
  }
}

export function register(program: Command): void {
  const cmd = program
    .command('eval')
    .description("run a model over a benchmark split with the reference's protocol and print the paper's metrics (J&F; mAP, P@K and IoU for A2D / JHMDB)")
    .addOption(new Option('--dataset <name>', 'benchmark').choices(['mevis', 'ref-davis', 'a2d', 'jhmdb']).makeOptionMandatory());
  addRunOptions(cmd)
    .option('--split <name>', 'mevis: a split with ground truth (default valid_u); ref-davis: valid (default) or train')
    .option('--out <dir>', 'run folder: run.json, one result per video (videos/), results.json and .csv (default: eval-<dataset>)')
    .addOption(new Option('--protocol <name>', "mevis: 'trainer' (main.py evaluation: ≤ 80-frame chunks, lowercased text) or 'infer' (infer_mevis.py: whole videos, raw text)").choices(['trainer', 'infer']))
    .option('--clip-frames <n>', 'frames per forward: mevis trainer chunks (default 80), ref-davis clips (default 36)', positiveInt)
    .option('--samples <file>', "the reference's sample list: mevis datasets/mevis/valid_samples_metadata.json (its chunks), jhmdb jhmdb_sentences_samples_metadata_new.json")
    .option('--window <n>', 'a2d / jhmdb: frames around the annotated frame (default 8)', positiveInt)
    .option('--seed <n>', 'jhmdb without --samples: seed of the random frames drawn instead (numbers then differ from the paper)', (v) => Number.parseInt(v, 10))
    .option('--save-masks', 'mevis: also write the masks as Annotations/<video>/<exp>/<frame>.png; ref-davis: anno_<k>/<video>/<frame>.png label maps')
    .addHelpText(
      'after',
      '\nProtocols (../shared/spec/inference-and-eval.md):\n' +
        '  mevis      J&F over every frame of every expression against the union of its objects (valid_u has ground truth)\n' +
        '  ref-davis  36-frame clips, 4 annotator sets merged per set (background 0.1), unsupervised DAVIS evaluation; per set and their mean\n' +
        '  a2d/jhmdb  8-frame windows, every query as a COCO result: mAP (useCats 0), P@0.5…0.9, overall and mean IoU\n\n' +
        'Large splits: run `--shard 1/4` … `--shard 4/4` (any machines), then `soc merge OUT1 … OUT4 --out OUT`.\n' +
        'An interrupted run continues with the same command plus --resume.\n\n' +
        'Examples:\n  soc eval --dataset mevis --data-root data/mevis --checkpoint mevis.tar --text-encoder roberta-base --out runs/mevis\n' +
        '  soc eval --dataset ref-davis --data-root data/ref-davis --checkpoint joint.pth --text-encoder roberta-base --shard 2/3 --out runs/davis-2',
    )
    .action(async (o: EvalCliOptions) => {
      await runFromCli('eval', o, o.out ?? `eval-${o.dataset}`, () => openEvalProtocol(o));
    });
}
