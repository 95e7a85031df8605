// RoBERTa's tokenizer as the reference uses it:
//   RobertaTokenizerFast.from_pretrained(folder)(texts, padding='longest', return_tensors='pt')
// i.e. byte-level BPE (`Ġ` marks a space, no lowercasing, add_prefix_space false), `<s> … </s>`
// around each expression, right padding with the pad id (1) to the longest, attention mask 1/0.
// The BPE itself runs in @huggingface/tokenizers; this file loads the folder, checks it, and does
// the framing, truncation and padding.

import { existsSync, readFileSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import { z } from 'zod';
import { FileFormatError, UsageError } from '../../errors.js';
import {
  ROBERTA_SPECIAL_TOKENS,
  type RobertaSpecialTokens,
  buildRobertaTokenizerJson,
  byteLevelSplitRegExp,
  checkByteLevelBpe,
  parseJson,
  parseMergesTxt,
  parseVocabJson,
} from './byte-level-bpe.js';

export { buildSmallBpeTokenizerFiles, type SmallBpeOptions, type SmallBpeTokenizerFiles } from './small-bpe.js';
export type { RobertaSpecialTokens } from './byte-level-bpe.js';

/** What users must put in the folder; soc-ts never downloads anything. */
export const ROBERTA_FILES_HINT =
  'Download config.json, pytorch_model.bin, tokenizer.json, vocab.json and merges.txt of roberta-base ' +
  'from the Hugging Face Hub (https://huggingface.co/FacebookAI/roberta-base) into this folder, as the ' +
  'SOC++ README says (pretrained/pretrained_roberta/); soc-ts never downloads files itself.';

/** Token limit of roberta-base (514 position embeddings, of which ids 0 and 1 are never used). */
export const ROBERTA_BASE_MAX_LENGTH = 512;

export interface RobertaTokenizerOptions {
  /**
   * Longest tokenized expression, `<s>` and `</s>` included. Default: from the folder's
   * config.json, `max_position_embeddings − pad_token_id − 1` (RoBERTa numbers positions from
   * pad_token_id + 1, so that is 514 − 1 − 1 = 512 for roberta-base); 512 without config.json.
   */
  maxLength?: number;
}

/** Settings that transformers takes from tokenizer_config.json / special_tokens_map.json. */
export interface RobertaTokenizerSettings extends RobertaTokenizerOptions {
  /** Special token strings; default `<s> </s> <unk> </s> <pad> <s> <mask>`. */
  specialTokens?: Partial<RobertaSpecialTokens>;
  /** RobertaTokenizerFast's add_prefix_space, which overrides tokenizer.json's; default false. */
  addPrefixSpace?: boolean;
}

export interface TokenBatch {
  /** [B][S]: `<s>` … `</s>` then the pad id up to the longest expression of the batch. */
  inputIds: number[][];
  /** [B][S]: 1 for a token, 0 for padding (Hugging Face convention; the model inverts it into its padding mask). */
  attentionMask: number[][];
  /** One message per expression that was cut to `maxLength` (empty when none was). */
  warnings: string[];
}

export interface EncodedExpression {
  /** `<s>` … `</s>`, at most `maxLength` ids. */
  ids: number[];
  /** Why the expression was cut, or null when it fit. */
  warning: string | null;
}

/** Where the tokenizer came from. */
export type TokenizerSource = 'tokenizer.json' | 'vocab.json+merges.txt';

/**
 * RoBERTa's byte-level BPE tokenizer, identical in ids to Hugging Face `RobertaTokenizerFast`
 * called as the reference calls it (one expression per batch entry, `padding='longest'`, special
 * tokens added, no truncation requested).
 *
 * Differences from RobertaTokenizerFast that we know of:
 * - An expression longer than `maxLength` tokens (with `<s>` and `</s>`) is cut to its first
 *   `maxLength − 2` tokens plus `</s>`, with a warning in the result. The reference does not
 *   truncate: RoBERTa's position-embedding lookup then fails and the run crashes.
 * - Only what the reference uses exists here: no text pairs, offsets, token_type_ids or decoding
 *   options. `decode` is for debugging.
 * - tokenizer.json must be the byte-level BPE with RobertaProcessing that roberta-base ships
 *   (other tokenizer.json kinds are refused, not approximated); dropout and subword prefixes are
 *   refused as well.
 * - merges.txt: a first line is skipped only when it starts with `#version`, and a last line without
 *   newline is kept. transformers' slow-tokenizer reader (used when tokenizer.json is absent) drops
 *   the first line whatever it is and the last line when the file lacks a final newline.
 * - Letter/number classes come from Node's Unicode tables, the Rust library's from Oniguruma's; they
 *   can disagree on characters added in recent Unicode versions.
 */
export class RobertaTokenizer {
  private constructor(
    private readonly bpe: Tokenizer,
    /** Id of `<s>`, put before each expression. */
    readonly clsId: number,
    /** Id of `</s>`, put after each expression. */
    readonly sepId: number,
    /** Id used for padding (1 for roberta-base). */
    readonly padId: number,
    /** Longest tokenized expression, `<s>` and `</s>` included. */
    readonly maxLength: number,
    readonly source: TokenizerSource,
  ) {}

  /**
   * Loads the tokenizer of a Hugging Face RoBERTa folder: tokenizer.json when present, else
   * vocab.json + merges.txt (built into the same tokenizer as transformers would build it).
   * tokenizer_config.json, special_tokens_map.json and config.json are read when present.
   */
  static fromFolder(dir: string, options: RobertaTokenizerOptions = {}): RobertaTokenizer {
    if (!existsSync(dir)) throw new FileFormatError(dir, `folder not found. ${ROBERTA_FILES_HINT}`);
    if (!statSync(dir).isDirectory()) {
      throw new FileFormatError(dir, `is a file; expected the folder holding roberta-base's files. ${ROBERTA_FILES_HINT}`);
    }
    const settings: RobertaTokenizerSettings = {
      ...readTokenizerConfigs(dir),
      maxLength: options.maxLength ?? readMaxLength(dir),
    };
    const tokenizerJson = join(dir, 'tokenizer.json');
    if (existsSync(tokenizerJson)) return RobertaTokenizer.fromTokenizerJson(readText(tokenizerJson), settings, tokenizerJson);

    const vocabFile = join(dir, 'vocab.json');
    const mergesFile = join(dir, 'merges.txt');
    const missing = [vocabFile, mergesFile].filter((f) => !existsSync(f)).map((f) => basename(f));
    if (missing.length > 0) {
      throw new FileFormatError(
        dir,
        `no tokenizer: tokenizer.json is missing, and so is ${missing.join(' and ')} ` +
          `(without tokenizer.json, both vocab.json and merges.txt are needed). ${ROBERTA_FILES_HINT}`,
      );
    }
    return RobertaTokenizer.fromVocabAndMerges(readText(vocabFile), readText(mergesFile), settings, vocabFile, mergesFile);
  }

  /** Builds the tokenizer from the content of a tokenizer.json (`file` names it in errors). */
  static fromTokenizerJson(text: string, settings: RobertaTokenizerSettings = {}, file = 'tokenizer.json'): RobertaTokenizer {
    return RobertaTokenizer.fromJsonObject(parseJson(text, file), settings, file, 'tokenizer.json');
  }

  private static fromJsonObject(value: unknown, settings: RobertaTokenizerSettings, file: string, source: TokenizerSource): RobertaTokenizer {
    const parsed = TokenizerJsonSchema.safeParse(value);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      const where = issue.path.length > 0 ? issue.path.join('.') : 'top level';
      throw new FileFormatError(file, `not a RoBERTa byte-level BPE tokenizer.json: ${where}: ${issue.message}`);
    }
    const json = parsed.data;
    const model = json.model;
    if (model.dropout !== null && model.dropout !== undefined && model.dropout !== 0) {
      throw new FileFormatError(file, `model.dropout is ${model.dropout}; BPE dropout makes tokenization random, so it is not supported`);
    }
    for (const key of ['continuing_subword_prefix', 'end_of_word_suffix'] as const) {
      if (model[key]) throw new FileFormatError(file, `model.${key} is ${JSON.stringify(model[key])}; RoBERTa uses none`);
    }
    const merges = model.merges.map((m, rank): [string, string] => {
      if (Array.isArray(m)) return [m[0], m[1]];
      const parts = m.split(' ');
      if (parts.length !== 2) throw new FileFormatError(file, `model.merges[${rank}] is ${JSON.stringify(m)}, not two symbols separated by one space`);
      return [parts[0]!, parts[1]!];
    });
    checkByteLevelBpe(model.vocab, merges, file);

    const addPrefixSpace = settings.addPrefixSpace ?? false;
    const forLibrary = {
      ...json,
      // The library wants these keys present, even when null.
      normalizer: json.normalizer ?? null,
      decoder: json.decoder ?? null,
      pre_tokenizer: { ...json.pre_tokenizer, add_prefix_space: addPrefixSpace },
      model: { ...model, type: 'BPE', merges },
    };
    return RobertaTokenizer.build(forLibrary, json.post_processor, settings, file, source);
  }

  /**
   * Builds the tokenizer from the contents of vocab.json and merges.txt, as transformers builds
   * RobertaTokenizerFast when tokenizer.json is absent. It generates that tokenizer.json in memory
   * and continues as `fromTokenizerJson` does: the library builds its Tokenizer (added tokens,
   * splitting, BPE) only from a tokenizer.json description, so describing it is simpler and safer
   * than wiring its exported parts by hand, and both routes then share one code path and can only
   * differ if the files themselves differ.
   */
  static fromVocabAndMerges(
    vocabText: string,
    mergesText: string,
    settings: RobertaTokenizerSettings = {},
    vocabFile = 'vocab.json',
    mergesFile = 'merges.txt',
  ): RobertaTokenizer {
    const vocab = parseVocabJson(vocabText, vocabFile);
    const merges = parseMergesTxt(mergesText, mergesFile);
    checkByteLevelBpe(vocab, merges, vocabFile, mergesFile);
    const given = Object.entries(settings.specialTokens ?? {}).filter(([, v]) => typeof v === 'string');
    const specials: RobertaSpecialTokens = { ...ROBERTA_SPECIAL_TOKENS, ...Object.fromEntries(given) };
    const json = buildRobertaTokenizerJson(vocab, merges, specials, settings.addPrefixSpace ?? false);
    return RobertaTokenizer.fromJsonObject(json, settings, `${vocabFile} + ${mergesFile}`, 'vocab.json+merges.txt');
  }

  private static build(
    forLibrary: object,
    postProcessor: { cls: [string, number]; sep: [string, number] },
    settings: RobertaTokenizerSettings,
    file: string,
    source: TokenizerSource,
  ): RobertaTokenizer {
    const maxLength = settings.maxLength ?? ROBERTA_BASE_MAX_LENGTH;
    if (!Number.isInteger(maxLength) || maxLength < 2) {
      throw new UsageError(`the tokenizer's maximum length must be an integer of at least 2 (<s> and </s>), got ${maxLength}`);
    }
    let bpe: Tokenizer;
    try {
      bpe = new Tokenizer(forLibrary, {});
    } catch (e) {
      throw new FileFormatError(file, `@huggingface/tokenizers could not build a tokenizer from it: ${(e as Error).message}`);
    }
    // The library's ByteLevel split uses JavaScript's \s; Rust's (Oniguruma's) differs on U+0085/U+FEFF.
    // (Checked by shape: the package's type declarations do not resolve its ByteLevelPreTokenizer export under NodeNext.)
    const pre = bpe.pre_tokenizer as unknown as { pattern?: unknown; byte_encoder?: unknown } | null;
    if (pre === null || !(pre.pattern instanceof RegExp) || pre.byte_encoder === undefined) {
      throw new Error('internal: @huggingface/tokenizers built no ByteLevel pre-tokenizer with a split pattern');
    }
    pre.pattern = byteLevelSplitRegExp();

    const padToken = settings.specialTokens?.pad ?? ROBERTA_SPECIAL_TOKENS.pad;
    const padId = bpe.token_to_id(padToken);
    if (padId === undefined) throw new FileFormatError(file, `the padding token ${JSON.stringify(padToken)} is not in the vocabulary`);
    // Like the Rust post-processor, frame with the ids written in post_processor.
    return new RobertaTokenizer(bpe, postProcessor.cls[1], postProcessor.sep[1], padId, maxLength, source);
  }

  /** The BPE tokens of `text`, without `<s>`/`</s>` (for inspection). */
  tokenize(text: string): string[] {
    return this.bpe.encode(checkText(text), { add_special_tokens: false }).tokens;
  }

  /** One expression → `<s>` … `</s>` ids, cut to `maxLength` with a warning if needed. */
  encode(text: string, label = 'the expression'): EncodedExpression {
    const content = this.bpe.encode(checkText(text), { add_special_tokens: false }).ids;
    for (const id of content) {
      // Cannot happen after checkByteLevelBpe; a library change that broke it must not go unnoticed.
      if (!Number.isInteger(id)) throw new Error(`internal: the BPE produced a token outside the vocabulary for ${JSON.stringify(text)}`);
    }
    const room = this.maxLength - 2;
    if (content.length <= room) return { ids: [this.clsId, ...content, this.sepId], warning: null };
    const preview = text.length > 60 ? `${text.slice(0, 60)}…` : text;
    const warning =
      `${label} is ${content.length + 2} tokens long with <s> and </s>, more than the text encoder's ` +
      `${this.maxLength}; only its first ${room} tokens are used (the reference would crash on it): ${JSON.stringify(preview)}`;
    return { ids: [this.clsId, ...content.slice(0, room), this.sepId], warning };
  }

  /**
   * A batch of expressions, padded on the right to the longest (`padding='longest'`).
   * An empty expression gives `<s> </s>`; an empty batch gives empty lists.
   */
  encodeBatch(texts: readonly string[]): TokenBatch {
    const encoded = texts.map((t, i) => this.encode(t, `expression ${i + 1} of ${texts.length}`));
    const length = encoded.reduce((longest, e) => Math.max(longest, e.ids.length), 0);
    return {
      inputIds: encoded.map((e) => [...e.ids, ...new Array<number>(length - e.ids.length).fill(this.padId)]),
      attentionMask: encoded.map((e) => [
        ...new Array<number>(e.ids.length).fill(1),
        ...new Array<number>(length - e.ids.length).fill(0),
      ]),
      warnings: encoded.flatMap((e) => (e.warning === null ? [] : [e.warning])),
    };
  }

  /** Ids back to text, for debugging (special tokens kept unless asked). */
  decode(ids: readonly number[], skipSpecialTokens = false): string {
    if (ids.length === 0) return '';
    return this.bpe.decode([...ids], { skip_special_tokens: skipSpecialTokens, clean_up_tokenization_spaces: false });
  }

  /** Number of ids, added tokens included (roberta-base: 50265). */
  get vocabSize(): number {
    let size = 0;
    for (const id of this.bpe.get_vocab(true).values()) size = Math.max(size, id + 1);
    return size;
  }
}

