// A byte-level BPE tokenizer for a small, known vocabulary (synthetic datasets such as
// "the small red circle moving left"), written in the same three files as roberta-base's so that
// the RoBERTa tokenizer loader reads it unchanged.

import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  BYTE_SYMBOLS,
  ROBERTA_SPECIAL_TOKENS,
  buildRobertaTokenizerJson,
  byteLevelPreTokenize,
} from './byte-level-bpe.js';

export interface SmallBpeOptions {
  /** Also write vocab.json, merges.txt and tokenizer.json into this folder (created if needed). */
  outDir?: string;
  /** Stop after this many merges (default: merge until every word is one token). */
  maxMerges?: number;
}

export interface SmallBpeTokenizerFiles {
  /** Token → id: `<s>`=0, `<pad>`=1, `</s>`=2, `<unk>`=3, byte b = 4 + b, merge products, then `<mask>` last. */
  vocab: Record<string, number>;
  /** Merges, highest priority first. */
  merges: [string, string][];
  /** The text encoder's vocab_size (the number of ids). */
  vocabSize: number;
  /** File name → content, ready to write. */
  files: { 'vocab.json': string; 'merges.txt': string; 'tokenizer.json': string };
}

/**
 * Learns byte-level BPE merges from `words` and returns vocab.json, merges.txt and tokenizer.json.
 *
 * Each entry of `words` may be a word or a whole phrase. It is split as the tokenizer splits text,
 * and every piece is learnt in both forms, after a space (`Ġword`) and opening an expression
 * (`word`, no `Ġ`: add_prefix_space is false), and merging
 * runs until no piece has two symbols left, so both forms of every word become single tokens
 * (barring the rare case where two different pairs merge into the same token, when encoding may
 * take another path than training did; the ids stay valid either way). Training is classic BPE: repeatedly merge the most frequent
 * adjacent pair, counting each piece once per occurrence in `words`; ties go to the pair that sorts
 * first (left symbol, then right symbol, in UTF-16 code-unit order). The result depends only on
 * `words` and `maxMerges`, so the files are reproducible.
 *
 * Every byte keeps its own token, so words outside the list still tokenize (into smaller pieces).
 * Pairs are recounted after every merge: fine for small vocabularies (1000 random words take a
 * few seconds), not for training on a corpus.
 */
export function buildSmallBpeTokenizerFiles(words: readonly string[], options: SmallBpeOptions = {}): SmallBpeTokenizerFiles {
  const maxMerges = options.maxMerges ?? Number.POSITIVE_INFINITY;

  // Distinct pieces as symbol sequences, with their counts.
  const counts = new Map<string, number>();
  const SPACE = BYTE_SYMBOLS[0x20]!;
  for (const entry of words) {
    // After a space every word is `Ġword`; any of them may also open an expression, as `word`.
    for (const spaced of byteLevelPreTokenize(' ' + entry)) {
      const forms = spaced.startsWith(SPACE) && spaced.length > 1 ? [spaced, spaced.slice(1)] : [spaced];
      for (const piece of forms) counts.set(piece, (counts.get(piece) ?? 0) + 1);
    }
  }
  const pieces = [...counts.entries()].map(([piece, count]) => ({ symbols: Array.from(piece), count }));

  const merges: [string, string][] = [];
  while (merges.length < maxMerges) {
    const best = mostFrequentPair(pieces);
    if (best === null) break;
    const [left, right] = best;
    merges.push([left, right]);
    for (const p of pieces) p.symbols = mergePair(p.symbols, left, right);
  }

  const vocab = new Map<string, number>();
  const add = (token: string) => {
    if (!vocab.has(token)) vocab.set(token, vocab.size);
  };
  for (const t of [ROBERTA_SPECIAL_TOKENS.bos, ROBERTA_SPECIAL_TOKENS.pad, ROBERTA_SPECIAL_TOKENS.eos, ROBERTA_SPECIAL_TOKENS.unk]) add(t);
  for (const s of BYTE_SYMBOLS) add(s);
  for (const [a, b] of merges) add(a + b);
  add(ROBERTA_SPECIAL_TOKENS.mask);
  const vocabObject = Object.fromEntries(vocab);

  const tokenizerJson = buildRobertaTokenizerJson(vocabObject, merges);
  const files = {
    'vocab.json': JSON.stringify(vocabObject) + '\n',
    'merges.txt': ['#version: 0.2', ...merges.map(([a, b]) => `${a} ${b}`)].join('\n') + '\n',
    'tokenizer.json': JSON.stringify(tokenizerJson, null, 2) + '\n',
  };
  if (options.outDir !== undefined) {
    mkdirSync(options.outDir, { recursive: true });
    for (const [name, content] of Object.entries(files)) writeFileSync(join(options.outDir, name), content);
  }
  return { vocab: vocabObject, merges, vocabSize: vocab.size, files };
}

/** The adjacent pair with the highest total count (ties: smallest left, then right symbol), or null when none is left. */
function mostFrequentPair(pieces: readonly { symbols: string[]; count: number }[]): [string, string] | null {
  // Keyed by "left right": byte-level symbols never contain a space.
  const pairCounts = new Map<string, number>();
  for (const { symbols, count } of pieces) {
    for (let i = 0; i + 1 < symbols.length; i++) {
      const key = `${symbols[i]} ${symbols[i + 1]}`;
      pairCounts.set(key, (pairCounts.get(key) ?? 0) + count);
    }
  }
  let best: [string, string] | null = null;
  let bestCount = 0;
  for (const [key, count] of pairCounts) {
    const pair = key.split(' ') as [string, string];
    if (best === null || count > bestCount || (count === bestCount && comparePairs(pair, best) < 0)) {
      best = pair;
      bestCount = count;
    }
  }
  return best;
}

function comparePairs(a: readonly [string, string], b: readonly [string, string]): number {
  if (a[0] !== b[0]) return a[0] < b[0] ? -1 : 1;
  if (a[1] !== b[1]) return a[1] < b[1] ? -1 : 1;
  return 0;
}

/** Replaces every non-overlapping occurrence of (left, right), scanning left to right, by their concatenation. */
function mergePair(symbols: readonly string[], left: string, right: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < symbols.length; i++) {
    if (i + 1 < symbols.length && symbols[i] === left && symbols[i + 1] === right) {
      out.push(left + right);
      i++;
    } else {
      out.push(symbols[i]!);
    }
  }
  return out;
}
