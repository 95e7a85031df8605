// Python pickle: a reader that resolves globals only through a caller-given allow-list, and a
// writer for the value types soc-ts saves (protocol 2, what torch.save writes).
//
// Why not the installed `pickleparser`: it decodes LONG1 as unsigned and rejects integers wider
// than 8 bytes (negative 64-bit ints come out wrong; the legacy torch magic number is a 10-byte
// LONG1), its DICT opcode sets JS properties on a Map instead of entries, and for unknown globals
// it builds placeholder objects, then REDUCE/BUILD call or Object.assign onto whatever is on the
// stack. A checkpoint must never run code, so we want one opcode loop in which every opcode and
// every call target is accounted for; it is ~300 lines. The writer has no npm equivalent.
//
// Python values read as: None → null, bool → boolean, int → number (bigint beyond 2^53), float →
// number, str → string, bytes → Uint8Array, list and tuple → array, dict → Map (insertion order
// kept), set/frozenset → Set. Everything else comes from the allow-list (`findGlobal`).

import { FileFormatError, SocError } from '../errors.js';

// ---------------------------------------------------------------------------------------
// Reading

/**
 * A Python global the allow-list lets a pickle use. REDUCE, NEWOBJ, NEWOBJ_EX, INST and OBJ call
 * `call(args, kwargs)`; a global without `call` may only be passed around as a value (for
 * example a storage class inside a persistent id).
 */
export class PyGlobal {
  constructor(
    readonly module: string,
    readonly name: string,
    readonly call?: (args: unknown[], kwargs?: Map<unknown, unknown>) => unknown,
  ) {}
  get qualname(): string {
    return `${this.module}.${this.name}`;
  }
}

/** Thrown when a pickle references a Python global that is not on the allow-list. */
export class ForbiddenGlobalError extends SocError {
  constructor(
    readonly file: string,
    readonly global: string,
  ) {
    super(
      `refusing to load ${file}: the checkpoint references the Python global '${global}', which soc-ts does not allow; ` +
        'a checkpoint must never run code. If you trust the file, re-save only tensors in Python ' +
        '(torch.save(model.state_dict(), path)) and load that.',
    );
  }
}

/** Thrown internally when a pickle runs past the end of the bytes given (callers may read more). */
export class PickleTruncatedError extends Error {}

export interface UnpickleOptions {
  /** File name for error messages. */
  file: string;
  /** What is being read, for error messages (an archive member, "main pickle" …). */
  what?: string;
  /** Byte position of the pickle in `buf`. */
  start?: number;
  /** Resolves an allowed global; `undefined` means forbidden. */
  findGlobal(module: string, name: string): unknown;
  /** Resolves a persistent id (PERSID/BINPERSID); absent means the pickle may not use them. */
  persistentLoad?(pid: unknown): unknown;
}

/**
 * Objects whose BUILD opcode (`__setstate__`) is understood: allow-listed constructors register
 * their results here. Anything else receiving BUILD is an error.
 */
const builders = new WeakMap<object, (state: unknown) => void>();
export function onBuild(obj: object, fn: (state: unknown) => void): void {
  builders.set(obj, fn);
}

/** Instance attributes given to a dict subclass by BUILD (e.g. a state dict's `_metadata`). */
export const pyAttributes = new WeakMap<object, Map<unknown, unknown>>();

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

/** A Python int as a number when exact, otherwise a bigint. */
export function pyInt(v: bigint): number | bigint {
  return v <= MAX_SAFE && v >= -MAX_SAFE ? Number(v) : v;
}

/** Two's-complement little-endian bytes (LONG1/LONG4) as a Python int. */
function decodeLong(bytes: Uint8Array): number | bigint {
  if (bytes.length === 0) return 0;
  let v = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(bytes[i]!);
  if (bytes[bytes.length - 1]! & 0x80) v -= 1n << BigInt(8 * bytes.length);
  return pyInt(v);
}

