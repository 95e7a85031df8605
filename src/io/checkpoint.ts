// The checkpoint API the rest of soc-ts uses: load a model state dict from any supported file
// (PyTorch zip or legacy, trainer checkpoint or raw state dict, or safetensors), load whole
// PyTorch files, save both formats, and flatten nested trainer dicts for display.
//
// Formats are detected from content (detect.ts), never from the file extension.

import { FileFormatError } from '../errors.js';
import { isTensor, type Tensor } from '../tensor/tensor.js';
import { detectFormat } from './detect.js';
import { loadSafetensors } from './safetensors.js';
import { openTorchFile, TensorRef } from './torch-file.js';

export { detectFormat, FORMAT_NAMES, type CheckpointFormat } from './detect.js';
export { loadTorchFile, openTorchFile, saveTorchFile, TensorRef, TorchFile, type MaterializeOptions, type SaveTorchOptions } from './torch-file.js';
export { loadSafetensors, writeSafetensors, readSafetensorsHeader, type SafetensorsEntry, type SafetensorsHeader } from './safetensors.js';
export { ForbiddenGlobalError, PyFloat, PyTuple, tuple, pyAttributes } from './pickle.js';

/** A model's parameters and buffers by PyTorch name, in state_dict order. */
export type StateDict = Map<string, Tensor>;

/** Keys under which trainer checkpoints keep the model's state dict, in the order tried. */
export const STATE_DICT_KEYS = ['model_state_dict', 'state_dict', 'model'] as const;

/** A Tensor, or a tensor of an opened PyTorch file not read yet. */
export function isTensorLike(v: unknown): v is Tensor | TensorRef {
  return v instanceof TensorRef || isTensor(v);
}

function isStateDictLike(v: unknown): v is Map<string, unknown> {
  if (!(v instanceof Map) || v.size === 0) return false;
  for (const [k, x] of v) if (typeof k !== 'string' || !isTensorLike(x)) return false;
  return true;
}

function describeKeys(m: Map<unknown, unknown>): string {
  const keys = [...m.keys()].map((k) => String(k));
  return keys.length <= 12 ? keys.join(', ') : `${keys.slice(0, 12).join(', ')}, … (${keys.length} keys)`;
}

/**
 * Finds the model state dict in a loaded or opened checkpoint object: `key` when given (dots
 * descend into nested dicts), else the first of STATE_DICT_KEYS that holds a dict of tensors,
 * else the object itself when it is a dict of tensors. `key` in the result is null for the
 * object itself. `file` is for error messages.
 */
export function findStateDict(value: unknown, file: string, key?: string): { key: string | null; dict: Map<string, Tensor | TensorRef> } {
  if (key !== undefined) {
    let cur: unknown = value;
    if (cur instanceof Map && cur.has(key)) cur = cur.get(key);
    else {
      for (const part of key.split('.')) {
        if (!(cur instanceof Map) || !cur.has(part)) {
          const where = cur instanceof Map ? `available keys: ${describeKeys(cur)}` : 'the object there is not a dict';
          throw new FileFormatError(file, `no entry '${key}' in the checkpoint (${where})`);
        }
        cur = cur.get(part);
      }
    }
    if (!(cur instanceof Map)) throw new FileFormatError(file, `'${key}' is not a dict of tensors`);
    for (const [k, x] of cur) {
      if (typeof k !== 'string' || !isTensorLike(x)) {
        throw new FileFormatError(file, `'${key}' is not a state dict: its entry '${String(k)}' is not a tensor`);
      }
    }
    return { key, dict: cur as Map<string, Tensor | TensorRef> };
  }
  if (value instanceof Map) {
    for (const k of STATE_DICT_KEYS) if (isStateDictLike(value.get(k))) return { key: k, dict: value.get(k) as Map<string, Tensor | TensorRef> };
    if (isStateDictLike(value)) return { key: null, dict: value as Map<string, Tensor | TensorRef> };
    throw new FileFormatError(
      file,
      `no model state dict found: expected a dict of tensors, or one under ${STATE_DICT_KEYS.map((k) => `'${k}'`).join(', ')}; ` +
        `top-level keys are: ${describeKeys(value)} (choose one with --key)`,
    );
  }
  throw new FileFormatError(file, 'no model state dict found: the file does not hold a dict');
}

export interface LoadStateDictOptions {
  /** Entry of a trainer checkpoint to read (dots descend); default: see findStateDict. */
  key?: string;
  /** Verify zip members' CRC-32 while reading. */
  checkCrc?: boolean;
}

/**
 * The model state dict stored in `path`: a .safetensors file, a raw state dict saved with
 * torch.save, or a trainer checkpoint (only that dict's tensors are read). Tensors aliased in
 * the file share memory. The tensors belong to the caller.
 */
export function loadStateDict(path: string, opts: LoadStateDictOptions = {}): StateDict {
  const fmt = detectFormat(path);
  if (fmt === 'safetensors') {
    if (opts.key !== undefined) throw new FileFormatError(path, 'a safetensors file is a flat list of tensors; --key applies to PyTorch files only');
    return loadSafetensors(path);
  }
  const f = openTorchFile(path);
  const { dict } = findStateDict(f.root, path, opts.key);
  return f.materialize(dict, { checkCrc: opts.checkCrc }) as StateDict;
}

/** One leaf of a flattened checkpoint. */
export interface FlatEntry {
  /** Dotted path (dict keys, list indices). */
  name: string;
  value: unknown;
}

function isContainer(v: unknown): boolean {
  return v instanceof Map || (typeof v === 'object' && v !== null && Object.getPrototypeOf(v) === Object.prototype);
}

/**
 * Flattens nested dicts (Maps, plain objects) into dotted names, in order: a trainer checkpoint
 * gives `epoch`, `model_state_dict.backbone…`, `optimizer_state_dict.param_groups.0.lr` …
 * Lists are descended into only when they hold dicts or tensors; empty dicts, lists of plain
 * values and dicts of plain values with non-string keys (a Counter) stay leaves.
 */
export function flattenCheckpoint(value: unknown, prefix = ''): FlatEntry[] {
  const out: FlatEntry[] = [];
  const seen = new Set<unknown>();
  const walk = (v: unknown, name: string): void => {
    const descend = (entries: Iterable<[unknown, unknown]>) => {
      if (seen.has(v)) {
        out.push({ name, value: v });
        return;
      }
      seen.add(v);
      for (const [k, x] of entries) walk(x, name ? `${name}.${String(k)}` : String(k));
      seen.delete(v);
    };
    // Dicts keyed by strings (trainer dicts) or holding dicts/tensors (optimizer state) are
    // descended into; small value maps such as a Counter of milestones stay leaves.
    if (v instanceof Map && v.size > 0 && [...v].some(([k, x]) => typeof k === 'string' || isContainer(x) || isTensorLike(x))) descend(v.entries());
    else if (isContainer(v) && !(v instanceof Map) && Object.keys(v as object).length > 0) descend(Object.entries(v as object));
    else if (Array.isArray(v) && v.some((x) => isContainer(x) || isTensorLike(x))) descend(v.map((x, i) => [i, x]));
    else out.push({ name, value: v });
  };
  walk(value, prefix);
  return out;
}
