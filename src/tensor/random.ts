// Random number generators: libtorch's CPU Philox/MT generators, so a seed gives the same
// numbers as torch.manual_seed / torch.Generator().manual_seed in PyTorch 1.13.

import { native, type GeneratorHandle } from '../native/binding.js';
import { Tensor, wrap } from './tensor.js';

/** A libtorch CPU generator (mt19937), bit-compatible with torch.Generator. */
export class Generator {
  readonly handle: GeneratorHandle;

  /** A new generator seeded with `seed` (a nondeterministic seed when omitted). */
  constructor(seed?: number | bigint);
  constructor(seed: number | bigint | undefined, handle: GeneratorHandle);
  constructor(seed?: number | bigint, handle?: GeneratorHandle) {
    this.handle = handle ?? native().newGenerator(seed);
  }

  manualSeed(seed: number | bigint): this {
    native().generatorSeed(this.handle, seed);
    return this;
  }

  /** The full generator state as a uint8 tensor (torch.Generator.get_state()). */
  getState(): Tensor {
    return wrap(native().generatorGetState(this.handle));
  }

  setState(state: Tensor): this {
    native().generatorSetState(this.handle, state.h);
    return this;
  }
}

let defaultGen: Generator | undefined;

/** The process-wide default generator (torch.default_generator). */
export function defaultGenerator(): Generator {
  defaultGen ??= new Generator(undefined, native().defaultGenerator());
  return defaultGen;
}

/** Seeds the default generator, like torch.manual_seed. */
export function manualSeed(seed: number | bigint): void {
  defaultGenerator().manualSeed(seed);
}
