// The RoBERTa tokenizer on a small byte-level BPE vocabulary written out in this file.
// Expected ids are worked out by hand from the merge list below (the reasoning is in the
// comments), not produced by the code under test.

import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test, type TestContext } from 'node:test';
import { FileFormatError, UsageError } from '../../src/errors.js';
import {
  RobertaTokenizer,
  buildSmallBpeTokenizerFiles,
  loadRobertaTokenizer,
  tokenBatchToInt32,
  tokenBatchToInt64,
} from '../../src/models/text/tokenizer.js';
import { tempDir } from '../helpers/shared.js';

// ---- the test vocabulary -------------------------------------------------------------------
// <s>=0 <pad>=1 </s>=2 <unk>=3, the symbol of byte b = 4 + b, merge products from 260, <mask> last.

/** GPT-2's byte → symbol table, written out here: printable Latin-1 stays, the rest goes to U+0100… in byte order. */
function byteSymbol(b: number): string {
  const kept = (x: number) => (x >= 0x21 && x <= 0x7e) || (x >= 0xa1 && x <= 0xac) || (x >= 0xae && x <= 0xff);
  if (kept(b)) return String.fromCharCode(b);
  let moved = 0;
  for (let x = 0; x < b; x++) if (!kept(x)) moved++;
  return String.fromCharCode(0x100 + moved);
}

/** Id of an ASCII character's byte. */
const B = (ch: string) => 4 + ch.charCodeAt(0);
const SPACE = 4 + 0x20; // Ġ

// Rank order = priority. Product ids follow: merge k makes token 260 + k.
const MERGES: [string, string][] = [
  ['Ġ', 't'], //  0 → Ġt     260
  ['h', 'e'], //  1 → he     261
  ['Ġt', 'he'], //  2 → Ġthe   262
  ['t', 'he'], //  3 → the    263
  ['r', 'e'], //  4 → re     264
  ['re', 'd'], //  5 → red    265
  ['Ġ', 'red'], //  6 → Ġred   266
  ['a', 'a'], //  7 → aa     267
  ['c', 'a'], //  8 → ca     268
  ['ca', 'f'], //  9 → caf    269
  ['Ã', '©'], // 10 → Ã© (é = C3 A9)  270
  ['caf', 'Ã'], // 11 → cafÃ   271 (outranked by 10 inside "café")
  ['!', '!'], // 12 → !!     272
  ["'", 's'], // 13 → 's     273
  ['Ġ', 'ï'], // 14 → Ġï (space + first byte of U+FEFF)  274
  ['!', 'Â'], // 15 → !Â (! + first byte of U+0085)      275
];
const MASK = 276;

function testVocab(): Record<string, number> {
  const vocab: Record<string, number> = { '<s>': 0, '<pad>': 1, '</s>': 2, '<unk>': 3 };
  for (let b = 0; b < 256; b++) vocab[byteSymbol(b)] = 4 + b;
  MERGES.forEach(([a, b], k) => (vocab[a + b] = 260 + k));
  vocab['<mask>'] = MASK;
  return vocab;
}

/** A roberta-base-shaped tokenizer.json, written out by hand (not by the code under test). */
function testTokenizerJson(): object {
  const special = (content: string, id: number, lstrip = false) => ({
    id,
    content,
    single_word: false,
    lstrip,
    rstrip: false,
    normalized: !lstrip,
    special: true,
  });
  const byteLevel = { add_prefix_space: false, trim_offsets: true, use_regex: true };
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [special('<s>', 0), special('<pad>', 1), special('</s>', 2), special('<unk>', 3), special('<mask>', MASK, true)],
    normalizer: null,
    pre_tokenizer: { type: 'ByteLevel', ...byteLevel },
    post_processor: { type: 'RobertaProcessing', sep: ['</s>', 2], cls: ['<s>', 0], trim_offsets: true, add_prefix_space: false },
    decoder: { type: 'ByteLevel', ...byteLevel },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: '',
      end_of_word_suffix: '',
      fuse_unk: false,
      byte_fallback: false,
      vocab: testVocab(),
      merges: MERGES.map(([a, b]) => `${a} ${b}`),
    },
  };
}

const mergesTxt = () => ['#version: 0.2', ...MERGES.map(([a, b]) => `${a} ${b}`)].join('\n') + '\n';

function writeFolder(dir: string, files: Record<string, string | object>): string {
  mkdirSync(dir, { recursive: true });
  for (const [name, content] of Object.entries(files)) {
    writeFileSync(join(dir, name), typeof content === 'string' ? content : JSON.stringify(content));
  }
  return dir;
}

