// Reading HDF5 datasets through h5wasm (A2D frame annotations, MATLAB v7.3 files).
// h5wasm does not throw on a missing file and prints HDF5's diagnostics to stderr on a bad one,
// so files are checked here first and its throwing error handler is on only while opening.

import { closeSync, openSync, readSync } from 'node:fs';
import h5wasm, { Dataset, type File as H5File } from 'h5wasm/node';
import { FileFormatError } from '../errors.js';
import { requireFile } from './files.js';

const HDF5_SIGNATURE = [0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a];

/** True when the HDF5 signature is at offset 0, 512, 1024, … (a user block, as MATLAB v7.3 writes, comes first). */
export function hasHdf5Signature(file: string): boolean {
  const fd = openSync(file, 'r');
  try {
    const buf = Buffer.alloc(8);
    for (let offset = 0; offset <= 1 << 20; offset = offset === 0 ? 512 : offset * 2) {
      if (readSync(fd, buf, 0, 8, offset) < 8) return false;
      if (HDF5_SIGNATURE.every((b, i) => buf[i] === b)) return true;
    }
    return false;
  } finally {
    closeSync(fd);
  }
}

/** A dataset read whole: C-order `shape` (as h5py reports it) and values. */
export interface Hdf5Array {
  shape: number[];
  value: ArrayLike<number>;
}

/** Runs `use` on an open HDF5 file; the file is closed afterwards. `what` says what the file should be. */
export async function withHdf5<T>(file: string, what: string, use: (f: H5File) => T): Promise<T> {
  requireFile(file, what);
  if (!hasHdf5Signature(file)) throw new FileFormatError(file, `not an HDF5 file (expected ${what})`);
  const module = await h5wasm.ready;
  let f: H5File;
  module.activate_throwing_error_handler();
  try {
    f = new h5wasm.File(file, 'r');
  } catch (e) {
    throw new FileFormatError(file, `cannot open as HDF5 (expected ${what}): ${firstLine(e)}`);
  } finally {
    module.deactivate_throwing_error_handler();
  }
  try {
    return use(f);
  } finally {
    f.close();
  }
}

function firstLine(e: unknown): string {
  const text = String((e as Error)?.message ?? e);
  const minor = text.split('\n').find((l) => l.includes('minor:'));
  return (minor ?? text.split('\n')[0] ?? '').trim();
}

/** Reads dataset `name` of an open file; the error names the file and the dataset. */
export function readHdf5Dataset(f: H5File, file: string, name: string, what: string): Hdf5Array {
  const node = f.get(name);
  if (!(node instanceof Dataset)) {
    throw new FileFormatError(file, `missing dataset "${name}" (${what}); found ${JSON.stringify(f.keys())}`);
  }
  const value = node.value;
  if (value === null || typeof value !== 'object' || !('length' in value) || typeof (value as ArrayLike<unknown>)[0] === 'string') {
    throw new FileFormatError(file, `dataset "${name}" is not numeric (${what})`);
  }
  return { shape: node.shape ?? [], value: toNumbers(value as ArrayLike<number | bigint>) };
}

function toNumbers(v: ArrayLike<number | bigint>): ArrayLike<number> {
  if (v instanceof BigInt64Array || v instanceof BigUint64Array) return Array.from(v, (x) => Number(x));
  if (Array.isArray(v) && v.some((x) => typeof x === 'bigint' || typeof x === 'boolean')) return v.map((x) => Number(x));
  return v as ArrayLike<number>;
}