function parseIntText(s: string): number | bigint {
  const t = s.endsWith('L') ? s.slice(0, -1) : s;
  if (!/^[+-]?\d+$/.test(t)) throw new Error(`bad integer literal '${s}'`);
  return pyInt(BigInt(t));
}

function parseFloatText(s: string): number {
  const t = s.trim().toLowerCase();
  if (t === 'inf' || t === '+inf') return Infinity;
  if (t === '-inf') return -Infinity;
  if (t === 'nan' || t === '-nan') return NaN;
  const v = Number(t);
  if (Number.isNaN(v)) throw new Error(`bad float literal '${s}'`);
  return v;
}

const latin1 = new TextDecoder('latin1');
const utf8 = new TextDecoder('utf-8');

/** Python 2 `str` literal (protocol 0 STRING): quoted, with backslash escapes. */
function decodeQuoted(s: string): string {
  const q = s[0];
  if (s.length < 2 || (q !== '"' && q !== "'") || s[s.length - 1] !== q) throw new Error('STRING argument is not quoted');
  const body = s.slice(1, -1);
  const simple: Record<string, string> = { n: '\n', t: '\t', r: '\r', '\\': '\\', "'": "'", '"': '"', '0': '\0', a: '\x07', b: '\b', f: '\f', v: '\v' };
  return body.replace(/\\(x[0-9a-fA-F]{2}|.)/g, (_, e: string) =>
    e.length === 3 ? String.fromCharCode(parseInt(e.slice(1), 16)) : (simple[e] ?? `\\${e}`),
  );
}

/** Protocol 0 UNICODE argument (raw-unicode-escape). */
function decodeRawUnicode(s: string): string {
  return s.replace(/\\u([0-9a-fA-F]{4})|\\U([0-9a-fA-F]{8})/g, (_, a: string | undefined, b: string | undefined) =>
    String.fromCodePoint(parseInt((a ?? b)!, 16)),
  );
}

/**
 * Reads one pickle from `buf` starting at `opts.start` and returns its value and the position
 * just after its STOP opcode. Throws PickleTruncatedError when `buf` ends first.
 */
