// Byte-level BPE as GPT-2 and RoBERTa use it: the pieces shared by the RoBERTa tokenizer loader
// (tokenizer.ts) and the small-vocabulary builder (small-bpe.ts). Pure functions on strings; the
// BPE merging itself is done by @huggingface/tokenizers.

import { FileFormatError } from '../../errors.js';

/**
 * `BYTE_SYMBOLS[b]` is the character that stands for byte `b` in a byte-level BPE vocabulary.
 * Printable Latin-1 bytes stand for themselves; the 68 others (controls, space, 0x7F–0xA0, the
 * soft hyphen) are moved to U+0100 onwards in byte order, so that no symbol is whitespace or
 * invisible. Space (0x20) becomes `Ġ` (U+0120).
 */
export const BYTE_SYMBOLS: readonly string[] = (() => {
  const symbols: string[] = [];
  let moved = 0;
  for (let b = 0; b < 256; b++) {
    const printable = (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
    symbols.push(String.fromCharCode(printable ? b : 0x100 + moved++));
  }
  return symbols;
})();

/**
 * The GPT-2 split applied before BPE (contractions, letter runs, digit runs, other runs, each with
 * at most one leading space; whitespace runs leave their last space to the next word).
 *
 * The Rust `tokenizers` library compiles it with Oniguruma, whose `\s` is the Unicode White_Space
 * set (it has U+0085 and not U+FEFF). JavaScript's `\s` differs on exactly those two characters,
 * so the class is spelled out as `\p{White_Space}` here.
 */
export const BYTE_LEVEL_SPLIT_SOURCE =
  "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\p{White_Space}\\p{L}\\p{N}]+|\\p{White_Space}+(?!\\P{White_Space})|\\p{White_Space}+";

/** A fresh global regex for the split (fresh, so that no `lastIndex` state is shared). */
export function byteLevelSplitRegExp(): RegExp {
  return new RegExp(BYTE_LEVEL_SPLIT_SOURCE, 'gu');
}

const utf8 = new TextEncoder();

/** The UTF-8 bytes of `text` as byte-level symbols (`" café"` → `"ĠcafÃ©"`). */
export function toByteSymbols(text: string): string {
  let out = '';
  for (const b of utf8.encode(text)) out += BYTE_SYMBOLS[b];
  return out;
}

/** Splits `text` as the ByteLevel pre-tokenizer does (add_prefix_space false) and maps each piece to byte symbols. */
export function byteLevelPreTokenize(text: string): string[] {
  return (text.match(byteLevelSplitRegExp()) ?? []).map(toByteSymbols);
}

/** Token strings of the special roles, as RobertaTokenizer(Fast) names them. */
export interface RobertaSpecialTokens {
  bos: string;
  eos: string;
  unk: string;
  sep: string;
  pad: string;
  cls: string;
  mask: string;
}

export const ROBERTA_SPECIAL_TOKENS: Readonly<RobertaSpecialTokens> = {
  bos: '<s>',
  eos: '</s>',
  unk: '<unk>',
  sep: '</s>',
  pad: '<pad>',
  cls: '<s>',
  mask: '<mask>',
};

/** One entry of tokenizer.json's `added_tokens`. */
export interface AddedTokenJson {
  id: number;
  content: string;
  single_word: boolean;
  lstrip: boolean;
  rstrip: boolean;
  normalized: boolean;
  special: boolean;
}

/** The parts of a tokenizer.json this project writes and reads (the Rust `tokenizers` serialization). */
export interface RobertaTokenizerJson {
  version: string;
  truncation: null;
  padding: null;
  added_tokens: AddedTokenJson[];
  normalizer: null;
  pre_tokenizer: { type: 'ByteLevel'; add_prefix_space: boolean; trim_offsets: boolean; use_regex: boolean };
  post_processor: {
    type: 'RobertaProcessing';
    sep: [string, number];
    cls: [string, number];
    trim_offsets: boolean;
    add_prefix_space: boolean;
  };
  decoder: { type: 'ByteLevel'; add_prefix_space: boolean; trim_offsets: boolean; use_regex: boolean };
  model: {
    type: 'BPE';
    dropout: null;
    unk_token: null;
    continuing_subword_prefix: string;
    end_of_word_suffix: string;
    fuse_unk: boolean;
    byte_fallback: boolean;
    vocab: Record<string, number>;
    merges: string[];
  };
}

/**
 * The tokenizer.json that transformers' RobertaTokenizerFast builds from vocab.json + merges.txt
 * (its slow-to-fast conversion): ByteLevel split, BPE without unknown token, `<s> … </s>` around a
 * sequence, the special tokens registered as added tokens (`<mask>` swallowing the spaces before it).
 * A special token missing from the vocabulary gets the next free id, in the order
 * bos, eos, unk, sep, pad, cls, mask, as transformers adds them.
 *
 * Merges are written in the "a b" string form, which every version of `tokenizers` reads (byte-level
 * symbols never contain a space, so the form is unambiguous).
 */
export function buildRobertaTokenizerJson(
  vocab: Record<string, number>,
  merges: readonly (readonly [string, string])[],
  specials: RobertaSpecialTokens = ROBERTA_SPECIAL_TOKENS,
  addPrefixSpace = false,
): RobertaTokenizerJson {
  const ids = new Map(Object.entries(vocab));
  let nextId = 0;
  for (const id of ids.values()) nextId = Math.max(nextId, id + 1);
  const added = new Map<string, AddedTokenJson>();
  for (const role of ['bos', 'eos', 'unk', 'sep', 'pad', 'cls', 'mask'] as const) {
    const content = specials[role];
    if (added.has(content)) continue;
    let id = ids.get(content);
    if (id === undefined) id = nextId++;
    const isMask = role === 'mask';
    added.set(content, {
      id,
      content,
      single_word: false,
      lstrip: isMask,
      rstrip: false,
      normalized: !isMask,
      special: true,
    });
  }
  const clsId = added.get(specials.cls)!.id;
  const sepId = added.get(specials.sep)!.id;
  const byteLevel = { add_prefix_space: addPrefixSpace, trim_offsets: true, use_regex: true };
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [...added.values()].sort((a, b) => a.id - b.id),
    normalizer: null,
    pre_tokenizer: { type: 'ByteLevel', ...byteLevel },
    post_processor: {
      type: 'RobertaProcessing',
      sep: [specials.sep, sepId],
      cls: [specials.cls, clsId],
      trim_offsets: true,
      add_prefix_space: addPrefixSpace,
    },
    decoder: { type: 'ByteLevel', ...byteLevel },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: '',
      end_of_word_suffix: '',
      fuse_unk: false,
      byte_fallback: false,
      vocab,
      merges: merges.map(([a, b]) => `${a} ${b}`),
    },
  };
}