/** `RobertaTokenizer.fromFolder`. */
export function loadRobertaTokenizer(dir: string, options: RobertaTokenizerOptions = {}): RobertaTokenizer {
  return RobertaTokenizer.fromFolder(dir, options);
}

/** A token batch flattened row-major for a tensor of `shape` [B, S]. */
export interface FlatTokenBatch<A extends BigInt64Array | Int32Array> {
  shape: [batch: number, length: number];
  inputIds: A;
  attentionMask: A;
}

/** int64 arrays, the dtype the reference's tensors have (`return_tensors='pt'`). */
export function tokenBatchToInt64(batch: Pick<TokenBatch, 'inputIds' | 'attentionMask'>): FlatTokenBatch<BigInt64Array> {
  const shape = batchShape(batch);
  return {
    shape,
    inputIds: BigInt64Array.from(batch.inputIds.flat(), (v) => BigInt(v)),
    attentionMask: BigInt64Array.from(batch.attentionMask.flat(), (v) => BigInt(v)),
  };
}

/** int32 arrays, for consumers that index with int32. */
export function tokenBatchToInt32(batch: Pick<TokenBatch, 'inputIds' | 'attentionMask'>): FlatTokenBatch<Int32Array> {
  const shape = batchShape(batch);
  return { shape, inputIds: Int32Array.from(batch.inputIds.flat()), attentionMask: Int32Array.from(batch.attentionMask.flat()) };
}

