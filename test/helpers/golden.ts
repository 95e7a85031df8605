// Reading golden fixture tensors (../shared/golden/<name>/*.safetensors) as libtorch tensors.
import { readSafetensorsHeader, readSafetensorsEntry } from '../../src/io/safetensors.js';
import * as torch from '../../src/tensor/index.js';
import type { Tensor } from '../../src/tensor/index.js';

/** Every tensor of a safetensors file, kept (not owned by any scope), in file order. */
export function loadTensors(path: string, filter?: (name: string) => boolean): Map<string, Tensor> {
  const out = new Map<string, Tensor>();
  for (const e of readSafetensorsHeader(path).entries) {
    if (filter && !filter(e.name)) continue;
    out.set(e.name, torch.fromTypedArray(readSafetensorsEntry(path, e), e.shape, e.dtype).keep());
  }
  return out;
}

/** The named tensor, or a clear failure naming the file. */
export function need(map: Map<string, Tensor>, name: string): Tensor {
  const t = map.get(name);
  if (!t) throw new Error(`golden tensor '${name}' not found (have ${map.size} tensors)`);
  return t;
}

/** The entries under `prefix` with the prefix removed (e.g. 'voc.' → VOC's own keys). */
export function withoutPrefix(map: Map<string, Tensor>, prefix: string): Map<string, Tensor> {
  const out = new Map<string, Tensor>();
  for (const [k, v] of map) if (k.startsWith(prefix)) out.set(k.slice(prefix.length), v);
  return out;
}
