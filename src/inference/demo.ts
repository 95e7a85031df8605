// `soc demo`: segments a synthetic clip generated on the fly with the model that ships with
// soc-ts, fully offline. Until a trained model ships (models/soc-synth-tiny/), the demo runs the
// golden tiny weights of ../shared with a stand-in word-embedding table sized to a small
// tokenizer built here: the plumbing is real, the segmentation is not meaningful.

import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SocError } from '../errors.js';
import { synthClip } from '../data/synth.js';
import { SYNTH_VOCABULARY } from '../data/synth-scene.js';
import { loadSafetensors, writeSafetensors } from '../io/checkpoint.js';
import { buildSmallBpeTokenizerFiles } from '../models/text/tokenizer.js';
import { Generator } from '../tensor/random.js';
import { randn } from '../tensor/creation.js';
import sharp from 'sharp';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

export interface DemoModel {
  checkpoint: string;
  tokenizer: string;
  /** True when the weights are not trained for the demo's sentences. */
  standIn: boolean;
  description: string;
}

/** The trained model shipped in the repository, if present. */
export function shippedModel(): DemoModel | null {
  const dir = join(REPO, 'models', 'soc-synth-tiny');
  if (!existsSync(join(dir, 'weights.safetensors'))) return null;
  return { checkpoint: join(dir, 'weights.safetensors'), tokenizer: join(dir, 'tokenizer'), standIn: false, description: `the shipped synthetic-data model (${dir})` };
}

/**
 * Writes a runnable model into `dir` from a golden tiny fixture folder: its weights, with the
 * word-embedding table replaced by a seeded random one sized to a byte-level BPE tokenizer built
 * from `words` (the fixture's 64-token vocabulary has no tokenizer).
 */
export function buildStandInModel(goldenDir: string, dir: string, words: readonly string[]): { checkpoint: string; config: string; tokenizer: string } {
  mkdirSync(dir, { recursive: true });
  const tok = buildSmallBpeTokenizerFiles(words);
  const tokDir = join(dir, 'tokenizer');
  mkdirSync(tokDir, { recursive: true });
  for (const [name, content] of Object.entries(tok.files)) writeFileSync(join(tokDir, name), content);
  const config = JSON.parse(readFileSync(join(goldenDir, 'config.json'), 'utf8'));
  config.text_encoder_config.vocab_size = tok.vocabSize;
  writeFileSync(join(dir, 'config.json'), JSON.stringify(config));
  const weights = loadSafetensors(join(goldenDir, 'weights.safetensors'));
  const hidden = config.text_encoder_config.hidden_size as number;
  weights.get('text_encoder.embeddings.word_embeddings.weight')?.dispose();
  weights.set('text_encoder.embeddings.word_embeddings.weight', randn([tok.vocabSize, hidden], { generator: new Generator(7) }).mul(0.02));
  const checkpoint = join(dir, 'weights.safetensors');
  writeSafetensors(checkpoint, weights);
  for (const t of weights.values()) t.dispose();
  return { checkpoint, config: join(dir, 'config.json'), tokenizer: tokDir };
}

/** The golden tiny fixture folder (SOC_SHARED or ../shared), if present. */
export function goldenTinyDir(): string | null {
  const shared = process.env.SOC_SHARED ? resolve(process.env.SOC_SHARED) : resolve(REPO, '..', 'shared');
  const dir = join(shared, 'golden', 'socpp_tiny');
  return existsSync(join(dir, 'weights.safetensors')) ? dir : null;
}

/** The demo's model: the shipped one, else a stand-in built into `workDir` from the golden fixture. */
export function demoModel(workDir: string): DemoModel {
  const shipped = shippedModel();
  if (shipped) return shipped;
  const golden = goldenTinyDir();
  if (!golden) {
    throw new SocError(
      'soc demo needs a model: none ships in models/soc-synth-tiny yet, and the golden tiny fixture was not found ' +
        '(set SOC_SHARED to the shared folder). To segment real videos, download an official SOC++ checkpoint and ' +
        'roberta-base (see the README) and use `soc segment`.',
    );
  }
  const m = buildStandInModel(golden, join(workDir, 'model'), SYNTH_VOCABULARY);
  return { checkpoint: m.checkpoint, tokenizer: m.tokenizer, standIn: true, description: `the golden tiny test weights from ${golden} with a stand-in text embedding (NOT a trained model)` };
}

/** Writes a synthetic clip (moving shapes) as PNG frames; returns the folder and two expressions. */
export async function writeDemoClip(dir: string, seed = 7): Promise<{ frames: string; sentences: string[] }> {
  const clip = synthClip(seed, 0, { frames: 12, height: 192, width: 320 });
  const frames = join(dir, 'frames');
  mkdirSync(frames, { recursive: true });
  for (let t = 0; t < clip.numFrames; t++) {
    await sharp(Buffer.from(clip.rgb[t]!), { raw: { width: clip.width, height: clip.height, channels: 3 } })
      .png()
      .toFile(join(frames, `frame_${String(t).padStart(3, '0')}.png`));
  }
  const sentences = clip.expressions.slice(0, 2).map((e) => e.text);
  return { frames, sentences };
}