function batchShape(batch: Pick<TokenBatch, 'inputIds' | 'attentionMask'>): [number, number] {
  const b = batch.inputIds.length;
  const s = b === 0 ? 0 : batch.inputIds[0]!.length;
  const rectangular = (rows: number[][]) => rows.length === b && rows.every((r) => r.length === s);
  if (!rectangular(batch.inputIds) || !rectangular(batch.attentionMask)) {
    throw new RangeError(`token batch is not a [${b}, ${s}] rectangle in both inputIds and attentionMask`);
  }
  return [b, s];
}

function checkText(text: unknown): string {
  if (typeof text !== 'string') throw new UsageError(`a referring expression must be a string, got ${typeof text}`);
  return text;
}

// ---- reading the folder --------------------------------------------------------------------

/** The tokenizer.json parts we rely on; anything else in the file passes through to the library. */
const SpecialPair = z.tuple([z.string(), z.number().int().nonnegative()]);
const ByteLevelConfig = z.looseObject({
  type: z.literal('ByteLevel'),
  add_prefix_space: z.boolean().optional(),
  trim_offsets: z.boolean().optional(),
  use_regex: z.boolean().optional(),
});
const TokenizerJsonSchema = z.looseObject({
  added_tokens: z
    .array(
      z.looseObject({
        id: z.number().int().nonnegative(),
        content: z.string(),
        single_word: z.boolean().optional(),
        lstrip: z.boolean().optional(),
        rstrip: z.boolean().optional(),
        normalized: z.boolean().optional(),
        special: z.boolean().optional(),
      }),
    )
    .default([]),
  normalizer: z.unknown().optional(),
  pre_tokenizer: ByteLevelConfig,
  post_processor: z.looseObject({ type: z.literal('RobertaProcessing'), sep: SpecialPair, cls: SpecialPair }),
  decoder: z.unknown().optional(),
  model: z.looseObject({
    type: z.literal('BPE').optional(),
    vocab: z.record(z.string(), z.number().int().nonnegative()),
    merges: z.array(z.union([z.string(), z.tuple([z.string(), z.string()])])),
    dropout: z.number().nullable().optional(),
    continuing_subword_prefix: z.string().nullable().optional(),
    end_of_word_suffix: z.string().nullable().optional(),
  }),
});