/** The same tokenizer as tokenizer.json (folder a) and as vocab.json + merges.txt (folder b). */
function bothRoutes(t: TestContext, extra: Record<string, string | object> = {}): RobertaTokenizer[] {
  const root = tempDir(t);
  const a = writeFolder(join(root, 'a'), { 'tokenizer.json': testTokenizerJson(), ...extra });
  const b = writeFolder(join(root, 'b'), { 'vocab.json': testVocab(), 'merges.txt': mergesTxt(), ...extra });
  const tokenizers = [loadRobertaTokenizer(a), loadRobertaTokenizer(b)];
  assert.equal(tokenizers[0]!.source, 'tokenizer.json');
  assert.equal(tokenizers[1]!.source, 'vocab.json+merges.txt');
  return tokenizers;
}

// text → expected ids, each worked out from MERGES.
const CASES: [string, number[], string][] = [
  // "the": t h e → (h,e)#1 → t he → (t,he)#3 → the. "Ġred": Ġ r e d → (r,e)#4 → (re,d)#5 → (Ġ,red)#6.
  ['the red', [0, 263, 266, 2], 'words, Ġ for the space'],
  // "The": T h e → (h,e) → T he; no (T,he) merge: no lowercasing.
  ['The red', [0, B('T'), 261, 266, 2], 'case kept'],
  // " the" is one piece Ġ t h e: (Ġ,t)#0 before (h,e)#1, then (Ġt,he)#2.
  [' the', [0, 262, 2], 'leading space'],
  // a a a: both pairs are (a,a)#7; the leftmost goes first → aa a.
  ['aaa', [0, 267, B('a'), 2], 'equal ranks: leftmost first'],
  ['aaaa', [0, 267, 267, 2], 'non-overlapping merges'],
  // c a f Ã ©: (c,a)#8 → (ca,f)#9 → then (Ã,©)#10 outranks (caf,Ã)#11 → caf Ã©.
  ['café', [0, 269, 270, 2], 'two-byte character, rank order'],
  // "red", then " 🙂!!" is one piece (no letters): Ġ + F0 9F 99 82 + ! ! → only (!,!)#12 applies.
  ['red 🙂!!', [0, 265, SPACE, 4 + 0xf0, 4 + 0x9f, 4 + 0x99, 4 + 0x82, 272, 2], 'emoji bytes, punctuation run'],
  // "it" then the contraction "'s": (',s)#13.
  ["it's", [0, B('i'), B('t'), 273, 2], 'contraction'],
  // "a", " " (a space run leaves its last space to the next word), " b".
  ['a  b', [0, B('a'), SPACE, SPACE, B('b'), 2], 'double space'],
  ['a\n', [0, B('a'), 4 + 0x0a, 2], 'newline byte'],
  // "route" has no merges; " 66" is a digit piece.
  ['route 66', [0, B('r'), B('o'), B('u'), B('t'), B('e'), SPACE, B('6'), B('6'), 2], 'digits'],
  ['', [0, 2], 'empty string'],
  // U+FEFF is not whitespace for Oniguruma: " \uFEFF!" is one piece Ġ EF BB BF ! → (Ġ,ï)#14.
  // (JavaScript's \s would split it as " ", "\uFEFF", "!" and give 36 243 191 195 37.)
  ['x \ufeff!', [0, B('x'), 274, 4 + 0xbb, 4 + 0xbf, B('!'), 2], 'U+FEFF is not a space'],
  // U+0085 is whitespace for Oniguruma: "!" and "\u0085" (C2 85) are separate pieces, so (!,Â)#15 cannot apply.
  ['!\u0085', [0, B('!'), 4 + 0xc2, 4 + 0x85, 2], 'U+0085 is a space'],
  // Special tokens in the text are matched as such; <mask> swallows the space before it.
  ['the <mask>', [0, 263, MASK, 2], '<mask> in text'],
  ['a<s>b', [0, B('a'), 0, B('b'), 2], '<s> in text'],
];

