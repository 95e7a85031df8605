// Reading one numeric variable of a MATLAB .mat file: Level 5 (v5/v7, optionally zlib-compressed)
// parsed here, v7.3 (HDF5) through h5wasm. Either way the result is MATLAB's view: `dims` in
// MATLAB order and the values flattened column-major (first index fastest), as
// scipy.io.loadmat(...)[name] holds them.
//
// Why not mat-for-js: version 1.1.0 computes the linear index of arrays with three or more
// dimensions as i0 + d0·i1 + d1·i2 (instead of d0·d1·i2), so JHMDB's part_mask [H, W, frames]
// comes back scrambled; it is also GPL-3.0, unlike this project.

import { unzlibSync } from 'fflate';
import { FileFormatError } from '../errors.js';
import { readBytes } from './files.js';
import { hasHdf5Signature, readHdf5Dataset, withHdf5 } from './hdf5.js';

export interface MatArray {
  /** MATLAB dimensions, e.g. [H, W, frames]; MATLAB drops trailing singleton dimensions past the second. */
  dims: number[];
  /** Values in column-major order: element (i0, i1, …) is at i0 + d0·(i1 + d1·(…)). */
  data: Float64Array;
}

export type MatVersion = 'v5' | 'v7.3';

/** Which kind of .mat file this is, from its 128-byte header. */
export function matVersion(file: string, bytes: Uint8Array): MatVersion {
  // a bare HDF5 file (no MATLAB user block), as h5py would write it
  if (bytes[0] === 0x89 && hasHdf5Signature(file)) return 'v7.3';
  if (bytes.length < 128) throw new FileFormatError(file, `too short (${bytes.length} bytes) for a MAT-file header`);
  const text = Buffer.from(bytes.subarray(0, 6)).toString('latin1');
  const endian = Buffer.from(bytes.subarray(126, 128)).toString('latin1');
  if (text !== 'MATLAB' || (endian !== 'IM' && endian !== 'MI')) {
    throw new FileFormatError(file, 'not a MATLAB MAT-file (no "MATLAB" header text / endian mark)');
  }
  const version = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint16(124, endian === 'IM');
  if (version === 0x0100) return 'v5';
  if (version === 0x0200) return 'v7.3';
  throw new FileFormatError(file, `unknown MAT-file version 0x${version.toString(16)}`);
}

/** Reads numeric variable `name`; `what` says what the file should be (named in errors). */
export async function readMatVariable(file: string, name: string, what: string): Promise<MatArray> {
  const bytes = readBytes(file, what);
  if (matVersion(file, bytes) === 'v7.3') {
    return withHdf5(file, what, (f) => {
      const ds = readHdf5Dataset(f, file, name, what);
      // HDF5 stores MATLAB arrays with their dimensions reversed; the flat order is then column-major.
      return { dims: [...ds.shape].reverse(), data: Float64Array.from(ds.value) };
    });
  }
  try {
    return readMat5Variable(bytes, name, file, what);
  } catch (e) {
    if (e instanceof FileFormatError) throw e;
    throw new FileFormatError(file, `cannot parse as a MAT-file (expected ${what}): ${(e as Error).message}`);
  }
}

// Level 5 data types (miXXX) and the numeric array classes (mxXXX) of the MAT-file format.
const MI_INT8 = 1;
const MI_INT32 = 5;
const MI_UINT32 = 6;
const MI_MATRIX = 14;
const MI_COMPRESSED = 15;
const NUMERIC_CLASSES = new Set([6, 7, 8, 9, 10, 11, 12, 13, 14, 15]);
const SPARSE_CLASS = 5;

interface Element {
  type: number;
  data: Uint8Array;
  /** Offset just past the element (including padding). */
  end: number;
}

/** Reads the data element at `offset`: the 8-byte tag (or the 4-byte small form) and its bytes. */
function readElement(view: DataView, bytes: Uint8Array, offset: number, le: boolean): Element {
  const first = view.getUint32(offset, le);
  if (first >>> 16 !== 0) {
    // small data element: type and size share the first 4 bytes, data fills the next 4
    const type = first & 0xffff;
    const size = first >>> 16;
    if (size > 4) throw new Error(`small data element at byte ${offset} claims ${size} bytes`);
    return { type, data: bytes.subarray(offset + 4, offset + 4 + size), end: offset + 8 };
  }
  const type = first;
  const size = view.getUint32(offset + 4, le);
  const start = offset + 8;
  if (start + size > bytes.length) throw new Error(`data element at byte ${offset} runs past the end of the file`);
  // compressed elements are not padded to 8 bytes
  const end = type === MI_COMPRESSED ? start + size : start + Math.ceil(size / 8) * 8;
  return { type, data: bytes.subarray(start, start + size), end };
}

