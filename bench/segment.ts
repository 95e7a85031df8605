// `soc segment` throughput: frames/s for 1 and 5 sentences on a 64-frame 360p clip, with the tiny
// golden model and with a full-size socpp-swin-t (random weights), and the 5:1 time ratio.
//   npx tsx bench/segment.ts [--frames 64] [--models tiny,swin-t]
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildStandInModel, goldenTinyDir } from '../src/inference/demo.js';
import { ReferringSegmenter } from '../src/inference/predictor.js';
import { segmentVideo } from '../src/inference/segment.js';
import { loadSocConfig } from '../src/models/soc/config.js';
import { SOC } from '../src/models/soc/soc.js';
import { RobertaTokenizer } from '../src/models/text/tokenizer.js';
import { SYNTH_VOCABULARY } from '../src/data/synth-scene.js';
import * as torch from '../src/tensor/index.js';

const arg = (name: string, dflt: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1]! : dflt;
};
const frames = Number(arg('frames', '64'));
const models = arg('models', 'tiny,swin-t').split(',');
torch.setNumThreads(2);

const work = mkdtempSync(join(tmpdir(), 'soc-bench-segment-'));
const video = join(work, 'clip.mp4');
spawnSync('ffmpeg', ['-loglevel', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc=size=640x360:rate=25', '-frames:v', String(frames), '-pix_fmt', 'yuv420p', video]);
const golden = goldenTinyDir();
if (!golden) throw new Error('the tiny model needs ../shared (or SOC_SHARED)');
const tiny = buildStandInModel(golden, join(work, 'tiny'), SYNTH_VOCABULARY);
const sentences = ['the red circle moving left', 'the big blue square', 'the small green triangle', 'the two circles moving right', 'the square that stops'];

try {
  for (const which of models) {
    const segmenter =
      which === 'tiny'
        ? ReferringSegmenter.load({ checkpoint: tiny.checkpoint, tokenizer: tiny.tokenizer })
        : ReferringSegmenter.fromModel(new SOC(loadSocConfig(`socpp-${which}`)).eval(), RobertaTokenizer.fromFolder(tiny.tokenizer));
    const perCount: Record<number, number> = {};
    for (const n of [1, 5]) {
      const s = await segmentVideo(segmenter, { input: video, sentences: sentences.slice(0, n), out: join(work, `out-${which}-${n}`), parts: ['masks', 'json'] });
      perCount[n] = s.seconds;
      console.log(`${which}: ${frames} frames × ${n} sentence(s): ${s.seconds.toFixed(1)} s, ${s.framesPerSecond.toFixed(2)} frames/s (${s.mode.kind}${s.mode.kind === 'windowed' ? `, windows of ${s.mode.window}` : ''}), peak RSS ${(s.peakRssBytes / 2 ** 30).toFixed(2)} GB`);
    }
    console.log(`${which}: time for 5 sentences / time for 1 = ${(perCount[5]! / perCount[1]!).toFixed(2)}`);
    segmenter.dispose();
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}
