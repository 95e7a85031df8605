// Process-wide libtorch settings.
import { native } from '../native/binding.js';

/** Intra-op threads libtorch uses (torch.set_num_threads). */
export function setNumThreads(n: number): void {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`setNumThreads: expected a positive integer, got ${n}`);
  native().setNumThreads(n);
}

export function getNumThreads(): number {
  return native().getNumThreads();
}

/** Version of the libtorch the addon was built against, e.g. '1.13.0'. */
export function libtorchVersion(): string {
  return native().version();
}