export function unpickle(buf: Uint8Array, opts: UnpickleOptions): { value: unknown; end: number } {
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const what = opts.what ?? 'pickle';
  let p = opts.start ?? 0;
  let opPos = p;
  const fail = (msg: string): never => {
    throw new FileFormatError(opts.file, `${what}: ${msg} (pickle opcode at byte ${opPos})`);
  };
  const need = (n: number): void => {
    if (p + n > buf.length) throw new PickleTruncatedError(`${what} ends early (at byte ${buf.length}, needed ${p + n})`);
  };
  const u8 = (): number => {
    need(1);
    return buf[p++]!;
  };
  const u16 = (): number => {
    need(2);
    p += 2;
    return view.getUint16(p - 2, true);
  };
  const i32 = (): number => {
    need(4);
    p += 4;
    return view.getInt32(p - 4, true);
  };
  const u32 = (): number => {
    need(4);
    p += 4;
    return view.getUint32(p - 4, true);
  };
  const u64 = (): number => {
    need(8);
    p += 8;
    const v = view.getBigUint64(p - 8, true);
    if (v > MAX_SAFE) fail(`length ${v} is too large`);
    return Number(v);
  };
  const bytes = (n: number): Uint8Array => {
    need(n);
    p += n;
    return buf.subarray(p - n, p);
  };
  const line = (): string => {
    const nl = buf.indexOf(0x0a, p);
    if (nl < 0) throw new PickleTruncatedError(`${what} ends inside a text argument`);
    const s = latin1.decode(buf.subarray(p, nl));
    p = nl + 1;
    return s;
  };

  let stack: unknown[] = [];
  const metastack: unknown[][] = [];
  const memo = new Map<number, unknown>();
  const pop = (): unknown => {
    if (stack.length === 0) fail('stack underflow');
    return stack.pop();
  };
  const top = (): unknown => {
    if (stack.length === 0) fail('stack underflow');
    return stack[stack.length - 1];
  };
  const popMark = (): unknown[] => {
    const items = stack;
    const prev = metastack.pop();
    if (prev === undefined) fail('MARK expected');
    stack = prev!;
    return items;
  };
  const resolveGlobal = (module: string, name: string): unknown => {
    const g = opts.findGlobal(module, name);
    if (g === undefined) throw new ForbiddenGlobalError(opts.file, `${module}.${name}`);
    return g;
  };
  const callGlobal = (f: unknown, args: unknown, kwargs?: Map<unknown, unknown>): unknown => {
    if (!(f instanceof PyGlobal) || !f.call) {
      const name = f instanceof PyGlobal ? f.qualname : typeof f;
      return fail(`the pickle calls '${name}', which is not callable here`);
    }
    if (!Array.isArray(args)) return fail(`arguments of '${f.qualname}' are not a tuple`);
    try {
      return f.call(args, kwargs);
    } catch (e) {
      if (e instanceof SocError) throw e;
      return fail(`${f.qualname}(…): ${(e as Error).message}`);
    }
  };
  const dictSet = (d: unknown, items: unknown[]): void => {
    if (!(d instanceof Map)) fail('SETITEM(S) on something that is not a dict');
    if (items.length % 2) fail('odd number of dict items');
    for (let i = 0; i < items.length; i += 2) (d as Map<unknown, unknown>).set(items[i], items[i + 1]);
  };
  const persistent = (pid: unknown): unknown => {
    if (!opts.persistentLoad) return fail('persistent id found but this file type does not use them');
    return opts.persistentLoad!(pid);
  };

  for (;;) {
    opPos = p;
    const op = u8();
    switch (op) {
      case 0x80: {
        // PROTO
        const v = u8();
        if (v > 5) fail(`unsupported pickle protocol ${v}`);
        break;
      }
      case 0x95: // FRAME
        u64();
        break;
      case 0x2e: // STOP
        if (metastack.length) fail('STOP inside an unfinished MARK');
        return { value: pop(), end: p };
      case 0x28: // MARK
        metastack.push(stack);
        stack = [];
        break;
      case 0x30: // POP
        if (stack.length) stack.pop();
        else popMark();
        break;
      case 0x31: // POP_MARK
        popMark();
        break;
      case 0x32: // DUP
        stack.push(top());
        break;

      // ---- numbers
      case 0x49: {
        // INT (text); '00' and '01' are False and True
        const s = line();
        stack.push(s === '00' ? false : s === '01' ? true : parseIntText(s));
        break;
      }
      case 0x4c: // LONG (text)
        stack.push(parseIntText(line()));
        break;
      case 0x4a: // BININT
        stack.push(i32());
        break;
      case 0x4b: // BININT1
        stack.push(u8());
        break;
      case 0x4d: // BININT2
        stack.push(u16());
        break;
      case 0x8a: // LONG1
        stack.push(decodeLong(bytes(u8())));
        break;
      case 0x8b: {
        // LONG4
        const n = i32();
        if (n < 0) fail('negative LONG4 length');
        stack.push(decodeLong(bytes(n)));
        break;
      }
      case 0x46: // FLOAT (text)
        stack.push(parseFloatText(line()));
        break;
      case 0x47: // BINFLOAT (big-endian)
        need(8);
        p += 8;
        stack.push(view.getFloat64(p - 8, false));
        break;

      // ---- constants
      case 0x4e: // NONE
        stack.push(null);
        break;
      case 0x88: // NEWTRUE
        stack.push(true);
        break;
      case 0x89: // NEWFALSE
        stack.push(false);
        break;

      // ---- strings and bytes
      case 0x53: // STRING (Python 2 str, quoted)
        stack.push(decodeQuoted(line()));
        break;
      case 0x54: {
        // BINSTRING
        const n = i32();
        if (n < 0) fail('negative BINSTRING length');
        stack.push(latin1.decode(bytes(n)));
        break;
      }
      case 0x55: // SHORT_BINSTRING
        stack.push(latin1.decode(bytes(u8())));
        break;
      case 0x56: // UNICODE (raw-unicode-escape)
        stack.push(decodeRawUnicode(line()));
        break;
      case 0x58: // BINUNICODE
        stack.push(utf8.decode(bytes(u32())));
        break;
      case 0x8c: // SHORT_BINUNICODE
        stack.push(utf8.decode(bytes(u8())));
        break;
      case 0x8d: // BINUNICODE8
        stack.push(utf8.decode(bytes(u64())));
        break;
      // bytes are copied out of the (possibly large) pickle buffer
      case 0x42: // BINBYTES
        stack.push(new Uint8Array(bytes(u32())));
        break;
      case 0x43: // SHORT_BINBYTES
        stack.push(new Uint8Array(bytes(u8())));
        break;
      case 0x8e: // BINBYTES8
      case 0x96: // BYTEARRAY8
        stack.push(new Uint8Array(bytes(u64())));
        break;

      // ---- tuples and lists
      case 0x29: // EMPTY_TUPLE
        stack.push([]);
        break;
      case 0x74: {
        // TUPLE (popMark replaces `stack`, so take the items before pushing)
        const items = popMark();
        stack.push(items);
        break;
      }
      case 0x85: // TUPLE1
        stack.push([pop()]);
        break;
      case 0x86: {
        // TUPLE2
        const b = pop();
        const a = pop();
        stack.push([a, b]);
        break;
      }
      case 0x87: {
        // TUPLE3
        const c = pop();
        const b = pop();
        const a = pop();
        stack.push([a, b, c]);
        break;
      }
      case 0x5d: // EMPTY_LIST
        stack.push([]);
        break;
      case 0x6c: {
        // LIST
        const items = popMark();
        stack.push(items);
        break;
      }
      case 0x61: {
        // APPEND
        const v = pop();
        const list = top();
        if (!Array.isArray(list)) fail('APPEND to something that is not a list');
        (list as unknown[]).push(v);
        break;
      }
      case 0x65: {
        // APPENDS
        const items = popMark();
        const list = top();
        if (!Array.isArray(list)) fail('APPENDS to something that is not a list');
        for (const v of items) (list as unknown[]).push(v);
        break;
      }

      // ---- dicts and sets
      case 0x7d: // EMPTY_DICT
        stack.push(new Map());
        break;
      case 0x64: {
        // DICT
        const d = new Map();
        dictSet(d, popMark());
        stack.push(d);
        break;
      }
      case 0x73: {
        // SETITEM
        const v = pop();
        const k = pop();
        dictSet(top(), [k, v]);
        break;
      }
      case 0x75: {
        // SETITEMS
        const items = popMark();
        dictSet(top(), items);
        break;
      }
      case 0x8f: // EMPTY_SET
        stack.push(new Set());
        break;
      case 0x90: {
        // ADDITEMS
        const items = popMark();
        const s = top();
        if (!(s instanceof Set)) fail('ADDITEMS to something that is not a set');
        for (const v of items) (s as Set<unknown>).add(v);
        break;
      }
      case 0x91: {
        // FROZENSET
        const items = popMark();
        stack.push(new Set(items));
        break;
      }

      // ---- memo
      case 0x70: // PUT (text)
        memo.set(Number(parseIntText(line())), top());
        break;
      case 0x71: // BINPUT
        memo.set(u8(), top());
        break;
      case 0x72: // LONG_BINPUT
        memo.set(u32(), top());
        break;
      case 0x94: // MEMOIZE
        memo.set(memo.size, top());
        break;
      case 0x67: // GET (text)
      case 0x68: // BINGET
      case 0x6a: {
        // LONG_BINGET
        const i = op === 0x67 ? Number(parseIntText(line())) : op === 0x68 ? u8() : u32();
        if (!memo.has(i)) fail(`memo entry ${i} is missing`);
        stack.push(memo.get(i));
        break;
      }

      // ---- globals, calls, objects
      case 0x63: {
        // GLOBAL
        const module = line();
        const name = line();
        stack.push(resolveGlobal(module, name));
        break;
      }
      case 0x93: {
        // STACK_GLOBAL
        const name = pop();
        const module = pop();
        if (typeof module !== 'string' || typeof name !== 'string') fail('STACK_GLOBAL needs two strings');
        stack.push(resolveGlobal(module as string, name as string));
        break;
      }
      case 0x52: {
        // REDUCE
        const args = pop();
        const f = pop();
        stack.push(callGlobal(f, args));
        break;
      }
      case 0x81: {
        // NEWOBJ: cls.__new__(cls, *args)
        const args = pop();
        const cls = pop();
        stack.push(callGlobal(cls, args));
        break;
      }
      case 0x92: {
        // NEWOBJ_EX
        const kwargs = pop();
        const args = pop();
        const cls = pop();
        stack.push(callGlobal(cls, args, kwargs instanceof Map ? kwargs : undefined));
        break;
      }
      case 0x69: {
        // INST (protocol 0)
        const module = line();
        const name = line();
        const args = popMark();
        stack.push(callGlobal(resolveGlobal(module, name), args));
        break;
      }
      case 0x6f: {
        // OBJ (protocol 1)
        const items = popMark();
        if (items.length === 0) fail('OBJ without a class');
        stack.push(callGlobal(items[0], items.slice(1)));
        break;
      }
      case 0x62: {
        // BUILD: obj.__setstate__(state) or obj.__dict__.update(state)
        const state = pop();
        const obj = top();
        if (state === null) break;
        const build = typeof obj === 'object' && obj !== null ? builders.get(obj) : undefined;
        if (build) {
          build(state);
        } else if (obj instanceof Map) {
          // A dict subclass with instance attributes (OrderedDict state dicts carry `_metadata`).
          const dictState = Array.isArray(state) ? state[0] : state;
          if (dictState instanceof Map) pyAttributes.set(obj, dictState);
        } else {
          fail(`BUILD (__setstate__) on ${describe(obj)} is not supported`);
        }
        break;
      }
      case 0x50: // PERSID (text)
        stack.push(persistent(line()));
        break;
      case 0x51: // BINPERSID
        stack.push(persistent(pop()));
        break;

      case 0x82:
      case 0x83:
      case 0x84:
        return fail('the copyreg extension registry (EXT1/2/4) is not supported');
      case 0x97:
        return fail('out-of-band buffers (NEXT_BUFFER) are not supported');
      case 0x98: // READONLY_BUFFER
        break;
      default:
        return fail(`unknown pickle opcode 0x${op.toString(16).padStart(2, '0')}`);
    }
  }
}

