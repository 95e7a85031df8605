// Loads the libtorch N-API addon (native/torch_addon.cc) and types its surface.
// Nothing outside src/tensor should need this module.

import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** An opaque libtorch tensor handle (an N-API external). */
export type TensorHandle = { readonly __tensorHandle: unique symbol };
/** An opaque libtorch generator handle. */
export type GeneratorHandle = { readonly __generatorHandle: unique symbol };

/** Values the dispatcher accepts for one schema argument. */
export type OpArg =
  | TensorHandle
  | GeneratorHandle
  | number
  | bigint
  | boolean
  | string
  | null
  | undefined
  | { float: number }
  | ReadonlyArray<number | boolean | TensorHandle | null>;

export interface NativeBinding {
  opHandle(name: string, overload: string): number;
  opSchema(id: number): string;
  call(id: number, args: OpArg[]): unknown;
  dispose(t: TensorHandle): void;
  isDisposed(t: TensorHandle): boolean;
  isTensorHandle(v: unknown): boolean;
  shape(t: TensorHandle): number[];
  strides(t: TensorHandle): number[];
  /** [dtype code, dim, numel, storage offset, requires_grad, is_leaf, device, is_contiguous] */
  meta(t: TensorHandle): [number, number, number, number, boolean, boolean, string, boolean];
  dtype(t: TensorHandle): number;
  storageAddress(t: TensorHandle): bigint | number;
  storageBytes(t: TensorHandle): number;
  fromBytes(bytes: ArrayBufferView | ArrayBuffer, dtype: number, shape: readonly number[]): TensorHandle;
  toBytes(t: TensorHandle): ArrayBuffer;
  copyIntoBytes(t: TensorHandle, out: ArrayBufferView): void;
  readFile(path: string, offset: number, dtype: number, shape: readonly number[]): TensorHandle;
  writeFd(t: TensorHandle, fd: number): number;
  crc32(t: TensorHandle, seed: number): number;
  setRequiresGrad(t: TensorHandle, on: boolean): void;
  grad(t: TensorHandle): TensorHandle | null;
  setGrad(t: TensorHandle, g: TensorHandle | null): void;
  gradFnName(t: TensorHandle): string | null;
  backward(ts: TensorHandle[], grads: (TensorHandle | null)[] | null, retainGraph: boolean | undefined, createGraph: boolean): void;
  autogradGrad(
    outputs: TensorHandle[],
    inputs: TensorHandle[],
    gradOutputs: (TensorHandle | null)[] | null,
    retainGraph: boolean | undefined,
    createGraph: boolean,
    allowUnused: boolean,
  ): (TensorHandle | null)[];
  setGradEnabled(on: boolean): boolean;
  isGradEnabled(): boolean;
  defaultGenerator(): GeneratorHandle;
  newGenerator(seed?: number | bigint): GeneratorHandle;
  generatorSeed(g: GeneratorHandle, seed: number | bigint): void;
  generatorGetState(g: GeneratorHandle): TensorHandle;
  generatorSetState(g: GeneratorHandle, state: TensorHandle): void;
  setNumThreads(n: number): void;
  getNumThreads(): number;
  version(): string;
}

/** Thrown when the addon has not been built or cannot load its libtorch. */
export class NativeBuildError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NativeBuildError';
  }
}

function locateAddon(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  // src/native or dist/native -> repository root
  const root = join(here, '..', '..');
  const candidates = [
    process.env.SOC_TORCH_ADDON,
    join(root, 'build', 'Release', 'soc_torch.node'),
    join(root, 'build', 'Debug', 'soc_torch.node'),
  ].filter((p): p is string => typeof p === 'string');
  const found = candidates.find((p) => existsSync(p));
  if (!found) {
    throw new NativeBuildError(
      'the soc-ts libtorch addon is not built (looked for build/Release/soc_torch.node).\n' +
        'Build it with:  npm run build:native   (needs: sudo apt-get install -y libtorch-dev, or LIBTORCH=/path)',
    );
  }
  return found;
}

let cached: NativeBinding | undefined;

/** Whether the addon (and so libtorch) has been loaded in this process. */
export function isNativeLoaded(): boolean {
  return cached !== undefined;
}

/** The loaded addon (loaded on first use). */
export function native(): NativeBinding {
  if (cached) return cached;
  const path = locateAddon();
  const require = createRequire(import.meta.url);
  try {
    cached = require(path) as NativeBinding;
  } catch (e) {
    throw new NativeBuildError(
      `cannot load ${path}: ${(e as Error).message}\n` +
        'If libtorch moved or was upgraded, rebuild with:  npm run build:native',
    );
  }
  return cached;
}
