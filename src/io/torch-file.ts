// Reading and writing files made by torch.save.
//
// Two on-disk formats:
//  - zip (torch >= 1.6): `<name>/data.pkl` (the pickled object), `<name>/data/<key>` (one member
//    per storage, raw little-endian), `<name>/version`.
//  - legacy (before 1.6, or _use_new_zipfile_serialization=False): five pickles in a row (magic
//    number, protocol version, sys info, the object, the list of storage keys), then every
//    storage as an 8-byte little-endian element count followed by its raw bytes.
// In both, tensors are pickled as torch._utils._rebuild_tensor_v2(storage, offset, size, stride,
// …) and storages as persistent ids ('storage', <storage class>, key, location, numel[, view]).
//
// Opening a file reads only the pickles: tensors come back as TensorRef (dtype, shape, where the
// bytes are), so `soc inspect` never touches tensor data and a caller can materialize just the
// part it needs (the model state dict of a trainer checkpoint). Materializing reads each storage
// once, straight from the file into a libtorch tensor, and builds every tensor as a strided view
// of it, so tensors that shared a storage in Python share memory here too.

import { closeSync, fstatSync, openSync } from 'node:fs';
import { basename } from 'node:path';
import { writeAtomically } from './atomic.js';
import { FileFormatError } from '../errors.js';
import { type DType, ITEM_SIZE } from '../tensor/dtype.js';
import { isTensor, type Tensor } from '../tensor/tensor.js';
import { fromTypedArray } from '../tensor/creation.js';
import { noGrad } from '../tensor/autograd.js';
import { detectFormat } from './detect.js';
import { readTensorFromFile, storageId, storageNumel, tensorCrc32, writeTensorToFd } from './native-io.js';
import { findBasicGlobal, PickleTruncatedError, PickleWriter, pyAttributes, PyGlobal, tuple, unpickle } from './pickle.js';
import { preadExact, ZipReader, ZipWriter, type ZipEntry } from './zip.js';

// ---------------------------------------------------------------------------------------
// Storage classes and the torch part of the allow-list

/** torch.<X>Storage and the dtype of its elements. */
export const STORAGE_DTYPES: Record<string, DType> = {
  FloatStorage: 'float32',
  DoubleStorage: 'float64',
  HalfStorage: 'float16',
  BFloat16Storage: 'bfloat16',
  LongStorage: 'int64',
  IntStorage: 'int32',
  ShortStorage: 'int16',
  CharStorage: 'int8',
  ByteStorage: 'uint8',
  BoolStorage: 'bool',
};
const STORAGE_CLASS: Record<DType, string> = Object.fromEntries(
  Object.entries(STORAGE_DTYPES).map(([k, v]) => [v, k]),
) as Record<DType, string>;

/** A storage class as it appears in a persistent id. */
class StorageType extends PyGlobal {
  constructor(
    module: string,
    name: string,
    readonly dtype: DType,
  ) {
    super(module, name);
  }
}

/** Where a storage's bytes are in the file. */
interface StorageSource {
  key: string;
  dtype: DType;
  numel: number;
  location: string;
  /** Absolute offset of the raw bytes (stored zip members and legacy files). */
  offset?: number;
  /** A compressed zip member holding the bytes. */
  member?: ZipEntry;
}

/** A tensor in a PyTorch file whose data has not been read yet. */
export class TensorRef {
  constructor(
    /** Key of the storage in the file; tensors with the same key share memory. */
    readonly storageKey: string,
    readonly dtype: DType,
    readonly storageOffset: number,
    readonly shape: number[],
    readonly stride: number[],
    readonly requiresGrad: boolean,
    /** Element count of the whole storage. */
    readonly storageNumel: number,
  ) {}
  get numel(): number {
    return this.shape.reduce((a, b) => a * b, 1);
  }
}

/** A storage (or, in legacy files, a view of one) handed to the tensor rebuild functions. */
interface StorageArg {
  source: StorageSource;
  /** Element offset of a legacy storage view inside its root storage. */
  viewOffset: number;
}

const intList = (v: unknown, what: string): number[] => {
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'number' && Number.isInteger(x))) {
    throw new Error(`${what} must be a tuple of ints`);
  }
  return v as number[];
};