function describe(v: unknown): string {
  if (v === null) return 'None';
  if (Array.isArray(v)) return 'a list/tuple';
  if (v instanceof PyGlobal) return `'${v.qualname}'`;
  return `a ${typeof v === 'object' ? ((v as object).constructor?.name ?? 'object') : typeof v}`;
}

// ---------------------------------------------------------------------------------------
// Allow-listed plain-Python globals (torch-specific ones live in torch-file.ts)

function mapFrom(arg: unknown): Map<unknown, unknown> {
  if (arg === undefined || arg === null) return new Map();
  if (arg instanceof Map) return new Map(arg);
  if (Array.isArray(arg)) return new Map(arg.map((kv) => (Array.isArray(kv) ? [kv[0], kv[1]] : [kv, undefined])) as [unknown, unknown][]);
  throw new Error(`cannot build a dict from ${describe(arg)}`);
}

/** numpy.dtype as far as decoding numpy scalars needs it. */
class NumpyDType {
  byteOrder = '=';
  constructor(readonly spec: string) {
    onBuild(this, (state) => {
      if (Array.isArray(state) && typeof state[1] === 'string') this.byteOrder = state[1];
    });
  }
}

function numpyScalar(args: unknown[]): unknown {
  const [dtype, data] = args;
  if (!(dtype instanceof NumpyDType) || !(data instanceof Uint8Array)) throw new Error('expected (dtype, bytes)');
  const dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const le = dtype.byteOrder !== '>';
  const spec = dtype.spec.replace(/^[<>=|]/, '');
  const check = (n: number) => {
    if (data.length !== n) throw new Error(`numpy scalar of type ${spec} needs ${n} bytes, got ${data.length}`);
  };
  switch (spec) {
    case 'f8':
      check(8);
      return dv.getFloat64(0, le);
    case 'f4':
      check(4);
      return dv.getFloat32(0, le);
    case 'i8':
      check(8);
      return pyInt(dv.getBigInt64(0, le));
    case 'u8':
      check(8);
      return pyInt(dv.getBigUint64(0, le));
    case 'i4':
      check(4);
      return dv.getInt32(0, le);
    case 'u4':
      check(4);
      return dv.getUint32(0, le);
    case 'i2':
      check(2);
      return dv.getInt16(0, le);
    case 'u2':
      check(2);
      return dv.getUint16(0, le);
    case 'i1':
      check(1);
      return dv.getInt8(0);
    case 'u1':
      check(1);
      return dv.getUint8(0);
    case 'b1':
      check(1);
      return data[0] !== 0;
    default:
      throw new Error(`numpy scalar type '${dtype.spec}' is not supported`);
  }
}

