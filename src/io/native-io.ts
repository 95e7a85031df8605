// The few addon calls checkpoint I/O needs that the Tensor API does not expose: reading a tensor
// straight from a file region, streaming a tensor to a file descriptor, a tensor's CRC-32, and the
// identity and size of the storage behind a tensor. Kept in one place so the rest of src/io only
// sees Tensors.

import { native } from '../native/binding.js';
import { type DType, ITEM_SIZE, dtypeCode } from '../tensor/dtype.js';
import { type Tensor, wrap } from '../tensor/tensor.js';

/** A new contiguous tensor of `shape` read from `path` at byte `offset` (no copy through JS). */
export function readTensorFromFile(path: string, offset: number, dtype: DType, shape: readonly number[]): Tensor {
  return wrap(native().readFile(path, offset, dtypeCode(dtype), shape));
}

/** Appends the tensor's bytes (row-major, little-endian) to an open file; returns bytes written. */
export function writeTensorToFd(t: Tensor, fd: number): number {
  return native().writeFd(t.h, fd);
}

/** CRC-32 (zip polynomial) of the tensor's bytes in row-major order. */
export function tensorCrc32(t: Tensor, seed = 0): number {
  return native().crc32(t.h, seed) >>> 0;
}

/** An identity for the storage behind a tensor: equal for tensors that share memory. */
export function storageId(t: Tensor): string {
  return String(native().storageAddress(t.h));
}

/** Number of elements of `t`'s dtype the whole storage behind `t` holds. */
export function storageNumel(t: Tensor): number {
  return Math.floor(native().storageBytes(t.h) / ITEM_SIZE[t.dtype]);
}
