// Loading the golden PyTorch files (zip, legacy, trainer checkpoints) and safetensors, writing
// both formats, and the errors each kind of bad file gives.
import assert from 'node:assert/strict';
import { closeSync, openSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { FileFormatError } from '../../src/errors.js';
import {
  detectFormat,
  flattenCheckpoint,
  ForbiddenGlobalError,
  loadSafetensors,
  loadStateDict,
  loadTorchFile,
  openTorchFile,
  pyAttributes,
  readSafetensorsHeader,
  saveTorchFile,
  TensorRef,
  tuple,
  writeSafetensors,
} from '../../src/io/checkpoint.js';
import { PickleWriter } from '../../src/io/pickle.js';
import { ZipWriter } from '../../src/io/zip.js';
import * as torch from '../../src/tensor/index.js';
import type { Tensor } from '../../src/tensor/index.js';
import { sharedPath, tempDir } from '../helpers/shared.js';

type Manifest = { entries: { name: string; shape: number[]; dtype: string }[] };
type Expected = { epoch: number; note: string; tensors: Record<string, { dtype: string; shape: number[]; values: number[] }> };

function bytesEqual(a: Tensor, b: Tensor, what: string): void {
  assert.equal(a.dtype, b.dtype, `${what} dtype`);
  assert.deepEqual(a.shape, b.shape, `${what} shape`);
  assert.ok(Buffer.from(a.toBytes()).equals(Buffer.from(b.toBytes())), `${what}: bytes differ`);
}

function assertSameStateDict(actual: Map<string, Tensor>, expected: Map<string, Tensor>, what: string): void {
  assert.deepEqual([...actual.keys()], [...expected.keys()], `${what}: key lists differ`);
  for (const [k, t] of expected) bytesEqual(actual.get(k)!, t, `${what} '${k}'`);
}

function disposeMap(m: Map<string, Tensor>): void {
  for (const t of m.values()) t.dispose();
}

/** The pairs of keys that share storage (each later key with the first one on its storage). */
function sharedPairs(sd: Map<string, Tensor>): [string, string][] {
  const entries = [...sd.entries()];
  const out: [string, string][] = [];
  entries.forEach(([k, t], i) => {
    const first = entries.slice(0, i).find(([, u]) => t.numel > 0 && u.sharesStorageWith(t));
    if (first) out.push([k, first[0]]);
  });
  return out;
}

for (const model of ['socpp_tiny', 'soc_tiny']) {
  describe(`golden ${model}`, () => {
    test('checkpoint.pth and weights.safetensors hold bit-identical tensors named as in param_shapes.json', (t) => {
      const dir = sharedPath(t, 'golden', model);
      if (!dir) return;
      const manifest = JSON.parse(readFileSync(join(dir, 'param_shapes.json'), 'utf8')) as Manifest;
      assert.equal(detectFormat(join(dir, 'checkpoint.pth')), 'torch-zip');
      assert.equal(detectFormat(join(dir, 'weights.safetensors')), 'safetensors');
      const pth = loadStateDict(join(dir, 'checkpoint.pth'), { checkCrc: true });
      const st = loadSafetensors(join(dir, 'weights.safetensors'));
      try {
        assert.deepEqual(
          [...pth].map(([name, x]) => ({ name, shape: x.shape, dtype: x.dtype })),
          manifest.entries.map((e) => ({ name: e.name, shape: e.shape, dtype: e.dtype })),
        );
        assertSameStateDict(pth, st, `${model} checkpoint.pth vs weights.safetensors`);
        // transformer.decoder.bbox_embed.* is bbox_embed.* (one storage in the .pth)
        const pairs = sharedPairs(pth);
        const aliasKeys = manifest.entries.map((e) => e.name).filter((n) => n.startsWith('transformer.decoder.bbox_embed.'));
        assert.ok(aliasKeys.length > 0);
        assert.deepEqual(
          pairs.map(([a, b]) => [a, b].sort()),
          aliasKeys.map((k) => [k, k.slice('transformer.decoder.'.length)].sort()),
        );
        for (const k of aliasKeys) assert.ok(pth.get(k)!.sharesStorageWith(pth.get(k.slice('transformer.decoder.'.length))!), k);
        assert.equal(sharedPairs(st).length, 0, 'safetensors holds separate copies');
      } finally {
        disposeMap(pth);
        disposeMap(st);
      }
    });

    test('the trainer dict (epoch, optimizer, scheduler with Counter milestones, best_loss) is readable', (t) => {
      const dir = sharedPath(t, 'golden', model);
      if (!dir) return;
      const f = openTorchFile(join(dir, 'checkpoint.pth'));
      assert.equal(f.format, 'torch-zip');
      assert.equal(f.archiveName, 'checkpoint');
      assert.equal(f.version, 3);
      const root = f.root as Map<string, unknown>;
      assert.deepEqual([...root.keys()], [
        'epoch', 'total_epochs', 'model_state_dict', 'optimizer_state_dict', 'scheduler_state_dict', 'grad_scaler_state_dict', 'best_loss',
      ]);
      assert.equal(typeof root.get('epoch'), 'number');
      assert.equal(typeof root.get('total_epochs'), 'number');
      assert.equal(typeof root.get('best_loss'), 'number');
      const opt = root.get('optimizer_state_dict') as Map<string, unknown>;
      const groups = opt.get('param_groups') as Map<string, unknown>[];
      assert.equal(groups.length, 3);
      assert.deepEqual(groups[0]!.get('betas'), [0.9, 0.999]);
      assert.ok(Array.isArray(groups[0]!.get('params')));
      const sched = root.get('scheduler_state_dict') as Map<string, unknown>;
      const milestones = sched.get('milestones');
      assert.ok(milestones instanceof Map && milestones.size > 0, 'Counter milestones read as a Map');
      for (const [k, v] of milestones as Map<unknown, unknown>) assert.ok(typeof k === 'number' && typeof v === 'number');
      assert.equal(typeof sched.get('gamma'), 'number');
      assert.deepEqual(root.get('grad_scaler_state_dict'), new Map());
      // unread tensors: dtype and shape without data
      const sd = root.get('model_state_dict') as Map<string, TensorRef>;
      assert.ok([...sd.values()].every((r) => r instanceof TensorRef));
      // flattened names, as `soc inspect --json` prints them
      const flat = flattenCheckpoint(root).map((e) => e.name);
      assert.ok(flat.includes('epoch'));
      assert.ok(flat.includes('model_state_dict.query_embed.weight'));
      assert.ok(flat.includes('optimizer_state_dict.param_groups.0.lr'));
      assert.ok(flat.includes('scheduler_state_dict.milestones'));
    });
  });
}

describe('golden formats', () => {
  for (const name of ['mixed_zip.pth', 'mixed_legacy.pth']) {
    test(`${name} gives exactly mixed_expected.json`, (t) => {
      const dir = sharedPath(t, 'golden', 'formats');
      if (!dir) return;
      const expected = JSON.parse(readFileSync(join(dir, 'mixed_expected.json'), 'utf8')) as Expected;
      const v = loadTorchFile(join(dir, name)) as Map<string, unknown>;
      assert.equal(v.get('epoch'), expected.epoch);
      assert.equal(v.get('note'), expected.note);
      const sd = v.get('model_state_dict') as Map<string, Tensor>;
      try {
        assert.deepEqual([...sd.keys()], Object.keys(expected.tensors));
        for (const [k, e] of Object.entries(expected.tensors)) {
          const x = sd.get(k)!;
          assert.equal(x.dtype, e.dtype, `${k} dtype`);
          assert.deepEqual(x.shape, e.shape, `${k} shape`);
          const got = x.toNumbers();
          // The fixture's float64 values went through float32 on their way into JSON (PyTorch
          // itself reads -0.7911026902762878 where the JSON says -0.7911027073860168).
          const norm = e.dtype === 'float64' ? (a: number[]) => a.map(Math.fround) : (a: number[]) => a;
          assert.deepEqual(norm(got), norm(e.values), `${k} values`);
        }
        assert.deepEqual(sd.get('transposed_view')!.strides, [1, 6]);
        assert.equal(sd.get('offset_view')!.storageOffset, 8);
        const base = sd.get('shares_storage_with_offset_view')!;
        assert.ok(sd.get('offset_view')!.sharesStorageWith(base));
        assert.ok(sd.get('transposed_view')!.sharesStorageWith(base));
        assert.ok(!sd.get('f32')!.sharesStorageWith(base));
      } finally {
        disposeMap(sd);
      }
    });
  }

  test('the float64 values are the file\'s exact values', (t) => {
    const dir = sharedPath(t, 'golden', 'formats');
    if (!dir) return;
    const sd = loadStateDict(join(dir, 'mixed_zip.pth'));
    // as printed by Python: torch.load(...)['model_state_dict']['f64'].tolist()
    assert.deepEqual(sd.get('f64')!.toNumbers(), [-0.7911026902762878, -0.020879472995974358, -0.7184800423600348, 0.5186367489510352]);
    disposeMap(sd);
  });

  test('socpp_tiny_legacy.pth equals weights.safetensors', (t) => {
    const dir = sharedPath(t, 'golden', 'formats');
    const tiny = sharedPath(t, 'golden', 'socpp_tiny');
    if (!dir || !tiny) return;
    assert.equal(detectFormat(join(dir, 'socpp_tiny_legacy.pth')), 'torch-legacy');
    const legacy = loadStateDict(join(dir, 'socpp_tiny_legacy.pth'));
    const st = loadSafetensors(join(tiny, 'weights.safetensors'));
    try {
      assertSameStateDict(legacy, st, 'legacy vs safetensors');
      assert.equal(sharedPairs(legacy).length, 12, 'the bbox_embed aliases share storage in the legacy file too');
    } finally {
      disposeMap(legacy);
      disposeMap(st);
    }
  });
});

describe('writing', () => {
  test('checkpoint.pth -> safetensors -> pth round-trips bit-exactly, aliases kept in pth -> pth', (t) => {
    const dir = sharedPath(t, 'golden', 'socpp_tiny');
    if (!dir) return;
    const out = tempDir(t);
    const original = loadStateDict(join(dir, 'checkpoint.pth'));
    try {
      writeSafetensors(join(out, 'a.safetensors'), original, { format: 'pt' });
      // Same tensor bytes, in the same order, as the hand-written fixture.
      const mine = readSafetensorsHeader(join(out, 'a.safetensors'));
      const ref = readSafetensorsHeader(join(dir, 'weights.safetensors'));
      assert.deepEqual(mine.entries.map((e) => [e.name, e.dtype, e.shape, e.byteLength]), ref.entries.map((e) => [e.name, e.dtype, e.shape, e.byteLength]));
      assert.equal(mine.dataStart % 8, 0);
      assert.ok(readFileSync(join(out, 'a.safetensors')).subarray(mine.dataStart).equals(readFileSync(join(dir, 'weights.safetensors')).subarray(ref.dataStart)));

      const st = loadStateDict(join(out, 'a.safetensors'));
      saveTorchFile(join(out, 'b.pth'), st);
      disposeMap(st);
      const back = loadStateDict(join(out, 'b.pth'), { checkCrc: true });
      assertSameStateDict(back, original, 'pth -> safetensors -> pth');
      disposeMap(back);

      saveTorchFile(join(out, 'c.pth'), original);
      const c = loadStateDict(join(out, 'c.pth'), { checkCrc: true });
      assertSameStateDict(c, original, 'pth -> pth');
      assert.equal(sharedPairs(c).length, 12, 'aliased keys are written once and stay shared');
      // the state dict's _metadata (module versions) survives too
      const meta = pyAttributes.get(original)?.get('_metadata') as Map<string, unknown> | undefined;
      assert.ok(meta instanceof Map && meta.size > 300);
      assert.deepEqual(pyAttributes.get(c)?.get('_metadata'), meta);
      assert.equal(openTorchFile(join(out, 'c.pth')).storageCount, original.size - 12);
      disposeMap(c);
      assert.deepEqual(readdirSync(out).sort(), ['a.safetensors', 'b.pth', 'c.pth'], 'no temporary files left');
    } finally {
      disposeMap(original);
    }
  });

  test('saveTorchFile keeps dtypes, views, offsets, 0-dim and empty tensors, and nested values', (t) => {
    const out = join(tempDir(t), 'x.pth');
    const base = torch.arange(0, 24, 1, { dtype: 'float32' }).reshape(4, 6);
    const sd = new Map<string, Tensor>([
      ['base', base],
      ['t', base.t()],
      ['off', base.asStrided([2, 3], [6, 1], 8)],
      ['f16', torch.tensor([0.5, -1.25, 3]).to('float16')],
      ['bf16', torch.tensor([0.5, -1.25, 3]).to('bfloat16')],
      ['f64', torch.tensor([Math.PI], { dtype: 'float64' })],
      ['i64', torch.tensor([-(2 ** 40), 5])],
      ['i32', torch.tensor([-7, 7], { dtype: 'int32' })],
      ['i16', torch.tensor([-300, 300], { dtype: 'int16' })],
      ['i8', torch.tensor([-128, 127], { dtype: 'int8' })],
      ['u8', torch.tensor([0, 255], { dtype: 'uint8' })],
      ['bool', torch.tensor([true, false])],
      ['scalar', torch.scalarTensor(2.5)],
      ['empty', torch.zeros([0, 3])],
    ]);
    saveTorchFile(out, { model_state_dict: sd, epoch: 4, betas: tuple(0.9, 0.999), note: 'x', extra: [1, null, true] }, { forceZip64: true });
    const back = loadTorchFile(out, { checkCrc: true }) as Map<string, unknown>;
    assert.equal(back.get('epoch'), 4);
    assert.deepEqual(back.get('betas'), [0.9, 0.999]);
    assert.deepEqual(back.get('extra'), [1, null, true]);
    const bsd = back.get('model_state_dict') as Map<string, Tensor>;
    for (const [k, x] of sd) {
      const y = bsd.get(k)!;
      bytesEqual(y, x, k);
      assert.deepEqual(y.strides, x.strides, `${k} strides`);
      assert.equal(y.storageOffset, x.storageOffset, `${k} offset`);
    }
    assert.ok(bsd.get('t')!.sharesStorageWith(bsd.get('base')!));
    assert.ok(bsd.get('off')!.sharesStorageWith(bsd.get('base')!));
    assert.equal(openTorchFile(out).storageCount, sd.size - 2);
    disposeMap(bsd);
    disposeMap(sd);
  });

  test('writeSafetensors: header layout, metadata, copies of aliased tensors, row-major views', (t) => {
    const out = join(tempDir(t), 'x.safetensors');
    const base = torch.arange(0, 6, 1, { dtype: 'float32' }).reshape(2, 3);
    writeSafetensors(out, new Map([['a', base], ['a_alias', base], ['a_t', base.t()], ['s', torch.scalarTensor(7, 'int64')]]), { producer: 'test' });
    const h = readSafetensorsHeader(out);
    assert.deepEqual(h.metadata, { producer: 'test' });
    assert.equal(h.dataStart % 8, 0);
    assert.deepEqual(h.entries.map((e) => [e.name, e.dtype, e.shape]), [['a', 'float32', [2, 3]], ['a_alias', 'float32', [2, 3]], ['a_t', 'float32', [3, 2]], ['s', 'int64', []]]);
    const back = loadSafetensors(out);
    assert.deepEqual(back.get('a_t')!.toNumbers(), [0, 3, 1, 4, 2, 5]);
    assert.ok(!back.get('a')!.sharesStorageWith(back.get('a_alias')!));
    assert.deepEqual(back.get('s')!.toNumbers(), [7]);
    disposeMap(back);
  });

  test('a failed write leaves neither the output nor a temporary file', (t) => {
    const dir = tempDir(t);
    const bad = { model_state_dict: new Map<string, unknown>([['ok', torch.ones([2])], ['bad', () => 1]]) };
    assert.throws(() => saveTorchFile(join(dir, 'x.pth'), bad), /cannot pickle a function at 'model_state_dict.bad'/);
    assert.deepEqual(readdirSync(dir), []);
  });
});

// ---------------------------------------------------------------------------------------
// Errors

/** A zip archive in torch layout whose data.pkl is `pkl`. */
function torchZip(path: string, pkl: Uint8Array, storages: [string, Uint8Array][] = []): void {
  const fd = openSync(path, 'w');
  try {
    const z = new ZipWriter(fd);
    z.addBytes('archive/data.pkl', pkl);
    for (const [k, b] of storages) z.addBytes(`archive/data/${k}`, b);
    z.addBytes('archive/version', new TextEncoder().encode('3\n'));
    z.finish();
  } finally {
    closeSync(fd);
  }
}

/** A pickle of one 1-D tensor of `size` elements on a storage of class torch.<storageClass> holding `numel`. */
function tensorPickle(storageClass: string, numel: number, size = numel): Uint8Array {
  const w = new PickleWriter();
  w.byte(0x80);
  w.byte(2);
  w.global('torch._utils', '_rebuild_tensor_v2');
  w.mark();
  w.mark();
  w.string('storage');
  w.global('torch', storageClass);
  w.string('0');
  w.string('cpu');
  w.int(numel);
  w.byte(0x74);
  w.binpersid();
  w.int(0);
  w.value(tuple(size), '');
  w.value(tuple(1), '');
  w.value(false, '');
  w.value(new Map(), '');
  w.byte(0x74);
  w.reduce();
  return w.finish();
}

const ascii = (s: string) => Uint8Array.from(s, (c) => c.charCodeAt(0));
const LEGACY_HEADER = [
  0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, 0x2e, // magic number
  0x80, 0x02, 0x4d, 0xe9, 0x03, 0x2e, // protocol version 1001
  0x80, 0x02, 0x7d, 0x2e, // sys info {}
];

describe('errors', () => {
  const isFileError = (re: RegExp) => (e: unknown) => e instanceof FileFormatError && re.test(e.message);

  test('truncated files (zip, legacy, safetensors)', (t) => {
    const fmts = sharedPath(t, 'golden', 'formats');
    const tiny = sharedPath(t, 'golden', 'socpp_tiny');
    if (!fmts || !tiny) return;
    const dir = tempDir(t);
    const cut = (src: string, n: number, name: string) => {
      const p = join(dir, name);
      writeFileSync(p, readFileSync(src).subarray(0, n));
      return p;
    };
    assert.throws(() => loadTorchFile(cut(join(tiny, 'checkpoint.pth'), 500_000, 'zip.pth')), isFileError(/end-of-central-directory record is missing: the file is truncated/));
    const legacy = join(fmts, 'socpp_tiny_legacy.pth');
    assert.throws(() => loadTorchFile(cut(legacy, 4_000_000, 'legacy.pth')), isFileError(/ends at byte \d+ but the file has 4000000 bytes \(truncated file\?\)/));
    assert.throws(() => loadTorchFile(cut(legacy, 1000, 'legacy-head.pth')), isFileError(/the file ends inside its pickled header .*truncated file\?/));
    assert.throws(() => loadSafetensors(cut(join(tiny, 'weights.safetensors'), 100_000, 'w.safetensors')), isFileError(/truncated file\?/));
    assert.throws(() => loadStateDict(cut(join(tiny, 'weights.safetensors'), 5, 'tiny.safetensors')), isFileError(/only 5 bytes|not a PyTorch checkpoint/));
    assert.throws(() => loadStateDict(cut(legacy, 0, 'empty.pth')), isFileError(/the file is empty/));
  });

  test('wrong magic: not a checkpoint, or a pickle that torch.save did not write', (t) => {
    const dir = tempDir(t);
    const html = join(dir, 'page.pth');
    writeFileSync(html, '<!DOCTYPE html><html>…</html>');
    assert.throws(() => loadStateDict(html), isFileError(/not a PyTorch checkpoint or safetensors file: it starts with bytes 3c 21 44 4f 43 54 59 50/));
    const pkl = join(dir, 'plain.pkl');
    writeFileSync(pkl, Uint8Array.from([0x80, 0x02, 0x4b, 0x07, 0x2e]));
    assert.throws(() => loadTorchFile(pkl), isFileError(/wrong magic number 7: a Python pickle, but not one written by torch.save/));
    const zip = join(dir, 'other.zip');
    const fd = openSync(zip, 'w');
    const z = new ZipWriter(fd);
    z.addBytes('readme.txt', ascii('hi'));
    z.finish();
    closeSync(fd);
    assert.throws(() => loadTorchFile(zip), isFileError(/zip archive without a '<name>\/data.pkl' member: not a torch.save checkpoint/));
  });

  test('a pickle calling a global outside the allow-list (zip and legacy)', (t) => {
    const dir = tempDir(t);
    // GLOBAL os.system ; ('echo pwned',) ; REDUCE
    const evil = Uint8Array.from([0x80, 0x02, ...ascii('cos\nsystem\n'), 0x58, 10, 0, 0, 0, ...ascii('echo pwned'), 0x85, 0x52, 0x2e]);
    const zipPath = join(dir, 'evil.pth');
    torchZip(zipPath, evil);
    assert.throws(
      () => loadTorchFile(zipPath),
      (e: unknown) =>
        e instanceof ForbiddenGlobalError &&
        e.message.startsWith(`refusing to load ${zipPath}: the checkpoint references the Python global 'os.system', which soc-ts does not allow; a checkpoint must never run code`),
    );
    const legacyPath = join(dir, 'evil-legacy.pth');
    writeFileSync(legacyPath, Uint8Array.from([...LEGACY_HEADER, ...evil, 0x80, 0x02, 0x5d, 0x2e]));
    assert.throws(() => loadTorchFile(legacyPath), (e: unknown) => e instanceof ForbiddenGlobalError && /'os\.system'/.test(e.message));
    // torch.load's own trick for modules is refused too
    const mod = Uint8Array.from([0x80, 0x02, ...ascii('ctorch.nn.modules.linear\nLinear\n'), 0x29, 0x81, 0x2e]);
    torchZip(join(dir, 'module.pth'), mod);
    assert.throws(() => loadTorchFile(join(dir, 'module.pth')), (e: unknown) => e instanceof ForbiddenGlobalError && /torch\.nn\.modules\.linear\.Linear/.test(e.message));
  });

  test('unknown storage type and unknown safetensors dtype', (t) => {
    const dir = tempDir(t);
    const ok = join(dir, 'ok.pth');
    torchZip(ok, tensorPickle('FloatStorage', 2), [['0', new Uint8Array(new Float32Array([1.5, -2]).buffer)]]);
    const v = loadTorchFile(ok) as Tensor;
    assert.deepEqual(v.toNumbers(), [1.5, -2]);
    v.dispose();
    const complex = join(dir, 'complex.pth');
    torchZip(complex, tensorPickle('ComplexFloatStorage', 2), [['0', new Uint8Array(16)]]);
    assert.throws(() => loadTorchFile(complex), isFileError(/unknown storage type 'torch\.ComplexFloatStorage': soc-ts reads FloatStorage, DoubleStorage/));

    const st = join(dir, 'c64.safetensors');
    const header = Buffer.from(JSON.stringify({ x: { dtype: 'C64', shape: [1], data_offsets: [0, 8] } }).padEnd(48, ' '));
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(header.length));
    writeFileSync(st, Buffer.concat([len, header, Buffer.alloc(8)]));
    assert.throws(() => loadSafetensors(st), isFileError(/tensor 'x' has unsupported dtype 'C64'/));
    assert.throws(() => loadStateDict(st), isFileError(/unsupported dtype 'C64'/));
  });

  test('a storage member missing or too small, and a tensor view past its storage', (t) => {
    const dir = tempDir(t);
    const missing = join(dir, 'missing.pth');
    torchZip(missing, tensorPickle('FloatStorage', 2));
    assert.throws(() => loadTorchFile(missing), isFileError(/storage '0' is missing: no member 'archive\/data\/0'/));
    const small = join(dir, 'small.pth');
    torchZip(small, tensorPickle('LongStorage', 2), [['0', new Uint8Array(8)]]);
    assert.throws(() => loadTorchFile(small), isFileError(/has 8 bytes but storage '0' \(2 × int64\) needs 16/));
    const past = join(dir, 'past.pth');
    torchZip(past, tensorPickle('FloatStorage', 2, 3), [['0', new Uint8Array(8)]]);
    assert.throws(() => loadTorchFile(past), isFileError(/tensor '<root>' \(shape \[3\], stride \[1\], offset 0\) reaches element 2 of storage '0', which has 2/));
    const ref = openTorchFile(past).root as TensorRef;
    assert.deepEqual([ref.dtype, ref.shape, ref.storageNumel], ['float32', [3], 2], 'opening reads no data, so the file still opens');
  });

  test('loadStateDict: picks the model state dict, or says which keys exist', (t) => {
    const dir = tempDir(t);
    const p = join(dir, 'trainer.pth');
    const w = torch.ones([2]);
    saveTorchFile(p, { epoch: 1, state_dict: new Map([['w', w]]), other: new Map([['v', w]]) });
    const sd = loadStateDict(p);
    assert.deepEqual([...sd.keys()], ['w']);
    disposeMap(sd);
    const o = loadStateDict(p, { key: 'other' });
    assert.deepEqual([...o.keys()], ['v']);
    disposeMap(o);
    assert.throws(() => loadStateDict(p, { key: 'nope' }), isFileError(/no entry 'nope' in the checkpoint \(available keys: epoch, state_dict, other\)/));
    assert.throws(() => loadStateDict(p, { key: 'epoch' }), isFileError(/'epoch' is not a dict of tensors/));
    const q = join(dir, 'misc.pth');
    saveTorchFile(q, { a: 1, b: new Map([['w', w]]) });
    assert.throws(() => loadStateDict(q), isFileError(/no model state dict found: .* top-level keys are: a, b \(choose one with --key\)/));
    w.dispose();
  });
});
