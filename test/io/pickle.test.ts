// The restricted unpickler and the protocol-2 writer, on hand-made pickles (bytes checked
// against Python's pickletools) and round trips.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { FileFormatError } from '../../src/errors.js';
import { findBasicGlobal, ForbiddenGlobalError, PickleTruncatedError, PickleWriter, PyFloat, PyGlobal, tuple, unpickle } from '../../src/io/pickle.js';

const basic = { file: 'test.pkl', findGlobal: findBasicGlobal };
const hex = (s: string) => Uint8Array.from(s.replace(/\s+/g, '').match(/../g)!.map((b) => parseInt(b, 16)));
const ascii = (s: string) => Uint8Array.from(s, (c) => c.charCodeAt(0));
const load = (bytes: Uint8Array, opts: Partial<Parameters<typeof unpickle>[1]> = {}) => unpickle(bytes, { ...basic, ...opts }).value;

describe('unpickle', () => {
  test('integers: BININT*, LONG1 signed and wider than 8 bytes, text INT/LONG', () => {
    const neg = load(hex('80 02 8a 06 00 00 00 00 00 ff 2e')); // LONG1 6 bytes: -2**40
    assert.equal(neg, -(2 ** 40));
    const big = load(hex('80 02 8a 09 00 00 00 00 00 00 00 00 40 2e')); // 2**70
    assert.equal(big, 2n ** 70n);
    assert.equal(load(hex('80 02 8a 01 ff 2e')), -1);
    assert.equal(load(hex('80 02 8a 02 ff 00 2e')), 255);
    assert.equal(load(hex('80 02 4a fb ff ff ff 2e')), -5);
    assert.equal(load(ascii('I01\n.')), true);
    assert.equal(load(ascii('I-42\n.')), -42);
    assert.equal(load(ascii('L123456789012345678901L\n.')), 123456789012345678901n);
  });

  test('the legacy torch magic number (a 10-byte LONG1) decodes exactly', () => {
    const { value, end } = unpickle(hex('80 02 8a 0a 6c fc 9c 46 f9 20 6a a8 50 19 2e'), basic);
    assert.equal(value, 0x1950a86a20f9469cfc6cn);
    assert.equal(end, 15);
  });

  test('containers: dict order, DICT opcode into a Map, tuples, sets, memo', () => {
    // protocol 0: (dp0\nS'b'\np1\nI1\nsS'a'\np2\nI2\ns.  and DICT via MARK
    const d = load(ascii("(dp0\nS'b'\np1\nI1\nsS'a'\np2\nI2\ns.")) as Map<string, number>;
    assert.deepEqual([...d.entries()], [['b', 1], ['a', 2]]);
    const d2 = load(ascii("(S'x'\nI1\nS'y'\nI2\nd.")) as Map<string, number>;
    assert.ok(d2 instanceof Map);
    assert.deepEqual([...d2.entries()], [['x', 1], ['y', 2]]);
    // [ (1, 2), memo get of the same tuple, frozenset ]
    const v = load(hex('80 02 5d 28 4b 01 4b 02 86 71 00 68 00 8f 28 4b 03 90 65 2e')) as unknown[];
    assert.deepEqual(v[0], [1, 2]);
    assert.equal(v[1], v[0], 'BINGET returns the same object');
    assert.deepEqual([...(v[2] as Set<number>)], [3]);
  });

  test('allow-listed Python globals: OrderedDict, Counter, set, bytes, slice, numpy scalars, Namespace', () => {
    // numpy scalars as Python pickles them: scalar(dtype(spec, False, True) + BUILD state, _codecs.encode(bytes, 'latin1'))
    const scalar = (spec: string, order: string, bytes: number[]) => {
      const w: number[] = [0x80, 2];
      const push = (s: string) => w.push(...ascii(s));
      push('cnumpy.core.multiarray\nscalar\n');
      push('cnumpy\ndtype\n');
      w.push(0x58, spec.length, 0, 0, 0, ...ascii(spec), 0x89, 0x88, 0x87, 0x52); // ('f8', False, True) REDUCE
      w.push(0x28, 0x4b, 3, 0x58, 1, 0, 0, 0, ...ascii(order), 0x4e, 0x4e, 0x4e, 0x4a, 0xff, 0xff, 0xff, 0xff, 0x4a, 0xff, 0xff, 0xff, 0xff, 0x4b, 0, 0x74, 0x62);
      push('c_codecs\nencode\n');
      const s = String.fromCharCode(...bytes);
      const enc = new TextEncoder().encode(s);
      w.push(0x58, enc.length, 0, 0, 0, ...enc, 0x58, 6, 0, 0, 0, ...ascii('latin1'), 0x86, 0x52, 0x86, 0x52, 0x2e);
      return load(Uint8Array.from(w));
    };
    assert.equal(scalar('f8', '<', [0, 0, 0, 0, 0, 0, 0xf8, 0x3f]), 1.5);
    assert.equal(scalar('i8', '<', [0xfd, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]), -3);
    assert.equal(scalar('f4', '<', [0, 0, 0x20, 0x40]), 2.5);
    assert.equal(scalar('b1', '|', [1]), true);

    // collections.Counter({3: 1}), set([1, 2]), slice(1, 5, None), OrderedDict()
    const v = load(
      Uint8Array.from([
        0x80, 2, 0x5d, 0x28,
        ...ascii('ccollections\nCounter\n'), 0x7d, 0x4b, 3, 0x4b, 1, 0x73, 0x85, 0x52,
        ...ascii('c__builtin__\nset\n'), 0x5d, 0x28, 0x4b, 1, 0x4b, 2, 0x65, 0x85, 0x52,
        ...ascii('c__builtin__\nslice\n'), 0x4b, 1, 0x4b, 5, 0x4e, 0x87, 0x52,
        ...ascii('ccollections\nOrderedDict\n'), 0x29, 0x52,
        0x65, 0x2e,
      ]),
    ) as unknown[];
    assert.deepEqual([...(v[0] as Map<number, number>)], [[3, 1]]);
    assert.deepEqual([...(v[1] as Set<number>)], [1, 2]);
    assert.deepEqual(v[2], { start: 1, stop: 5, step: null });
    assert.ok(v[3] instanceof Map);

    // argparse.Namespace(a=1, b='x'): NEWOBJ then BUILD with the attribute dict
    const ns = load(
      Uint8Array.from([0x80, 2, ...ascii('cargparse\nNamespace\n'), 0x29, 0x81, 0x7d, 0x28, 0x58, 1, 0, 0, 0, 0x61, 0x4b, 1, 0x58, 1, 0, 0, 0, 0x62, 0x58, 1, 0, 0, 0, 0x78, 0x75, 0x62, 0x2e]),
    );
    assert.deepEqual(ns, { a: 1, b: 'x' });
  });

  test('a global outside the allow-list is refused, naming it and the file', () => {
    // GLOBAL 'os system' ; STACK_GLOBAL 'builtins' 'eval'
    const viaGlobal = Uint8Array.from([0x80, 2, ...ascii('cos\nsystem\n'), 0x58, 2, 0, 0, 0, ...ascii('ls'), 0x85, 0x52, 0x2e]);
    assert.throws(
      () => load(viaGlobal, { file: 'evil.pth' }),
      (e: unknown) =>
        e instanceof ForbiddenGlobalError &&
        e.message.startsWith("refusing to load evil.pth: the checkpoint references the Python global 'os.system', which soc-ts does not allow; a checkpoint must never run code"),
    );
    const viaStack = Uint8Array.from([0x80, 4, 0x8c, 8, ...ascii('builtins'), 0x8c, 4, ...ascii('eval'), 0x93, 0x8c, 1, 0x31, 0x85, 0x52, 0x2e]);
    assert.throws(() => load(viaStack), (e: unknown) => e instanceof ForbiddenGlobalError && /'builtins\.eval'/.test(e.message));
    // INST (protocol 0) goes through the same allow-list
    assert.throws(() => load(ascii('(S\'ls\'\nios\nsystem\n.')), ForbiddenGlobalError);
  });

  test('only allow-listed callables can be called; BUILD only on known objects', () => {
    // REDUCE on a string: ('x', ()) R
    assert.throws(() => load(hex('80 02 58 01 00 00 00 78 29 52 2e')), (e: unknown) => e instanceof FileFormatError && /not callable/.test(e.message));
    // a non-callable allow-listed value (a marker) used as a function
    const marker = new PyGlobal('m', 'marker');
    assert.throws(
      () => load(Uint8Array.from([0x80, 2, ...ascii('cm\nmarker\n'), 0x29, 0x52, 0x2e]), { findGlobal: () => marker }),
      /'m\.marker', which is not callable/,
    );
    // BUILD on a list
    assert.throws(() => load(hex('80 02 5d 7d 62 2e')), /BUILD \(__setstate__\) on a list\/tuple is not supported/);
    // EXT1 (extension registry)
    assert.throws(() => load(hex('80 02 82 01 2e')), /extension registry/);
    assert.throws(() => load(hex('80 02 ff 2e')), /unknown pickle opcode 0xff/);
  });

  test('a pickle cut short reports truncation', () => {
    assert.throws(() => load(hex('80 02 58 10 00 00 00 61 62')), PickleTruncatedError);
    assert.throws(() => load(hex('80 02 4b 01')), PickleTruncatedError);
  });
});