/** Decodes the values of a numeric data element into doubles. */
function numbers(el: Element, le: boolean): Float64Array {
  const v = new DataView(el.data.buffer, el.data.byteOffset, el.data.byteLength);
  const read: Record<number, [number, (o: number) => number]> = {
    1: [1, (o) => v.getInt8(o)],
    2: [1, (o) => v.getUint8(o)],
    3: [2, (o) => v.getInt16(o, le)],
    4: [2, (o) => v.getUint16(o, le)],
    5: [4, (o) => v.getInt32(o, le)],
    6: [4, (o) => v.getUint32(o, le)],
    7: [4, (o) => v.getFloat32(o, le)],
    9: [8, (o) => v.getFloat64(o, le)],
    12: [8, (o) => Number(v.getBigInt64(o, le))],
    13: [8, (o) => Number(v.getBigUint64(o, le))],
  };
  const r = read[el.type];
  if (!r) throw new Error(`data type ${el.type} is not numeric`);
  const [size, get] = r;
  const out = new Float64Array(Math.floor(el.data.length / size));
  for (let i = 0; i < out.length; i++) out[i] = get(i * size);
  return out;
}

/** Parses one miMATRIX element; returns its name and, for real numeric arrays, dims and values. */
function parseMatrix(bytes: Uint8Array, le: boolean): { name: string; array: MatArray | string } {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const flags = readElement(view, bytes, 0, le);
  if (flags.type !== MI_UINT32 || flags.data.length < 8) throw new Error('array flags sub-element missing');
  const word = new DataView(flags.data.buffer, flags.data.byteOffset, 8).getUint32(0, le);
  const mxClass = word & 0xff;
  const complex = (word & 0x800) !== 0;
  const dimsEl = readElement(view, bytes, flags.end, le);
  if (dimsEl.type !== MI_INT32) throw new Error('dimensions sub-element missing');
  const dims = Array.from(numbers(dimsEl, le));
  const nameEl = readElement(view, bytes, dimsEl.end, le);
  if (nameEl.type !== MI_INT8) throw new Error('array name sub-element missing');
  const name = Buffer.from(nameEl.data).toString('latin1');
  if (!NUMERIC_CLASSES.has(mxClass)) return { name, array: mxClass === SPARSE_CLASS ? 'a sparse array' : `an array of class ${mxClass}` };
  if (complex) return { name, array: 'a complex array' };
  const real = readElement(view, bytes, nameEl.end, le);
  const data = numbers(real, le);
  const total = dims.reduce((a, b) => a * b, 1);
  if (data.length !== total) throw new Error(`variable "${name}" has ${data.length} values for dimensions [${dims.join(', ')}]`);
  return { name, array: { dims, data } };
}

function readMat5Variable(bytes: Uint8Array, name: string, file: string, what: string): MatArray {
  const le = Buffer.from(bytes.subarray(126, 128)).toString('latin1') === 'IM';
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const found: string[] = [];
  for (let offset = 128; offset + 8 <= bytes.length; ) {
    const el = readElement(view, bytes, offset, le);
    offset = el.end;
    let matrix: Uint8Array;
    if (el.type === MI_COMPRESSED) {
      const plain = unzlibSync(el.data);
      const inner = readElement(new DataView(plain.buffer, plain.byteOffset, plain.byteLength), plain, 0, le);
      if (inner.type !== MI_MATRIX) continue;
      matrix = inner.data;
    } else if (el.type === MI_MATRIX) {
      matrix = el.data;
    } else {
      continue;
    }
    const parsed = parseMatrix(matrix, le);
    found.push(parsed.name);
    if (parsed.name !== name) continue;
    if (typeof parsed.array === 'string') throw new FileFormatError(file, `variable "${name}" is ${parsed.array}, expected a real numeric array (${what})`);
    return parsed.array;
  }
  throw new FileFormatError(file, `missing variable "${name}" (${what}); found ${JSON.stringify(found)}`);
}