describe('RoBERTa tokenizer on a hand-made byte-level BPE', () => {
  test('the test byte table is GPT-2 byte-level', () => {
    assert.equal(byteSymbol(0x20), 'Ġ');
    assert.equal(byteSymbol(0x0a), 'Ċ');
    assert.equal(byteSymbol(0x9f), 'Ł');
    assert.equal(byteSymbol(0xc3), 'Ã');
    assert.equal(new Set(Array.from({ length: 256 }, (_, b) => byteSymbol(b))).size, 256);
  });

  for (const [text, expected, what] of CASES) {
    test(`${what}: ${JSON.stringify(text)}`, (t) => {
      for (const tokenizer of bothRoutes(t)) {
        assert.deepEqual(tokenizer.encode(text), { ids: expected, warning: null }, tokenizer.source);
      }
    });
  }

  test('tokens of café are caf + Ã©', (t) => {
    const [tokenizer] = bothRoutes(t);
    assert.deepEqual(tokenizer!.tokenize('café'), ['caf', 'Ã©']);
    assert.equal(tokenizer!.decode([0, 269, 270, 2]), '<s>café</s>');
    assert.equal(tokenizer!.decode([0, 269, 270, 2], true), 'café');
  });

  test('padded batch: right padding with 1, attention mask 1/0, no warnings', (t) => {
    for (const tokenizer of bothRoutes(t)) {
      // "aaa aaa": "aaa" → aa a; " aaa" → Ġ a a a → (a,a) at the leftmost a-pair → Ġ aa a.
      const batch = tokenizer.encodeBatch(['the red', '', 'aaa aaa']);
      assert.deepEqual(batch, {
        inputIds: [
          [0, 263, 266, 2, 1, 1, 1],
          [0, 2, 1, 1, 1, 1, 1],
          [0, 267, B('a'), SPACE, 267, B('a'), 2],
        ],
        attentionMask: [
          [1, 1, 1, 1, 0, 0, 0],
          [1, 1, 0, 0, 0, 0, 0],
          [1, 1, 1, 1, 1, 1, 1],
        ],
        warnings: [],
      });
      assert.equal(tokenizer.padId, 1);
      assert.deepEqual(tokenizer.encodeBatch([]), { inputIds: [], attentionMask: [], warnings: [] });
    }
  });

  test('both routes agree on every case at once', (t) => {
    const [a, b] = bothRoutes(t);
    const texts = CASES.map(([text]) => text);
    assert.deepEqual(a!.encodeBatch(texts), b!.encodeBatch(texts));
    assert.equal(a!.vocabSize, 277);
    assert.equal(b!.vocabSize, 277);
  });

  test('too long: cut to maxLength with a warning (option)', (t) => {
    const root = tempDir(t);
    const dir = writeFolder(root, { 'tokenizer.json': testTokenizerJson() });
    const tokenizer = loadRobertaTokenizer(dir, { maxLength: 6 });
    // the Ġred Ġthe Ġred Ġthe Ġred = 6 tokens + 2 > 6 → keep 4 + </s>.
    const batch = tokenizer.encodeBatch(['the red the red the red', 'the']);
    assert.deepEqual(batch.inputIds, [
      [0, 263, 266, 262, 266, 2],
      [0, 263, 2, 1, 1, 1],
    ]);
    assert.deepEqual(batch.attentionMask, [
      [1, 1, 1, 1, 1, 1],
      [1, 1, 1, 0, 0, 0],
    ]);
    assert.equal(batch.warnings.length, 1);
    assert.match(batch.warnings[0]!, /expression 1 of 2 is 8 tokens long.*6/);
  });

  test('too long: the limit comes from config.json (max_position_embeddings − pad − 1)', (t) => {
    const config = { max_position_embeddings: 8, pad_token_id: 1 };
    for (const tokenizer of bothRoutes(t, { 'config.json': config })) {
      assert.equal(tokenizer.maxLength, 6);
      const { ids, warning } = tokenizer.encode('the red the red the red');
      assert.deepEqual(ids, [0, 263, 266, 262, 266, 2]);
      assert.match(warning!, /8 tokens/);
    }
  });

  test('too long: 512 tokens by default (roberta-base)', (t) => {
    const [tokenizer] = bothRoutes(t);
    assert.equal(tokenizer!.maxLength, 512);
    // 2000 a's are one piece → 1000 × aa; 1002 > 512 → <s>, 510 × aa, </s>.
    const { ids, warning } = tokenizer!.encode('a'.repeat(2000));
    assert.deepEqual(ids, [0, ...new Array(510).fill(267), 2]);
    assert.match(warning!, /1002 tokens long.*512/);
    assert.equal(tokenizer!.encode('a'.repeat(1020)).warning, null); // 510 + 2 fits exactly
  });

  test("tokenizer_config.json's add_prefix_space overrides tokenizer.json, as RobertaTokenizerFast does", (t) => {
    for (const tokenizer of bothRoutes(t, { 'tokenizer_config.json': { add_prefix_space: true } })) {
      // " the red": Ġthe Ġred.
      assert.deepEqual(tokenizer.encode('the red').ids, [0, 262, 266, 2]);
    }
  });

  test('special_tokens_map.json names the padding token', (t) => {
    for (const tokenizer of bothRoutes(t, { 'special_tokens_map.json': { pad_token: { content: '<unk>', lstrip: false } } })) {
      assert.equal(tokenizer.padId, 3);
      assert.deepEqual(tokenizer.encodeBatch(['the', '']).inputIds, [
        [0, 263, 2],
        [0, 2, 3],
      ]);
    }
  });

  test('int64 / int32 flattening', (t) => {
    const [tokenizer] = bothRoutes(t);
    const batch = tokenizer!.encodeBatch(['the red', '']);
    const i64 = tokenBatchToInt64(batch);
    assert.deepEqual(i64.shape, [2, 4]);
    assert.deepEqual(i64.inputIds, BigInt64Array.from([0n, 263n, 266n, 2n, 0n, 2n, 1n, 1n]));
    assert.deepEqual(i64.attentionMask, BigInt64Array.from([1n, 1n, 1n, 1n, 1n, 1n, 0n, 0n]));
    const i32 = tokenBatchToInt32(batch);
    assert.deepEqual(i32.shape, [2, 4]);
    assert.deepEqual(i32.inputIds, Int32Array.from([0, 263, 266, 2, 0, 2, 1, 1]));
    assert.deepEqual(tokenBatchToInt64({ inputIds: [], attentionMask: [] }).shape, [0, 0]);
    assert.throws(() => tokenBatchToInt32({ inputIds: [[0, 2], [0]], attentionMask: [[1, 1], [1]] }), RangeError);
  });
});

