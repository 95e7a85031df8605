// Which kind of checkpoint a file is, decided from its first bytes (never from its extension).

import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { FileFormatError } from '../errors.js';

export type CheckpointFormat = 'torch-zip' | 'torch-legacy' | 'safetensors';

export const FORMAT_NAMES: Record<CheckpointFormat, string> = {
  'torch-zip': 'PyTorch zip archive (torch.save, torch >= 1.6)',
  'torch-legacy': 'PyTorch legacy file (torch.save before 1.6, or _use_new_zipfile_serialization=False)',
  safetensors: 'safetensors',
};

function hex(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join(' ');
}

/** Detects the format of `path` from its content; throws a FileFormatError naming what it found. */
export function detectFormat(path: string): CheckpointFormat {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw new FileFormatError(path, err.code === 'ENOENT' ? 'no such file' : `cannot open: ${err.message}`);
  }
  try {
    const size = fstatSync(fd).size;
    const head = Buffer.alloc(Math.min(size, 512));
    readSync(fd, head, 0, head.length, 0);
    if (size === 0) throw new FileFormatError(path, 'the file is empty');
    if (size >= 4 && head.readUInt32LE(0) === 0x04034b50) return 'torch-zip';
    // A pickle starts with PROTO (0x80) and its protocol number; torch.save's legacy format
    // starts with a pickled magic number (checked by the legacy reader).
    if (head[0] === 0x80 && size >= 2 && head[1]! >= 2 && head[1]! <= 5) return 'torch-legacy';
    if (size >= 9) {
      const n = head.readBigUInt64LE(0);
      // The safetensors reader reports a header longer than the file as truncation.
      if (n >= 2n && n <= 100n * 1024n * 1024n && head[8] === 0x7b /* '{' */) return 'safetensors';
    }
    if (size >= 262 && head.toString('latin1', 257, 262) === 'ustar') {
      throw new FileFormatError(path, 'this is a tar archive: the tar checkpoint format of PyTorch < 0.4 is not supported');
    }
    if (size < 9 && (head[0] === 0x80 || head[0] === 0x50)) {
      throw new FileFormatError(path, `the file has only ${size} bytes (truncated?)`);
    }
    throw new FileFormatError(
      path,
      `not a PyTorch checkpoint or safetensors file: it starts with bytes ${hex(head.subarray(0, 8))} ` +
        '(expected a zip archive "PK\\x03\\x04", a pickle starting 80 02, or a safetensors header)',
    );
  } finally {
    closeSync(fd);
  }
}
