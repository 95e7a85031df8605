// `soc demo`: an offline, end-to-end run of `soc segment` on a clip generated on the fly.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Command } from 'commander';
import { demoModel, writeDemoClip } from '../../inference/demo.js';
import { ReferringSegmenter } from '../../inference/predictor.js';
import { segmentVideo } from '../../inference/segment.js';

export function register(program: Command): void {
  program
    .command('demo')
    .description('segment a synthetic clip (moving shapes) generated on the fly with the model that ships with soc-ts; fully offline')
    .option('--out <dir>', 'output folder', 'soc-demo')
    .action(async (opts: { out: string }) => {
      const work = mkdtempSync(join(tmpdir(), 'soc-demo-'));
      const log = (m: string) => process.stderr.write(`${m}\n`);
      try {
        const model = demoModel(work);
        log(`model: ${model.description}`);
        const clip = await writeDemoClip(work);
        log(`clip: ${clip.sentences.length} sentences on 12 generated frames: ${clip.sentences.map((s) => `"${s}"`).join(', ')}`);
        const segmenter = ReferringSegmenter.load({ checkpoint: model.checkpoint, tokenizer: model.tokenizer });
        try {
          const summary = await segmentVideo(segmenter, { input: clip.frames, sentences: clip.sentences, out: resolve(opts.out), onInfo: log });
          log(`done: ${summary.frames} frames × ${summary.sentences} sentences in ${summary.seconds.toFixed(1)} s → ${summary.out} (masks per sentence, overlay, result.json)`);
        } finally {
          segmenter.dispose();
        }
        if (model.standIn) {
          log(
            'NOTE: these masks are NOT meaningful. No trained model ships yet, so the demo ran the tiny test weights of the golden fixtures ' +
              'with a stand-in text embedding. For real results use `soc segment` with an official SOC++ checkpoint and roberta-base (see README).',
          );
        }
      } finally {
        rmSync(work, { recursive: true, force: true });
      }
    });
}