describe('RoBERTa tokenizer: missing and malformed files', () => {
  const rejects = (fn: () => unknown, pattern: RegExp, kind: new (...a: never[]) => Error = FileFormatError) =>
    assert.throws(fn, (e: Error) => {
      assert.ok(e instanceof kind, `${e.name}: ${e.message}`);
      assert.match(e.message, pattern);
      return true;
    });

  test('folder missing', (t) => {
    rejects(() => loadRobertaTokenizer(join(tempDir(t), 'nope')), /folder not found.*tokenizer\.json.*vocab\.json.*merges\.txt.*Hugging Face Hub/);
  });

  test('no tokenizer files', (t) => {
    const dir = tempDir(t);
    rejects(() => loadRobertaTokenizer(dir), /tokenizer\.json is missing, and so is vocab\.json and merges\.txt.*Hugging Face Hub/);
    writeFolder(dir, { 'vocab.json': testVocab() });
    rejects(() => loadRobertaTokenizer(dir), /tokenizer\.json is missing, and so is merges\.txt/);
  });

  test('tokenizer.json: not JSON, or not a RoBERTa tokenizer', (t) => {
    const root = tempDir(t);
    rejects(() => loadRobertaTokenizer(writeFolder(join(root, 'a'), { 'tokenizer.json': '{"model": ' })), /tokenizer\.json: not valid JSON/);
    const json = testTokenizerJson() as Record<string, unknown>;
    const whitespace = { ...json, pre_tokenizer: { type: 'Whitespace' } };
    rejects(() => loadRobertaTokenizer(writeFolder(join(root, 'b'), { 'tokenizer.json': whitespace })), /not a RoBERTa byte-level BPE tokenizer\.json: pre_tokenizer\.type/);
    const model = json.model as Record<string, unknown>;
    const badMerge = { ...json, model: { ...model, merges: ['Ġ t', 'q z'] } };
    rejects(() => loadRobertaTokenizer(writeFolder(join(root, 'c'), { 'tokenizer.json': badMerge })), /merge 2 \("q z"\) uses "qz", which is not in the vocabulary/);
    const dropout = { ...json, model: { ...model, dropout: 0.1 } };
    rejects(() => loadRobertaTokenizer(writeFolder(join(root, 'd'), { 'tokenizer.json': dropout })), /dropout/);
  });

  test('vocab.json / merges.txt malformed', (t) => {
    const root = tempDir(t);
    const noBytes = { '<s>': 0, '<pad>': 1, '</s>': 2, a: 3 };
    rejects(() => loadRobertaTokenizer(writeFolder(join(root, 'a'), { 'vocab.json': noBytes, 'merges.txt': '#version: 0.2\n' })), /vocab\.json: not a byte-level BPE vocabulary: 255 of the 256 byte symbols are missing/);
    rejects(() => loadRobertaTokenizer(writeFolder(join(root, 'b'), { 'vocab.json': '[1, 2]', 'merges.txt': mergesTxt() })), /vocab\.json: expected a JSON object/);
    rejects(() => loadRobertaTokenizer(writeFolder(join(root, 'c'), { 'vocab.json': testVocab(), 'merges.txt': '#version: 0.2\nĠ t\nh  e\n' })), /merges\.txt: line 3: expected two symbols/);
  });

  test('config.json malformed, or maxLength too small', (t) => {
    const root = tempDir(t);
    rejects(() => loadRobertaTokenizer(writeFolder(join(root, 'a'), { 'tokenizer.json': testTokenizerJson(), 'config.json': 'nope' })), /config\.json: not valid JSON/);
    rejects(() => loadRobertaTokenizer(writeFolder(join(root, 'b'), { 'tokenizer.json': testTokenizerJson(), 'config.json': { max_position_embeddings: 3 } })), /leaves room for 1 tokens/);
    rejects(() => loadRobertaTokenizer(join(root, 'a'), { maxLength: 1 }), /at least 2/, UsageError);
  });
});