const basicGlobals = new Map<string, PyGlobal>();
function addBasic(module: string | string[], name: string, call?: PyGlobal['call']): void {
  for (const m of Array.isArray(module) ? module : [module]) basicGlobals.set(`${m}.${name}`, new PyGlobal(m, name, call));
}
const BUILTINS = ['builtins', '__builtin__'];
addBasic('collections', 'OrderedDict', (args) => mapFrom(args[0]));
addBasic('collections', 'Counter', (args) => mapFrom(args[0]));
addBasic(BUILTINS, 'set', (args) => new Set((args[0] as Iterable<unknown>) ?? []));
addBasic(BUILTINS, 'frozenset', (args) => new Set((args[0] as Iterable<unknown>) ?? []));
addBasic(BUILTINS, 'slice', (args) => ({ start: args[0] ?? null, stop: args[1] ?? null, step: args[2] ?? null }));
addBasic('_codecs', 'encode', (args) => {
  const [s, enc] = args;
  if (typeof s !== 'string' || (enc !== 'latin1' && enc !== 'latin-1')) throw new Error("only _codecs.encode(str, 'latin1') is supported");
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c > 255) throw new Error('character outside latin1');
    out[i] = c;
  }
  return out;
});
addBasic('argparse', 'Namespace', (_args, kwargs) => {
  const obj: Record<string, unknown> = {};
  const assign = (state: unknown) => {
    const d = Array.isArray(state) ? state[0] : state;
    if (!(d instanceof Map)) return;
    for (const [k, v] of d) Object.defineProperty(obj, String(k), { value: v, enumerable: true, writable: true, configurable: true });
  };
  if (kwargs) assign(kwargs);
  onBuild(obj, assign);
  return obj;
});
for (const m of ['numpy', 'numpy.core.multiarray', 'numpy._core.multiarray']) {
  if (m === 'numpy') addBasic(m, 'dtype', (args) => new NumpyDType(String(args[0])));
  else addBasic(m, 'scalar', numpyScalar);
}

