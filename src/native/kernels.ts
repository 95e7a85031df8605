// CPU kernel selection for bit-level parity with the golden fixtures.
//
// oneDNN (convolutions) and OpenBLAS (matmuls) pick SIMD kernels for the CPU they run on, and
// AVX-512 kernels sum in a different order than AVX2 ones. The fixtures in ../shared/golden were
// computed on an AVX2 machine: pinning the same kernels here reproduces them bit for bit (measured:
// patch embedding 8.9e-7 → 0, mask logits 1.5e-4 → 6e-8), while the default kernels differ by
// float32 rounding only. Inference keeps the faster defaults; `soc check-golden` and the test
// suite pin. Environment variables must be set before libtorch loads (OpenBLAS reads its core
// type when it is loaded) — i.e. before the first tensor operation.

import { readFileSync } from 'node:fs';
import { isNativeLoaded } from './binding.js';

function cpuHasAvx2(): boolean {
  try {
    return /\bavx2\b/.test(readFileSync('/proc/cpuinfo', 'utf8'));
  } catch {
    return false;
  }
}

/**
 * Selects the AVX2 kernels of oneDNN and OpenBLAS (no-op on other architectures, on CPUs without
 * AVX2, and for variables the user already set). Returns whether pinning is in effect.
 */
export function pinAvx2Kernels(): boolean {
  if (process.arch !== 'x64' || !cpuHasAvx2()) return false;
  if (isNativeLoaded()) {
    throw new Error('pinAvx2Kernels() must run before the first tensor operation (libtorch is already loaded)');
  }
  process.env.ONEDNN_MAX_CPU_ISA ??= 'AVX2';
  process.env.DNNL_MAX_CPU_ISA ??= 'AVX2';
  process.env.OPENBLAS_CORETYPE ??= 'Haswell';
  return true;
}
