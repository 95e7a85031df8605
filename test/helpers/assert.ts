// Numeric assertions shared by tests.
import assert from 'node:assert/strict';
import type { Tensor } from '../../src/tensor/index.js';

/** Flattens nested number arrays. */
export function flat(v: unknown): number[] {
  return Array.isArray(v) ? v.flatMap(flat) : [Number(v)];
}

/** Asserts |a - b| <= atol + rtol·|b| elementwise (shapes must match when both are tensors). */
export function assertClose(actual: Tensor | number[] | number, expected: Tensor | unknown, atol = 1e-6, rtol = 0, what = ''): void {
  const isT = (x: unknown): x is Tensor => typeof x === 'object' && x !== null && 'toNumbers' in x;
  if (isT(actual) && isT(expected)) assert.deepEqual(actual.shape, expected.shape, `${what} shape`);
  const a = isT(actual) ? actual.toNumbers() : flat(actual);
  const b = isT(expected) ? expected.toNumbers() : flat(expected);
  assert.equal(a.length, b.length, `${what} length ${a.length} vs ${b.length}`);
  let worst = 0;
  let at = -1;
  for (let i = 0; i < a.length; i++) {
    const err = Math.abs(a[i]! - b[i]!);
    const tol = atol + rtol * Math.abs(b[i]!);
    if (!(err <= tol) && (err - tol > worst || at < 0)) {
      worst = err - tol;
      at = i;
    }
  }
  if (at >= 0) assert.fail(`${what} mismatch at flat index ${at}: ${a[at]} vs ${b[at]} (atol ${atol}, rtol ${rtol})`);
}

/** Largest absolute difference between two tensors of equal shape. */
export function maxAbsDiff(a: Tensor, b: Tensor): number {
  assert.deepEqual(a.shape, b.shape);
  const x = a.toNumbers();
  const y = b.toNumbers();
  let m = 0;
  for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs(x[i]! - y[i]!));
  return m;
}