/**
 * Parses merges.txt: an optional `#version: …` first line, then one merge per line, two symbols
 * separated by one space, highest priority first. Blank lines are skipped.
 */
export function parseMergesTxt(text: string, file: string): [string, string][] {
  const lines = text.split('\n');
  const merges: [string, string][] = [];
  lines.forEach((raw, i) => {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (line === '' || (i === 0 && line.startsWith('#version'))) return;
    const parts = line.split(' ');
    if (parts.length !== 2 || parts[0] === '' || parts[1] === '') {
      throw new FileFormatError(
        file,
        `line ${i + 1}: expected two symbols separated by one space, got ${JSON.stringify(line.slice(0, 80))}`,
      );
    }
    merges.push([parts[0]!, parts[1]!]);
  });
  return merges;
}

/** Parses vocab.json: one JSON object from token string to non-negative integer id. */
export function parseVocabJson(text: string, file: string): Record<string, number> {
  const vocab = parseJson(text, file);
  if (vocab === null || typeof vocab !== 'object' || Array.isArray(vocab)) {
    throw new FileFormatError(file, 'expected a JSON object mapping each token to its id');
  }
  for (const [token, id] of Object.entries(vocab)) {
    if (typeof id !== 'number' || !Number.isInteger(id) || id < 0) {
      throw new FileFormatError(file, `the id of token ${JSON.stringify(token)} is ${JSON.stringify(id)}, not a non-negative integer`);
    }
  }
  return vocab as Record<string, number>;
}

/** JSON.parse with the file named in the error. */
export function parseJson(text: string, file: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new FileFormatError(file, `not valid JSON (${(e as Error).message})`);
  }
}

/**
 * Checks what the Rust BPE loader checks, plus one thing it does not need to: every byte has its
 * symbol in the vocabulary. With all 256 byte symbols present and every merge product in the
 * vocabulary, no piece of any text can fall outside the vocabulary, so the JavaScript BPE (which
 * would keep an unknown symbol as a merge barrier where Rust drops it) cannot diverge.
 */
export function checkByteLevelBpe(
  vocab: Record<string, number>,
  merges: readonly (readonly [string, string])[],
  vocabFile: string,
  mergesFile = vocabFile,
): void {
  const has = (t: string) => Object.prototype.hasOwnProperty.call(vocab, t);
  const missingBytes = BYTE_SYMBOLS.map((s, b) => [s, b] as const).filter(([s]) => !has(s));
  if (missingBytes.length > 0) {
    const shown = missingBytes.slice(0, 8).map(([s, b]) => `${JSON.stringify(s)} (byte 0x${b.toString(16).padStart(2, '0')})`);
    throw new FileFormatError(
      vocabFile,
      `not a byte-level BPE vocabulary: ${missingBytes.length} of the 256 byte symbols are missing, e.g. ${shown.join(', ')}`,
    );
  }
  merges.forEach(([a, b], rank) => {
    for (const token of [a, b, a + b]) {
      if (!has(token)) {
        throw new FileFormatError(mergesFile, `merge ${rank + 1} ("${a} ${b}") uses ${JSON.stringify(token)}, which is not in the vocabulary`);
      }
    }
  });
}
