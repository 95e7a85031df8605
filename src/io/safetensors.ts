// The safetensors format: u64 little-endian header length N, N bytes of JSON header
// ({name: {dtype, shape, data_offsets: [begin, end]}, __metadata__?: {str: str}}), then the raw
// little-endian data. Written by hand because it is a 20-line format and no npm package reads
// tensors lazily from a file descriptor, which large checkpoints need.
//
// This module works on raw bytes and typed arrays only; src/io/checkpoint.ts turns entries
// into libtorch tensors (read straight from the file, without a JS copy).

import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { type DType, ITEM_SIZE, type AnyTypedArray, typedArrayView } from '../tensor/dtype.js';
import { FileFormatError } from '../errors.js';

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
      throw new FileFormatError(path, `not a safetensors file (header length ${n} does not fit a ${size}-byte file)`);
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
