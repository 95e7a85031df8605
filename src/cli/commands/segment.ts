// `soc segment`: segment the object each sentence refers to in a video, a folder of frames or an
// image, writing per-sentence mask PNGs, an overlay video and result.json.

import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import type { DeformSampling } from '../../models/index.js';
import cliProgress from 'cli-progress';
import { UsageError } from '../../errors.js';
import { ReferringSegmenter } from '../../inference/predictor.js';
import { type OutputPart, checkOutputFolder, evalResizeRule, segmentVideo } from '../../inference/segment.js';
import { presetNames } from '../../models/soc/config.js';
import { setNumThreads } from '../../tensor/runtime.js';
import { collect, parseOverrides, positiveInt, positiveNumber, samplingOption } from '../options.js';

interface SegmentCliOptions {
  video: string;
  text: string[];
  texts?: string;
  checkpoint: string;
  config?: string;
  textEncoder?: string;
  tokenizer?: string;
  set: string[];
  out: string;
  fps?: number;
  every?: number;
  start?: number;
  end?: number;
  maxFrames?: number;
  window?: number;
  shortSide?: number;
  maxSize?: number;
  maxMemory?: number;
  threshold: number;
  format: string;
  overlay: string;
  threads?: number;
  sampling: DeformSampling;
  progress: boolean;
}

const PARTS: OutputPart[] = ['masks', 'overlay', 'json'];

export function register(program: Command): void {
  program
    .command('segment')
    .description('segment the object each sentence refers to in a video, a folder of frames or an image')
    .requiredOption('--video <path>', 'a video file (mp4, webm, mov, avi, mkv; decoded with ffmpeg), a folder of frames (jpg/png, natural order) or one image')
    .option('--text <sentence>', 'a referring expression (repeat for several)', collect, [])
    .option('--texts <file>', 'a file with one referring expression per line')
    .requiredOption('--checkpoint <file>', 'model weights: an official trainer checkpoint (.pth/.tar), a state dict or .safetensors')
    .option('--config <config>', `model config: a preset (${presetNames().join(', ')}), a reference YAML or a JSON file (default: config.json next to the checkpoint, else inferred from it)`)
    .option('--text-encoder <dir>', 'the roberta-base folder (config.json, tokenizer.json or vocab.json + merges.txt)')
    .option('--tokenizer <dir>', 'a tokenizer folder, if not the --text-encoder folder')
    .option('--set <key=value>', 'override a config value, e.g. --set DeformTransformer.num_queries=10 (repeatable)', collect, [])
    .requiredOption('--out <dir>', 'output folder (written atomically: it appears only when everything succeeded)')
    .option('--fps <n>', 'keep this many frames per second (videos)', positiveNumber)
    .option('--every <n>', 'keep every N-th frame', positiveInt)
    .option('--start <t>', 'first frame: seconds for videos, index for folders', Number)
    .option('--end <t>', 'end (exclusive): seconds for videos, index for folders', Number)
    .option('--max-frames <n>', 'at most N frames', positiveInt)
    .option('--short-side <px>', "resize frames so the shorter side has this length (default: the config's eval_short_size, else the reference's 360)", positiveInt)
    .option('--max-size <px>', "cap on the longer side after resizing (default: the config's eval_max_size, else 640)", positiveInt)
    .option('--window <n>', 'process the video in windows of N frames (query chosen per window)', positiveInt)
    .option('--max-memory <GB>', 'memory budget; longer clips are processed in windows (default: half the free memory)', positiveNumber)
    .option('--threshold <p>', 'mask threshold on the sigmoid of the logits', positiveNumber, 0.5)
    .option('--format <parts>', `outputs to write, comma-separated from ${PARTS.join(', ')}`, PARTS.join(','))
    .option('--overlay <format>', 'overlay file: auto (mp4 with ffmpeg, else GIF or PNG frames), mp4, gif or png', 'auto')
    .option('--threads <n>', 'intra-op threads for libtorch', positiveInt)
    .addOption(samplingOption('gather'))
    .option('--no-progress', 'no progress bar')
    .addHelpText(
      'after',
      '\nExamples:\n  soc segment --video dog.mp4 --text "the brown dog jumping over the fence" \\\n      --checkpoint mevis.tar --config socpp-swin-t --text-encoder pretrained/pretrained_roberta --out out/dog\n' +
        '  soc segment --video frames/ --texts sentences.txt --checkpoint ckpt.pth --text-encoder roberta/ --out out --every 5',
    )
    .action(async (opts: SegmentCliOptions) => {
      const sentences = [...opts.text];
      if (opts.texts) {
        let text: string;
        try {
          text = readFileSync(opts.texts, 'utf8');
        } catch (e) {
          throw new UsageError(`cannot read --texts ${opts.texts}: ${(e as Error).message}`);
        }
        sentences.push(...text.split(/\r?\n/).filter((l) => l.trim() !== ''));
      }
      if (sentences.length === 0) throw new UsageError('give at least one --text "…" or a --texts file');
      const parts = opts.format.split(',').map((p) => p.trim()) as OutputPart[];
      for (const p of parts) if (!PARTS.includes(p)) throw new UsageError(`--format: unknown part '${p}' (expected ${PARTS.join(', ')})`);
      checkOutputFolder(opts.out); // before the (slow) model load
      if (opts.threads) setNumThreads(opts.threads);
      const log = (m: string) => process.stderr.write(`${m}\n`);
      const t0 = Date.now();
      const segmenter = ReferringSegmenter.load(
        { checkpoint: opts.checkpoint, config: opts.config, textEncoder: opts.textEncoder, tokenizer: opts.tokenizer, overrides: parseOverrides(opts.set) },
        { sampling: opts.sampling },
      );
      log(`model: ${segmenter.config.variant === 'socpp' ? 'SOC++' : 'SOC'} (${segmenter.configSource}) loaded in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
      for (const w of segmenter.warnings) log(`warning: ${w}`);
      const configRule = evalResizeRule(segmenter.config); // --short-side / --max-size override it
      const bar = opts.progress && process.stderr.isTTY ? new cliProgress.SingleBar({ format: 'segmenting |{bar}| {value}/{total} frames | {eta_formatted} left', stream: process.stderr }, cliProgress.Presets.shades_classic) : null;
      let started = false;
      try {
        const summary = await segmentVideo(segmenter, {
          input: opts.video,
          sentences,
          out: opts.out,
          selection: { fps: opts.fps, every: opts.every, start: opts.start, end: opts.end, maxFrames: opts.maxFrames },
          window: opts.window,
          resize: { shortSide: opts.shortSide ?? configRule.shortSide, maxSize: opts.maxSize ?? configRule.maxSize },
          maxMemoryBytes: opts.maxMemory ? opts.maxMemory * 2 ** 30 : undefined,
          threshold: opts.threshold,
          parts,
          overlayFormat: opts.overlay as 'auto',
          onInfo: log,
          onProgress: (done, total) => {
            if (bar) {
              if (!started) bar.start(total, 0);
              started = true;
              bar.setTotal(total);
              bar.update(done);
            } else {
              log(`${done}/${total} frames`);
            }
          },
        });
        bar?.stop();
        for (const w of new Set(segmenter.warnings)) log(`warning: ${w}`);
        log(
          `done: ${summary.frames} frames × ${summary.sentences} sentence(s) in ${summary.seconds.toFixed(1)} s ` +
            `(${summary.framesPerSecond.toFixed(2)} frames/s, peak memory ${(summary.peakRssBytes / 2 ** 30).toFixed(2)} GB) → ${summary.out}`,
        );
      } finally {
        bar?.stop();
        segmenter.dispose();
      }
    });
}