/** The allow-listed globals that are plain Python (collections, builtins, numpy scalars …). */
export function findBasicGlobal(module: string, name: string): PyGlobal | undefined {
  return basicGlobals.get(`${module}.${name}`);
}

// ---------------------------------------------------------------------------------------
// Writing

/** A Python tuple for the writer (plain arrays are written as lists). */
export class PyTuple {
  constructor(readonly items: readonly unknown[]) {}
}
export function tuple(...items: unknown[]): PyTuple {
  return new PyTuple(items);
}
/** A Python float for the writer, even when the value is integral (plain numbers that are safe integers become ints). */
export class PyFloat {
  constructor(readonly value: number) {}
}

/**
 * Writes pickle protocol 2, the protocol torch.save uses. Maps become collections.OrderedDict,
 * plain objects become dict. `custom` can take over any value (tensors) and use the low-level
 * methods below.
 */
export class PickleWriter {
  private chunks: Uint8Array[] = [];
  private cur = new Uint8Array(1 << 16);
  private len = 0;
  private readonly memoGlobals = new Map<string, number>();
  private memoSize = 0;

  constructor(private readonly custom?: (value: unknown, w: PickleWriter, path: string) => boolean) {}

  private ensure(n: number): void {
    if (this.len + n <= this.cur.length) return;
    this.chunks.push(this.cur.subarray(0, this.len));
    this.cur = new Uint8Array(Math.max(1 << 16, n));
    this.len = 0;
  }
  byte(b: number): void {
    this.ensure(1);
    this.cur[this.len++] = b;
  }
  raw(bytes: Uint8Array): void {
    this.ensure(bytes.length);
    this.cur.set(bytes, this.len);
    this.len += bytes.length;
  }
  private u32(v: number): void {
    this.ensure(4);
    new DataView(this.cur.buffer).setUint32(this.len, v, true);
    this.len += 4;
  }

