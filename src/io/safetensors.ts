// The safetensors format: u64 little-endian header length N, N bytes of JSON header
// ({name: {dtype, shape, data_offsets: [begin, end]}, __metadata__?: {str: str}}), then the raw
// little-endian data. Written by hand because it is a 20-line format and no npm package reads
// tensors lazily from a file descriptor, which large checkpoints need.
//
// The raw readers below work on typed arrays; loadSafetensors reads entries straight from the
// file into libtorch tensors (no JS copy), and writeSafetensors streams tensors to disk.

import { closeSync, fstatSync, openSync, readSync, writeSync } from 'node:fs';
import { type DType, ITEM_SIZE, type AnyTypedArray, typedArrayView } from '../tensor/dtype.js';
import type { Tensor } from '../tensor/tensor.js';
import { FileFormatError } from '../errors.js';
import { readTensorFromFile, writeTensorToFd } from './native-io.js';
import { writeAtomically } from './atomic.js';

/** safetensors dtype names and ours. */
export const SAFETENSORS_DTYPES: Record<string, DType> = {
  F32: 'float32',
  F64: 'float64',
  F16: 'float16',
  BF16: 'bfloat16',
  I64: 'int64',
  I32: 'int32',
  I16: 'int16',
  I8: 'int8',
  U8: 'uint8',
  BOOL: 'bool',
};

export const SAFETENSORS_NAME: Record<DType, string> = Object.fromEntries(
  Object.entries(SAFETENSORS_DTYPES).map(([k, v]) => [v, k]),
) as Record<DType, string>;

export interface SafetensorsEntry {
  name: string;
  dtype: DType;
  shape: number[];
  /** Absolute byte offset of the data in the file. */
  offset: number;
  byteLength: number;
}

export interface SafetensorsHeader {
  entries: SafetensorsEntry[];
  metadata: Record<string, string>;
  /** Absolute offset where the data section starts. */
  dataStart: number;
}

const MAX_HEADER = 100 * 1024 * 1024;

/** Reads and validates the header of a .safetensors file (entries in file order). */
export function readSafetensorsHeader(path: string): SafetensorsHeader {
  const fd = openSync(path, 'r');
  try {
    const size = fstatSync(fd).size;
    if (size < 8) throw new FileFormatError(path, `not a safetensors file: ${size} bytes, the 8-byte header length is missing`);
    const lenBuf = Buffer.alloc(8);
    readSync(fd, lenBuf, 0, 8, 0);
    const n = Number(lenBuf.readBigUInt64LE(0));
    if (n <= 1 || n > MAX_HEADER || 8 + n > size) {
      throw new FileFormatError(path, `not a valid safetensors file: the header length ${n} does not fit a ${size}-byte file (truncated file?)`);
    }
    const headerBuf = Buffer.alloc(n);
    readSync(fd, headerBuf, 0, n, 8);
    let json: Record<string, unknown>;
    try {
      json = JSON.parse(headerBuf.toString('utf8')) as Record<string, unknown>;
    } catch (e) {
      throw new FileFormatError(path, `safetensors header is not valid JSON (${(e as Error).message})`);
    }
    const dataStart = 8 + n;
    const entries: SafetensorsEntry[] = [];
    let metadata: Record<string, string> = {};
    for (const [name, value] of Object.entries(json)) {
      if (name === '__metadata__') {
        metadata = (value ?? {}) as Record<string, string>;
        continue;
      }
      const v = value as { dtype?: string; shape?: number[]; data_offsets?: [number, number] };
      const dtype = v.dtype ? SAFETENSORS_DTYPES[v.dtype] : undefined;
      if (!dtype) {
        throw new FileFormatError(path, `tensor '${name}' has unsupported dtype '${v.dtype}' (supported: ${Object.keys(SAFETENSORS_DTYPES).join(', ')})`);
      }
      if (!Array.isArray(v.shape) || !Array.isArray(v.data_offsets) || v.data_offsets.length !== 2) {
        throw new FileFormatError(path, `tensor '${name}' lacks a shape or data_offsets`);
      }
      const [begin, end] = v.data_offsets;
      const numel = v.shape.reduce((a, b) => a * b, 1);
      if (end - begin !== numel * ITEM_SIZE[dtype]) {
        throw new FileFormatError(path, `tensor '${name}': data_offsets span ${end - begin} bytes but ${dtype}[${v.shape}] needs ${numel * ITEM_SIZE[dtype]}`);
      }
      if (dataStart + end > size) {
        throw new FileFormatError(path, `tensor '${name}' ends at byte ${dataStart + end} but the file has ${size} bytes (truncated file?)`);
      }
      entries.push({ name, dtype, shape: v.shape, offset: dataStart + begin, byteLength: end - begin });
    }
    // JSON objects keep insertion order except for integer-like keys; file order is by offset.
    entries.sort((a, b) => a.offset - b.offset);
    return { entries, metadata, dataStart };
  } finally {
    closeSync(fd);
  }
}