function rebuildTensor(args: unknown[]): TensorRef {
  const [storage, offset, size, stride, requiresGrad] = args as [StorageArg, unknown, unknown, unknown, unknown];
  if (!storage || typeof storage !== 'object' || !('source' in storage)) throw new Error('first argument is not a storage');
  if (typeof offset !== 'number') throw new Error('storage offset must be an int');
  const shape = intList(size, 'size');
  const strides = intList(stride, 'stride');
  if (shape.length !== strides.length) throw new Error(`size [${shape}] and stride [${strides}] differ in length`);
  const s = storage.source;
  return new TensorRef(s.key, s.dtype, storage.viewOffset + offset, [...shape], [...strides], requiresGrad === true, s.numel);
}

const torchCallables = new Map<string, PyGlobal>();
function addTorch(module: string, name: string, call?: PyGlobal['call']): void {
  torchCallables.set(`${module}.${name}`, new PyGlobal(module, name, call));
}
addTorch('torch._utils', '_rebuild_tensor_v2', rebuildTensor);
addTorch('torch._utils', '_rebuild_tensor', rebuildTensor);
// nn.Parameter: the tensor is what we need; requires_grad is already known to the ref.
addTorch('torch._utils', '_rebuild_parameter', (args) => args[0]);
addTorch('torch._utils', '_rebuild_parameter_with_state', (args) => args[0]);
addTorch('torch', 'Tensor');
addTorch('torch.nn.parameter', 'Parameter');
// torch >= 1.12 wraps tensors that carry Python attributes; only plain tensors/parameters are accepted.
addTorch('torch._tensor', '_rebuild_from_type_v2', (args) => {
  const [func, newType, inner] = args;
  const ok = newType instanceof PyGlobal && (newType.qualname === 'torch.Tensor' || newType.qualname === 'torch.nn.parameter.Parameter');
  if (!ok || !(func instanceof PyGlobal) || !func.call || !Array.isArray(inner)) {
    throw new Error('only plain tensors and parameters can be rebuilt');
  }
  return func.call(inner);
});
addTorch('torch', 'Size', (args) => [...((args[0] as unknown[]) ?? [])]);
addTorch('torch', 'device', (args) => (args.length > 1 && args[1] !== null ? `${args[0]}:${args[1]}` : String(args[0])));

/**
 * The allow-list of globals a checkpoint pickle may reference. Storage classes of unsupported
 * element types get a specific error rather than the generic forbidden-global one.
 */
function findTorchGlobal(file: string, module: string, name: string): unknown {
  const basic = findBasicGlobal(module, name);
  if (basic) return basic;
  const t = torchCallables.get(`${module}.${name}`);
  if (t) return t;
  if (module === 'torch' || module === 'torch.cuda') {
    if (name in STORAGE_DTYPES) return new StorageType(module, name, STORAGE_DTYPES[name]!);
    if (name.endsWith('Storage')) {
      throw new FileFormatError(
        file,
        `unknown storage type '${module}.${name}': soc-ts reads ${Object.keys(STORAGE_DTYPES).join(', ')} (dtypes ${Object.values(STORAGE_DTYPES).join(', ')})`,
      );
    }
  }
  // Untyped byte storages (torch >= 2.0 when bytes, not typed storages, are saved).
  if ((module === 'torch' && name === 'UntypedStorage') || (module === 'torch.storage' && (name === 'UntypedStorage' || name === '_UntypedStorage'))) {
    return new StorageType(module, name, 'uint8');
  }
  return undefined;
}

function decodeAscii(v: unknown): unknown {
  return v instanceof Uint8Array ? new TextDecoder('latin1').decode(v) : v;
}

// ---------------------------------------------------------------------------------------
// Reading

export interface MaterializeOptions {
  /** Verify each zip member's CRC-32 against the bytes read (costs one pass over the data). */
  checkCrc?: boolean;
}

/** An opened torch.save file: its object tree with TensorRef leaves, and the means to read them. */
export class TorchFile {
  /** Set by the format readers. */
  root: unknown = null;
  /** Zip: the archive's top folder; legacy: undefined. */
  archiveName?: string;
  /** Zip: the `version` record; legacy: the protocol version (1001). */
  version?: number;
  private readonly storages = new Map<string, StorageSource>();
  private zip?: ZipReader;

  private constructor(
    readonly path: string,
    readonly format: 'torch-zip' | 'torch-legacy',
  ) {}

