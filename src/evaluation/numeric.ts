// Small numeric helpers that reproduce NumPy's and Python's floating-point behaviour bit for bit,
// because the official evaluators are NumPy code and the metrics must match them exactly:
// summation order (pairwise), linspace, nanmean, Python's float formatting and sort orders.

/** Values NumPy can sum: a typed or plain array of numbers. */
export type NumberArrayLike = ArrayLike<number>;

const PAIRWISE_BLOCK = 128;

/**
 * Sum of `a[offset .. offset+n)` in NumPy's order for a contiguous float64 reduction
 * (`np.sum`, `np.add.reduce`): pairwise summation with an 8-way unrolled base case.
 * Differs from a left-to-right sum in the last bits, which exact comparisons see.
 */
export function pairwiseSum(a: NumberArrayLike, offset = 0, n = a.length - offset): number {
  if (n < 8) {
    let res = 0;
    for (let i = 0; i < n; i++) res += a[offset + i]!;
    return res;
  }
  if (n <= PAIRWISE_BLOCK) {
    let r0 = a[offset]!, r1 = a[offset + 1]!, r2 = a[offset + 2]!, r3 = a[offset + 3]!;
    let r4 = a[offset + 4]!, r5 = a[offset + 5]!, r6 = a[offset + 6]!, r7 = a[offset + 7]!;
    const end8 = n - (n % 8);
    let i = 8;
    for (; i < end8; i += 8) {
      const p = offset + i;
      r0 += a[p]!;
      r1 += a[p + 1]!;
      r2 += a[p + 2]!;
      r3 += a[p + 3]!;
      r4 += a[p + 4]!;
      r5 += a[p + 5]!;
      r6 += a[p + 6]!;
      r7 += a[p + 7]!;
    }
    let res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7));
    for (; i < n; i++) res += a[offset + i]!;
    return res;
  }
  let n2 = Math.floor(n / 2);
  n2 -= n2 % 8;
  return pairwiseSum(a, offset, n2) + pairwiseSum(a, offset + n2, n - n2);
}

/** `np.mean` of a 1-D float64 array (NaN for an empty one, as NumPy returns with a warning). */
export function npMean(a: NumberArrayLike): number {
  return pairwiseSum(a) / a.length;
}

/** `np.nanmean` of a 1-D float64 array: NaNs are summed as 0 and not counted. */
export function npNanMean(a: NumberArrayLike): number {
  let count = 0;
  let hasNan = false;
  for (let i = 0; i < a.length; i++) {
    if (Number.isNaN(a[i]!)) hasNan = true;
    else count++;
  }
  if (!hasNan) return npMean(a);
  const zeroed = Float64Array.from(a, (v) => (Number.isNaN(v) ? 0 : v));
  return pairwiseSum(zeroed) / count;
}

/** `np.linspace(start, stop, num)` (endpoint included): k·step + start, the last value forced to stop. */
export function linspace(start: number, stop: number, num: number): Float64Array {
  const out = new Float64Array(num);
  if (num === 0) return out;
  const div = num - 1;
  const delta = stop - start;
  if (div > 0) {
    const step = delta / div;
    for (let k = 0; k < num; k++) out[k] = step === 0 ? (k / div) * delta + start : k * step + start;
  } else {
    out[0] = start;
  }
  if (num > 1) out[num - 1] = stop;
  return out;
}

/** Python's round-half-to-even of a float to an integer (`np.round` with 0 decimals). */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  // Math.round rounds .5 up; on an exact tie pick the even neighbour instead.
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * Python's `'{:.Nf}'.format(x)`: fixed notation, correctly rounded with ties to even on the exact
 * binary value. `Number.prototype.toFixed` rounds exact ties up (0.0625 → "0.063" instead of
 * "0.062"), which would change summary lines whose value is a multiple of 1/16.
 */
export function formatFixed(x: number, digits: number): string {
  if (!Number.isFinite(x)) return Number.isNaN(x) ? 'nan' : x > 0 ? 'inf' : '-inf';
  const s = x.toFixed(digits);
  const exact = Math.abs(x).toFixed(Math.min(100, digits + 60));
  const dot = exact.indexOf('.');
  const tail = exact.slice(dot + 1 + digits);
  if (!/^50*$/.test(tail)) return s;
  // An exact tie: toFixed rounded away from zero; step back when that made the last digit odd.
  const lastDigit = Number(s[s.length - 1]);
  if (lastDigit % 2 === 0) return s;
  const scaled = Math.abs(x) * 10 ** digits; // exact tie ⇒ k + 0.5 with k even
  const down = (Math.floor(scaled) / 10 ** digits).toFixed(digits);
  return x < 0 ? `-${down}` : down;
}

/**
 * Compares two ids the way Python's `sorted` and `np.unique` order them: numbers numerically,
 * strings by Unicode code point (JavaScript's `<` compares UTF-16 units, which differs for
 * characters outside the BMP). Mixed kinds cannot be compared (Python raises TypeError).
 */
export function compareIds(a: number | string, b: number | string): number {
  if (typeof a === 'number' && typeof b === 'number') return a < b ? -1 : a > b ? 1 : 0;
  if (typeof a === 'string' && typeof b === 'string') return compareCodePoints(a, b);
  throw new TypeError(`cannot order ${JSON.stringify(a)} and ${JSON.stringify(b)}: ids mix numbers and strings`);
}

const SURROGATE = /[\uD800-\uDFFF]/;

function compareCodePoints(a: string, b: string): number {
  if (!SURROGATE.test(a) && !SURROGATE.test(b)) return a < b ? -1 : a > b ? 1 : 0;
  const ca = Array.from(a, (c) => c.codePointAt(0)!);
  const cb = Array.from(b, (c) => c.codePointAt(0)!);
  const n = Math.min(ca.length, cb.length);
  for (let i = 0; i < n; i++) if (ca[i] !== cb[i]) return ca[i]! - cb[i]!;
  return ca.length - cb.length;
}

/**
 * Indices that sort `scores` in descending order with ties kept in input order: the order of
 * NumPy's `np.argsort(-scores, kind='mergesort')` (a stable sort; NaN scores go last).
 */
export function argsortDescendingStable(scores: NumberArrayLike): Int32Array {
  const idx = Array.from({ length: scores.length }, (_, i) => i);
  idx.sort((i, j) => {
    const a = scores[i]!;
    const b = scores[j]!;
    if (a > b) return -1;
    if (a < b) return 1;
    const na = Number.isNaN(a);
    const nb = Number.isNaN(b);
    return na === nb ? i - j : na ? 1 : -1;
  });
  return Int32Array.from(idx);
}
