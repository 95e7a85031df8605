// A runnable tiny model for end-to-end tests (see buildStandInModel): the golden socpp_tiny
// weights with a word-embedding table sized to a small tokenizer. Segmentations are meaningless;
// the plumbing is what is tested.
import { buildStandInModel } from '../../src/inference/demo.js';

export const TINY_WORDS = ['the', 'a', 'yellow', 'red', 'box', 'square', 'moving', 'right', 'left', 'background', 'small', 'big'];

export function writeTinyModel(goldenDir: string, dir: string): { checkpoint: string; config: string; tokenizer: string } {
  return buildStandInModel(goldenDir, dir, TINY_WORDS);
}