function readText(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (e) {
    throw new FileFormatError(file, `cannot be read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
}

function readJsonObject(file: string): Record<string, unknown> {
  const value = parseJson(readText(file), file);
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new FileFormatError(file, 'expected a JSON object');
  return value as Record<string, unknown>;
}

/** Special tokens and add_prefix_space from tokenizer_config.json, then special_tokens_map.json (which wins, as in transformers). */
function readTokenizerConfigs(dir: string): RobertaTokenizerSettings {
  const specialTokens: Partial<RobertaSpecialTokens> = {};
  let addPrefixSpace: boolean | undefined;
  for (const name of ['tokenizer_config.json', 'special_tokens_map.json']) {
    const file = join(dir, name);
    if (!existsSync(file)) continue;
    const config = readJsonObject(file);
    for (const role of ['bos', 'eos', 'unk', 'sep', 'pad', 'cls', 'mask'] as const) {
      const value = config[`${role}_token`];
      // Either "<s>" or an AddedToken object {content: "<s>", lstrip: …}.
      if (typeof value === 'string') specialTokens[role] = value;
      else if (value !== null && typeof value === 'object' && typeof (value as { content?: unknown }).content === 'string') {
        specialTokens[role] = (value as { content: string }).content;
      }
    }
    if (name === 'tokenizer_config.json' && typeof config.add_prefix_space === 'boolean') addPrefixSpace = config.add_prefix_space;
  }
  return { specialTokens, addPrefixSpace };
}

/** The token limit from config.json (absent: roberta-base's). Missing fields take RobertaConfig's defaults. */
function readMaxLength(dir: string): number {
  const file = join(dir, 'config.json');
  if (!existsSync(file)) return ROBERTA_BASE_MAX_LENGTH;
  const config = readJsonObject(file);
  const positions = config.max_position_embeddings ?? 512;
  const padId = config.pad_token_id ?? 1;
  for (const [key, value] of [['max_position_embeddings', positions], ['pad_token_id', padId]] as const) {
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) {
      throw new FileFormatError(file, `${key} is ${JSON.stringify(value)}, not a non-negative integer`);
    }
  }
  const limit = (positions as number) - (padId as number) - 1;
  if (limit < 2) {
    throw new FileFormatError(file, `max_position_embeddings ${positions} with pad_token_id ${padId} leaves room for ${limit} tokens; <s> and </s> alone need 2`);
  }
  return limit;
}