  /** Opens a torch.save file of either format (detected from its content). */
  static open(path: string): TorchFile {
    const fmt = detectFormat(path);
    if (fmt === 'safetensors') throw new FileFormatError(path, 'this is a safetensors file, not a torch.save file');
    const tf = new TorchFile(path, fmt);
    if (fmt === 'torch-zip') tf.readZip();
    else tf.readLegacy();
    return tf;
  }

  /** Number of distinct storages in the file. */
  get storageCount(): number {
    return this.storages.size;
  }

  private fail(detail: string): never {
    throw new FileFormatError(this.path, detail);
  }

  private persistentLoad(pid: unknown, legacy: boolean): StorageArg {
    if (!Array.isArray(pid) || pid.length === 0) return this.fail(`unexpected persistent id ${JSON.stringify(pid)}`);
    const kind = decodeAscii(pid[0]);
    if (kind === 'module') {
      this.fail('the file pickles a whole nn.Module (torch.save(model)); soc-ts reads state dicts: save model.state_dict() instead');
    }
    if (kind !== 'storage' || pid.length < 5) return this.fail(`unexpected persistent id of kind '${String(kind)}'`);
    const [, type, rawKey, rawLocation, numel, view] = pid as unknown[];
    if (!(type instanceof StorageType)) return this.fail(`persistent id names a storage of unknown type ${String(type)}`);
    const key = String(decodeAscii(rawKey));
    const location = String(decodeAscii(rawLocation));
    if (typeof numel !== 'number' || numel < 0) return this.fail(`storage '${key}' has an invalid size ${String(numel)}`);
    let src = this.storages.get(key);
    if (!src) {
      src = { key, dtype: type.dtype, numel, location };
      if (!legacy) {
        const member = this.zip!.entries.get(`${this.archiveName}/data/${key}`);
        if (!member) this.fail(`storage '${key}' is missing: no member '${this.archiveName}/data/${key}' in the archive`);
        const need = numel * ITEM_SIZE[type.dtype];
        if (member!.size < need) {
          this.fail(`member '${member!.name}' has ${member!.size} bytes but storage '${key}' (${numel} × ${type.dtype}) needs ${need}`);
        }
        if (member!.method === 0) src.offset = this.zip!.dataOffset(member!);
        else src.member = member;
      }
      this.storages.set(key, src);
    } else if (src.dtype !== type.dtype) {
      this.fail(`storage '${key}' is used both as ${src.dtype} and ${type.dtype}`);
    }
    let viewOffset = 0;
    if (legacy && Array.isArray(view)) {
      // Legacy storage views: (view_key, element offset, view size) inside the root storage.
      const [, off] = view as unknown[];
      if (typeof off !== 'number') this.fail(`storage view of '${key}' has a bad offset`);
      viewOffset = off as number;
    }
    return { source: src, viewOffset };
  }

  private readZip(): void {
    const zip = ZipReader.open(this.path);
    this.zip = zip;
    // torch's reader takes the archive folder from the first member; accept any folder holding data.pkl.
    const first = zip.names[0]?.split('/')[0];
    let prefix = first && zip.entries.has(`${first}/data.pkl`) ? first : undefined;
    if (!prefix) prefix = zip.names.find((n) => /^[^/]+\/data\.pkl$/.test(n))?.split('/')[0];
    if (!prefix) {
      this.fail(`zip archive without a '<name>/data.pkl' member: not a torch.save checkpoint (members: ${zip.names.slice(0, 5).join(', ')}${zip.names.length > 5 ? ', …' : ''})`);
    }
    this.archiveName = prefix;
    const versionName = [`${prefix}/version`, `${prefix}/.data/version`].find((n) => zip.entries.has(n));
    if (versionName) this.version = Number(new TextDecoder().decode(zip.read(versionName)).trim());
    const byteorder = zip.entries.has(`${prefix}/byteorder`) ? new TextDecoder().decode(zip.read(`${prefix}/byteorder`)).trim() : 'little';
    if (byteorder !== 'little') this.fail(`the archive was written on a '${byteorder}'-endian machine; only little-endian checkpoints are supported`);
    const pkl = zip.read(`${prefix}/data.pkl`);
    try {
      this.root = unpickle(pkl, {
        file: this.path,
        what: `${prefix}/data.pkl`,
        findGlobal: (m, n) => findTorchGlobal(this.path, m, n),
        persistentLoad: (pid) => this.persistentLoad(pid, false),
      }).value;
    } catch (e) {
      if (e instanceof PickleTruncatedError) this.fail(`${prefix}/data.pkl is damaged: ${e.message}`);
      throw e;
    }
  }