describe('PickleWriter', () => {
  test('writes protocol 2 that reads back to the same values', () => {
    const value = new Map<unknown, unknown>([
      ['ints', [0, 255, 256, 65535, 65536, -1, -(2 ** 31), 2 ** 31, 2 ** 53 - 1, -(2n ** 63n), 2n ** 64n]],
      ['floats', [0.1, -2.5, new PyFloat(3), 1e300, Infinity]],
      ['strings', ['', 'abc', 'héllo ✓']],
      ['misc', [true, false, null]],
      ['tuple', tuple(1, tuple(), tuple(1, 2, 3, 4))],
      ['nested', new Map<unknown, unknown>([[0, { lr: 0.5 }], [1, new Set([1])]])],
      ['bytes', new Uint8Array([0, 128, 255])],
      ['many', Array.from({ length: 2500 }, (_, i) => i)],
    ]);
    const bytes = new PickleWriter().dump(value).finish();
    assert.deepEqual([...bytes.subarray(0, 2)], [0x80, 2]);
    const back = load(bytes) as Map<string, unknown>;
    assert.deepEqual(back.get('ints'), [0, 255, 256, 65535, 65536, -1, -(2 ** 31), 2 ** 31, 2 ** 53 - 1, -(2n ** 63n), 2n ** 64n]);
    assert.deepEqual(back.get('floats'), [0.1, -2.5, 3, 1e300, Infinity]);
    assert.deepEqual(back.get('strings'), ['', 'abc', 'héllo ✓']);
    assert.deepEqual(back.get('misc'), [true, false, null]);
    assert.deepEqual(back.get('tuple'), [1, [], [1, 2, 3, 4]]);
    const nested = back.get('nested') as Map<number, unknown>;
    assert.deepEqual(nested.get(0), new Map([['lr', 0.5]]));
    assert.deepEqual([...(nested.get(1) as Set<number>)], [1]);
    assert.deepEqual([...(back.get('bytes') as Uint8Array)], [0, 128, 255]);
    assert.equal((back.get('many') as number[]).length, 2500);
    assert.equal((back.get('many') as number[])[2499], 2499);
  });

  test('integers use the opcodes Python uses', () => {
    const enc = (v: number | bigint) => [...new PickleWriter().dump(v).finish()].slice(2, -1);
    assert.deepEqual(enc(7), [0x4b, 7]);
    assert.deepEqual(enc(300), [0x4d, 0x2c, 0x01]);
    assert.deepEqual(enc(-5), [0x4a, 0xfb, 0xff, 0xff, 0xff]);
    assert.deepEqual(enc(-(2 ** 40)), [0x8a, 6, 0, 0, 0, 0, 0, 0xff]);
    assert.deepEqual(enc(2 ** 31), [0x8a, 5, 0, 0, 0, 0x80, 0]);
    assert.deepEqual(enc(0x1950a86a20f9469cfc6cn), [0x8a, 10, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19]);
  });

  test('refuses values it cannot represent', () => {
    assert.throws(() => new PickleWriter().dump({ f: () => 1 }), /cannot pickle a function at 'f'/);
  });
});