describe('buildSmallBpeTokenizerFiles', () => {
  test('hand-checked training on one word', () => {
    // Pieces "aab" and "Ġaab". Pair counts: (a,a) 2, (a,b) 2, (Ġ,a) 1 → tie, "a a" sorts first.
    // Then: aa b | Ġ aa b → (aa,b) 2 → aab | Ġ aab → (Ġ,aab) 1 → done.
    const built = buildSmallBpeTokenizerFiles(['aab']);
    assert.deepEqual(built.merges, [['a', 'a'], ['aa', 'b'], ['Ġ', 'aab']]);
    assert.equal(built.files['merges.txt'], '#version: 0.2\na a\naa b\nĠ aab\n');
    assert.equal(built.vocabSize, 264);
    assert.deepEqual(
      [built.vocab['<s>'], built.vocab['<pad>'], built.vocab['</s>'], built.vocab['<unk>'], built.vocab['Ġ'], built.vocab['a']],
      [0, 1, 2, 3, 4 + 0x20, 4 + 0x61],
    );
    assert.deepEqual([built.vocab['aa'], built.vocab['aab'], built.vocab['Ġaab'], built.vocab['<mask>']], [260, 261, 262, 263]);
    const tokenizer = RobertaTokenizer.fromTokenizerJson(built.files['tokenizer.json']);
    assert.deepEqual(tokenizer.encode('aab aab').ids, [0, 261, 262, 2]);
    assert.deepEqual(tokenizer.encode('ab').ids, [0, 4 + 0x61, 4 + 0x62, 2]);
  });

  test('the synthetic vocabulary: one token per word in both positions, deterministic, both routes equal', (t) => {
    const words = ['the small red circle moving left', 'a big blue square moving right'];
    const built = buildSmallBpeTokenizerFiles(words, { outDir: join(tempDir(t), 'tok') });
    assert.deepEqual(buildSmallBpeTokenizerFiles(words).files, built.files);

    const dir = join(tempDir(t), 'tok2');
    buildSmallBpeTokenizerFiles(words, { outDir: dir });
    const viaJson = loadRobertaTokenizer(dir);
    const viaVocab = RobertaTokenizer.fromVocabAndMerges(built.files['vocab.json'], built.files['merges.txt']);
    const word = (w: string) => built.vocab[w];
    assert.deepEqual(viaJson.encode('the small red circle moving left').ids, [
      0,
      ...['the', 'Ġsmall', 'Ġred', 'Ġcircle', 'Ġmoving', 'Ġleft'].map(word),
      2,
    ]);
    assert.deepEqual(viaJson.encode('square the').ids, [0, word('square'), word('Ġthe'), 2]);
    const texts = ['a big blue square moving right', 'left red', 'Unseen words, too!', ''];
    assert.deepEqual(viaJson.encodeBatch(texts), viaVocab.encodeBatch(texts));
    assert.equal(viaJson.vocabSize, built.vocabSize);
    assert.equal(viaJson.decode(viaJson.encode('Unseen words, too!').ids, true), 'Unseen words, too!');
  });
});