  private readLegacy(): void {
    const fd = openSync(this.path, 'r');
    try {
      const size = fstatSync(fd).size;
      // The pickles come first; read more of the file until they all fit.
      let n = Math.min(size, 1 << 20);
      for (;;) {
        try {
          this.storages.clear();
          this.legacyDataStart = this.parseLegacyPickles(preadExact(fd, this.path, 0, n, 'pickles'));
          return;
        } catch (e) {
          if (!(e instanceof PickleTruncatedError)) throw e;
          if (n >= size) this.fail(`the file ends inside its pickled header (${e.message}): truncated file?`);
          n = Math.min(size, n * 4);
        }
      }
    } finally {
      closeSync(fd);
    }
  }

  /** Parses the five legacy pickles; returns where the storage data begins. */
  private parseLegacyPickles(buf: Uint8Array): number {
    const opts = (what: string, start: number) => ({ file: this.path, what, start, findGlobal: () => undefined });
    // Pickle 1: the magic number 0x1950a86a20f9469cfc6c, which protocol 2 writes as the 15 bytes
    // 80 02 8a 0a 6c fc 9c 46 f9 20 6a a8 50 19 2e (PROTO 2, LONG1 of 10 bytes, STOP).
    let r = unpickle(buf, opts('magic number', 0));
    if (r.value !== 0x1950a86a20f9469cfc6cn) {
      this.fail(`wrong magic number ${typeof r.value === 'bigint' ? '0x' + r.value.toString(16) : JSON.stringify(r.value)}: a Python pickle, but not one written by torch.save`);
    }
    r = unpickle(buf, opts('protocol version', r.end));
    if (r.value !== 1001) this.fail(`legacy protocol version ${String(r.value)} is not supported (expected 1001)`);
    this.version = 1001;
    r = unpickle(buf, { ...opts('sys info', r.end), findGlobal: (m, n) => findBasicGlobal(m, n) });
    const sys = r.value;
    if (sys instanceof Map && sys.get('little_endian') === false) this.fail('the file was written on a big-endian machine; only little-endian checkpoints are supported');
    r = unpickle(buf, {
      file: this.path,
      what: 'main pickle',
      start: r.end,
      findGlobal: (m, n) => findTorchGlobal(this.path, m, n),
      persistentLoad: (pid) => this.persistentLoad(pid, true),
    });
    this.root = r.value;
    r = unpickle(buf, opts('storage key list', r.end));
    const keys = r.value;
    if (!Array.isArray(keys)) this.fail('the storage key list is not a list');
    this.legacyKeys = (keys as unknown[]).map((k) => String(decodeAscii(k)));
    return r.end;
  }

  private legacyKeys: string[] = [];
  private legacyDataStart = 0;
  private legacyScanned = false;

  /** Legacy: walks the storage records after the pickles to find each storage's bytes. */
  private scanLegacyStorages(): void {
    if (this.legacyScanned) return;
    const fd = openSync(this.path, 'r');
    try {
      const size = fstatSync(fd).size;
      let pos = this.legacyDataStart;
      for (const key of this.legacyKeys) {
        const src = this.storages.get(key);
        if (!src) this.fail(`storage '${key}' is listed in the file but no tensor uses it`);
        if (pos + 8 > size) this.fail(`the file ends at byte ${size} before storage '${key}' (truncated file?)`);
        const count = Number(preadExact(fd, this.path, pos, 8, `size of storage '${key}'`).readBigInt64LE(0));
        if (count !== src!.numel) this.fail(`storage '${key}' holds ${count} elements but the pickle says ${src!.numel}`);
        src!.offset = pos + 8;
        pos += 8 + count * ITEM_SIZE[src!.dtype];
        if (pos > size) {
          this.fail(`storage '${key}' (${count} × ${src!.dtype}) ends at byte ${pos} but the file has ${size} bytes (truncated file?)`);
        }
      }
      for (const src of this.storages.values()) {
        if (src.offset === undefined) this.fail(`storage '${src.key}' is used by a tensor but missing from the storage list`);
      }
      this.legacyScanned = true;
    } finally {
      closeSync(fd);
    }
  }