  /** The finished pickle (PROTO 2 … STOP). */
  finish(): Uint8Array {
    this.byte(0x2e);
    this.chunks.push(this.cur.subarray(0, this.len));
    const total = this.chunks.reduce((a, c) => a + c.length, 0);
    const out = new Uint8Array(total);
    let o = 0;
    for (const c of this.chunks) {
      out.set(c, o);
      o += c.length;
    }
    return out;
  }

  /** Writes the protocol header and the value; call finish() afterwards. */
  dump(value: unknown): this {
    this.byte(0x80);
    this.byte(2);
    this.value(value, '');
    return this;
  }

  /** GLOBAL module.name, memoized so repeated references cost two bytes. */
  global(module: string, name: string): void {
    const key = `${module}\n${name}`;
    const m = this.memoGlobals.get(key);
    if (m !== undefined) {
      this.get(m);
      return;
    }
    this.byte(0x63);
    this.raw(new TextEncoder().encode(`${module}\n${name}\n`));
    const idx = this.memoSize++;
    if (idx < 256) {
      this.byte(0x71);
      this.byte(idx);
    } else {
      this.byte(0x72);
      this.u32(idx);
    }
    this.memoGlobals.set(key, idx);
  }
  private get(idx: number): void {
    if (idx < 256) {
      this.byte(0x68);
      this.byte(idx);
    } else {
      this.byte(0x6a);
      this.u32(idx);
    }
  }
  mark(): void {
    this.byte(0x28);
  }
  reduce(): void {
    this.byte(0x52);
  }
  binpersid(): void {
    this.byte(0x51);
  }