/** The raw values of one entry as a typed array (a fresh copy). */
export function readSafetensorsEntry(path: string, entry: SafetensorsEntry): AnyTypedArray {
  const fd = openSync(path, 'r');
  try {
    const buf = new ArrayBuffer(entry.byteLength);
    let done = 0;
    while (done < entry.byteLength) {
      const r = readSync(fd, new Uint8Array(buf, done), 0, entry.byteLength - done, entry.offset + done);
      if (r <= 0) throw new FileFormatError(path, `unexpected end of file reading '${entry.name}'`);
      done += r;
    }
    return typedArrayView(entry.dtype, buf);
  } finally {
    closeSync(fd);
  }
}

/** Every entry's raw values, keyed by name (for small files: masks, metric fixtures). */
export function readSafetensorsArrays(path: string): Map<string, { dtype: DType; shape: number[]; data: AnyTypedArray }> {
  const header = readSafetensorsHeader(path);
  const out = new Map<string, { dtype: DType; shape: number[]; data: AnyTypedArray }>();
  for (const e of header.entries) out.set(e.name, { dtype: e.dtype, shape: e.shape, data: readSafetensorsEntry(path, e) });
  return out;
}

// ---------------------------------------------------------------------------------------
// Tensors

/** Reads one entry into a new tensor, straight from the file. */
export function readSafetensorsTensor(path: string, entry: SafetensorsEntry): Tensor {
  return readTensorFromFile(path, entry.offset, entry.dtype, entry.shape);
}

/**
 * Loads a .safetensors file as name → Tensor in file order (each read straight from the file;
 * the tensors belong to the caller). `names` restricts which entries are read.
 */
export function loadSafetensors(path: string, options: { names?: Iterable<string> } = {}): Map<string, Tensor> {
  const header = readSafetensorsHeader(path);
  const wanted = options.names ? new Set(options.names) : null;
  if (wanted) {
    const have = new Set(header.entries.map((e) => e.name));
    for (const n of wanted) if (!have.has(n)) throw new FileFormatError(path, `no tensor named '${n}'`);
  }
  const out = new Map<string, Tensor>();
  try {
    for (const e of header.entries) if (!wanted || wanted.has(e.name)) out.set(e.name, readSafetensorsTensor(path, e));
  } catch (err) {
    for (const t of out.values()) t.dispose();
    throw err;
  }
  return out;
}

/**
 * Writes tensors to a .safetensors file in the given order, streaming one tensor at a time
 * (never the whole file in memory) through a temporary file renamed into place at the end.
 * Tensors that share memory are written as separate copies (the format has no aliasing);
 * non-contiguous tensors are written in row-major order.
 */
export function writeSafetensors(
  path: string,
  tensors: Map<string, Tensor> | Iterable<readonly [string, Tensor]>,
  metadata: Record<string, string> = {},
): void {
  const list = [...tensors];
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length) {
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== 'string') throw new TypeError(`safetensors metadata '${k}' must be a string`);
    }
    header.__metadata__ = metadata;
  }
  let offset = 0;
  const seen = new Set<string>();
  for (const [name, t] of list) {
    if (name === '__metadata__') throw new TypeError("a tensor cannot be named '__metadata__' in safetensors");
    if (seen.has(name)) throw new TypeError(`duplicate tensor name '${name}'`);
    seen.add(name);
    const bytes = t.numel * ITEM_SIZE[t.dtype];
    header[name] = { dtype: SAFETENSORS_NAME[t.dtype], shape: t.shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  let json = JSON.stringify(header);
  // Pad with spaces so the data starts on an 8-byte boundary, as the reference writer does.
  const jsonBytes = Buffer.byteLength(json, 'utf8');
  json += ' '.repeat((8 - (jsonBytes % 8)) % 8);
  const headerBuf = Buffer.from(json, 'utf8');
  writeAtomically(path, (fd) => {
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(headerBuf.length));
    writeAll(fd, len);
    writeAll(fd, headerBuf);
    for (const [name, t] of list) {
      const n = writeTensorToFd(t, fd);
      const want = t.numel * ITEM_SIZE[t.dtype];
      if (n !== want) throw new Error(`${path}: wrote ${n} bytes for '${name}', expected ${want}`);
    }
  });
}

function writeAll(fd: number, buf: Uint8Array): void {
  let done = 0;
  while (done < buf.length) done += writeSync(fd, buf, done, buf.length - done);
}