  /** Reads one storage into a 1-D tensor. */
  private loadStorage(src: StorageSource, opts: MaterializeOptions): Tensor {
    if (src.member) {
      const bytes = this.zip!.read(src.member.name);
      const t = fromTypedArray(bytes.subarray(0, src.numel * ITEM_SIZE[src.dtype]), [src.numel], src.dtype);
      return t;
    }
    const t = readTensorFromFile(this.path, src.offset!, src.dtype, [src.numel]);
    if (opts.checkCrc && this.zip) {
      const member = this.zip.entries.get(`${this.archiveName}/data/${src.key}`)!;
      if (member.size === src.numel * ITEM_SIZE[src.dtype] && tensorCrc32(t) !== member.crc32) {
        t.dispose();
        this.fail(`member '${member.name}' fails its CRC-32 check (the file is damaged)`);
      }
    }
    return t;
  }

  /**
   * Replaces every TensorRef in `value` (default: the whole file) by a Tensor read from the file,
   * returning a new tree (Maps, arrays, plain objects and Sets are copied; the opened tree stays
   * usable). Tensors that share a storage in the file share memory in the result. The tensors
   * belong to the caller.
   */
  materialize(value: unknown = this.root, opts: MaterializeOptions = {}): unknown {
    if (this.format === 'torch-legacy') this.scanLegacyStorages();
    const bases = new Map<string, Tensor>();
    const created: Tensor[] = [];
    const seen = new Map<object, unknown>();
    const convert = (v: unknown, path: string): unknown => {
      if (v instanceof TensorRef) return this.view(v, path, bases, created, opts);
      if (v === null || typeof v !== 'object') return v;
      if (seen.has(v)) return seen.get(v);
      if (Array.isArray(v)) {
        const out: unknown[] = [];
        seen.set(v, out);
        v.forEach((x, i) => out.push(convert(x, `${path}.${i}`)));
        return out;
      }
      if (v instanceof Map) {
        const out = new Map();
        seen.set(v, out);
        const attrs = pyAttributes.get(v);
        if (attrs) pyAttributes.set(out, attrs);
        for (const [k, x] of v) out.set(k, convert(x, path ? `${path}.${String(k)}` : String(k)));
        return out;
      }
      if (v instanceof Set) {
        const out = new Set();
        seen.set(v, out);
        for (const x of v) out.add(convert(x, path));
        return out;
      }
      if (Object.getPrototypeOf(v) === Object.prototype) {
        const out: Record<string, unknown> = {};
        seen.set(v, out);
        for (const [k, x] of Object.entries(v)) {
          Object.defineProperty(out, k, { value: convert(x, path ? `${path}.${k}` : k), enumerable: true, writable: true, configurable: true });
        }
        return out;
      }
      return v;
    };
    try {
      return noGrad(() => convert(value, ''));
    } catch (e) {
      for (const t of created) t.dispose();
      throw e;
    } finally {
      for (const b of bases.values()) b.dispose();
    }
  }

  private view(ref: TensorRef, path: string, bases: Map<string, Tensor>, created: Tensor[], opts: MaterializeOptions): Tensor {
    const src = this.storages.get(ref.storageKey)!;
    path = path || '<root>';
    // The last element the view touches must lie inside the storage.
    if (ref.numel > 0) {
      if (ref.stride.some((s) => s < 0) || ref.storageOffset < 0) this.fail(`tensor '${path}' has a negative stride or offset`);
      const last = ref.storageOffset + ref.shape.reduce((a, n, i) => a + (n - 1) * ref.stride[i]!, 0);
      if (last >= src.numel) {
        this.fail(`tensor '${path}' (shape [${ref.shape}], stride [${ref.stride}], offset ${ref.storageOffset}) reaches element ${last} of storage '${src.key}', which has ${src.numel}`);
      }
    }
    let base = bases.get(src.key);
    if (!base) {
      base = this.loadStorage(src, opts);
      bases.set(src.key, base);
    }
    const t = base.asStrided(ref.shape, ref.stride, ref.storageOffset);
    created.push(t);
    return t;
  }
}