  int(v: number | bigint): void {
    const b = BigInt(v);
    if (b >= 0n && b < 256n) {
      this.byte(0x4b);
      this.byte(Number(b));
    } else if (b >= 0n && b < 65536n) {
      this.byte(0x4d);
      this.byte(Number(b) & 0xff);
      this.byte(Number(b) >> 8);
    } else if (b >= -(1n << 31n) && b < 1n << 31n) {
      this.byte(0x4a);
      this.ensure(4);
      new DataView(this.cur.buffer).setInt32(this.len, Number(b), true);
      this.len += 4;
    } else {
      // LONG1: minimal two's-complement little-endian bytes
      const out: number[] = [];
      let x = b;
      for (;;) {
        out.push(Number(x & 0xffn));
        x >>= 8n;
        const signBit = (out[out.length - 1]! & 0x80) !== 0;
        if ((x === 0n && !signBit) || (x === -1n && signBit)) break;
      }
      this.byte(0x8a);
      this.byte(out.length);
      this.raw(Uint8Array.from(out));
    }
  }
  float(v: number): void {
    this.byte(0x47);
    this.ensure(8);
    new DataView(this.cur.buffer).setFloat64(this.len, v, false);
    this.len += 8;
  }
  string(s: string): void {
    const b = new TextEncoder().encode(s);
    this.byte(0x58);
    this.u32(b.length);
    this.raw(b);
  }
  tuple(items: readonly unknown[], path: string): void {
    if (items.length === 0) {
      this.byte(0x29);
      return;
    }
    if (items.length <= 3) {
      items.forEach((v, i) => this.value(v, `${path}[${i}]`));
      this.byte([0x85, 0x86, 0x87][items.length - 1]!);
      return;
    }
    this.mark();
    items.forEach((v, i) => this.value(v, `${path}[${i}]`));
    this.byte(0x74);
  }
  private setItems(entries: [unknown, unknown][], path: string): void {
    for (let i = 0; i < entries.length; i += 1000) {
      const batch = entries.slice(i, i + 1000);
      if (batch.length > 1) this.mark();
      for (const [k, v] of batch) {
        this.value(k, path);
        this.value(v, path ? `${path}.${String(k)}` : String(k));
      }
      this.byte(batch.length > 1 ? 0x75 : 0x73);
    }
  }

  /** Writes any supported value; `path` names it in error messages. */
  value(v: unknown, path: string): void {
    if (this.custom && this.custom(v, this, path)) return;
    if (v === null || v === undefined) this.byte(0x4e);
    else if (v === true) this.byte(0x88);
    else if (v === false) this.byte(0x89);
    else if (typeof v === 'bigint') this.int(v);
    else if (typeof v === 'number') Number.isSafeInteger(v) && !Object.is(v, -0) ? this.int(v) : this.float(v);
    else if (v instanceof PyFloat) this.float(v.value);
    else if (typeof v === 'string') this.string(v);
    else if (v instanceof PyTuple) this.tuple(v.items, path);
    else if (Array.isArray(v)) {
      this.byte(0x5d);
      for (let i = 0; i < v.length; i += 1000) {
        const batch = v.slice(i, i + 1000);
        if (batch.length > 1) this.mark();
        batch.forEach((x, j) => this.value(x, `${path}[${i + j}]`));
        this.byte(batch.length > 1 ? 0x65 : 0x61);
      }
    } else if (v instanceof Map) {
      this.global('collections', 'OrderedDict');
      this.byte(0x29);
      this.reduce();
      this.setItems([...v.entries()], path);
      // Instance attributes read from a file (a state dict's `_metadata`) go back the same way.
      const attrs = pyAttributes.get(v);
      if (attrs && attrs.size) {
        this.value(attrs, path);
        this.byte(0x62); // BUILD
      }
    } else if (v instanceof Uint8Array) {
      // protocol 2 has no bytes opcode for Python 3; Python writes _codecs.encode(latin1 str)
      this.global('_codecs', 'encode');
      let s = '';
      for (const c of v) s += String.fromCharCode(c);
      this.string(s);
      this.string('latin1');
      this.byte(0x86);
      this.reduce();
    } else if (v instanceof Set) {
      this.global('__builtin__', 'set');
      this.value([...v], path);
      this.byte(0x85);
      this.reduce();
    } else if (typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype) {
      this.byte(0x7d);
      this.setItems(Object.entries(v as Record<string, unknown>), path);
    } else {
      throw new TypeError(`cannot pickle ${describe(v)} at '${path || '<root>'}'`);
    }
  }
}
