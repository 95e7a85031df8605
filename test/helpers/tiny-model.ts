// A runnable tiny model for end-to-end tests: the golden socpp_tiny weights with a word-embedding
// table resized to a small byte-level BPE tokenizer built here (the golden model's 64-token
// vocabulary has no tokenizer). Segmentations are meaningless; the plumbing is what is tested.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadSafetensors, writeSafetensors } from '../../src/io/checkpoint.js';
import { buildSmallBpeTokenizerFiles } from '../../src/models/text/tokenizer.js';
import * as torch from '../../src/tensor/index.js';

export const TINY_WORDS = ['the', 'a', 'yellow', 'red', 'box', 'square', 'moving', 'right', 'left', 'background', 'small', 'big'];

/** Writes config.json, weights.safetensors and the tokenizer files into `dir`; returns the paths. */
export function writeTinyModel(goldenDir: string, dir: string): { checkpoint: string; config: string; tokenizer: string } {
  mkdirSync(dir, { recursive: true });
  const tok = buildSmallBpeTokenizerFiles(TINY_WORDS);
  const tokDir = join(dir, 'tokenizer');
  mkdirSync(tokDir, { recursive: true });
  for (const [name, content] of Object.entries(tok.files)) writeFileSync(join(tokDir, name), content);
  const config = JSON.parse(readFileSync(join(goldenDir, 'config.json'), 'utf8'));
  config.text_encoder_config.vocab_size = tok.vocabSize;
  writeFileSync(join(dir, 'config.json'), JSON.stringify(config));
  const weights = loadSafetensors(join(goldenDir, 'weights.safetensors'));
  const hidden = config.text_encoder_config.hidden_size as number;
  weights.set('text_encoder.embeddings.word_embeddings.weight', torch.randn([tok.vocabSize, hidden], { generator: new torch.Generator(7) }).mul(0.02));
  const checkpoint = join(dir, 'weights.safetensors');
  writeSafetensors(checkpoint, weights);
  for (const t of weights.values()) t.dispose();
  return { checkpoint, config: join(dir, 'config.json'), tokenizer: tokDir };
}