/** Opens a torch.save file without reading tensor data (see TorchFile). */
export function openTorchFile(path: string): TorchFile {
  return TorchFile.open(path);
}

/**
 * Loads a torch.save file of either format: dicts become Maps (insertion order kept), tensors
 * become Tensors (owned by the caller), storages shared in the file are shared in memory.
 */
export function loadTorchFile(path: string, opts: MaterializeOptions = {}): unknown {
  const f = TorchFile.open(path);
  return f.materialize(f.root, opts);
}

// ---------------------------------------------------------------------------------------
// Writing

export interface SaveTorchOptions {
  /** The archive's top folder (default: the file name up to its first dot). */
  archiveName?: string;
  /** Write zip64 records even for small files (for tests of the large-file layout). */
  forceZip64?: boolean;
}

interface PendingStorage {
  key: string;
  /** A 1-D view of the whole storage, offset 0. */
  whole: Tensor;
  dtype: DType;
  numel: number;
}

/**
 * Saves `value` in the zip format torch.load reads: Maps as collections.OrderedDict, plain
 * objects as dict, arrays as list (PyTuple for tuples), numbers, bigints, strings, booleans,
 * null, and Tensors. Tensors that share memory are written as views of one storage, so the
 * sharing survives the round trip. Writes member by member (never the whole archive in memory)
 * to a temporary file renamed into place at the end.
 */
export function saveTorchFile(path: string, value: unknown, opts: SaveTorchOptions = {}): void {
  const stem = basename(path).split('.')[0]!.replace(/[^A-Za-z0-9_-]/g, '_');
  const name = opts.archiveName ?? (stem || 'archive');
  const storages = new Map<string, PendingStorage>();
  let nextKey = 0;
  const pending: PendingStorage[] = [];
  try {
    const writer = new PickleWriter((v, w, p) => {
      if (!isTensor(v)) return false;
      const t = v as Tensor;
      if (t.device !== 'cpu' && !t.device.startsWith('cpu')) throw new TypeError(`tensor '${p}' is on ${t.device}; move it to the CPU first`);
      const dtype = t.dtype;
      const numel = storageNumel(t);
      // Empty storages may all report the same (null) address; give each its own key.
      const id = numel === 0 ? `empty-${nextKey}` : storageId(t);
      let s = storages.get(id);
      if (!s) {
        const whole = noGrad(() => t.asStrided([numel], [1], 0));
        s = { key: String(nextKey++), whole, dtype, numel };
        storages.set(id, s);
        pending.push(s);
      } else if (s.dtype !== dtype) {
        throw new TypeError(`tensor '${p}' views a storage that another tensor uses as ${s.dtype}; torch.save cannot store one storage with two dtypes`);
      }
      w.global('torch._utils', '_rebuild_tensor_v2');
      w.mark();
      w.mark();
      w.string('storage');
      w.global('torch', STORAGE_CLASS[dtype]);
      w.string(s.key);
      w.string('cpu');
      w.int(s.numel);
      w.byte(0x74); // TUPLE
      w.binpersid();
      w.int(t.storageOffset);
      w.value(tuple(...t.shape), p);
      w.value(tuple(...t.strides), p);
      w.value(t.requiresGrad, p);
      w.value(new Map(), p); // backward_hooks: an empty OrderedDict
      w.byte(0x74); // TUPLE
      w.reduce();
      return true;
    });
    const pkl = writer.dump(value).finish();
    writeAtomically(path, (fd) => {
      const zip = new ZipWriter(fd, 64, opts.forceZip64 ?? false);
      zip.addBytes(`${name}/data.pkl`, pkl);
      for (const s of pending) {
        const bytes = s.numel * ITEM_SIZE[s.dtype];
        zip.begin(`${name}/data/${s.key}`, bytes, tensorCrc32(s.whole));
        const n = writeTensorToFd(s.whole, fd);
        if (n !== bytes) throw new Error(`wrote ${n} bytes of storage ${s.key}, expected ${bytes}`);
        zip.advance(n);
      }
      zip.addBytes(`${name}/byteorder`, new TextEncoder().encode('little'));
      zip.addBytes(`${name}/version`, new TextEncoder().encode('3\n'));
      zip.finish();
    });
  } finally {
    for (const s of pending) s.whole.dispose();
  }
}
