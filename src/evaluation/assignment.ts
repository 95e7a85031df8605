// Linear assignment shared by the DAVIS evaluation (proposal ↔ object matching) and the training
// matcher (query ↔ object matching).
//
// Written here rather than taken from npm: `linear-sum-assignment` (1.0.9) and `munkres` (2.0.4)
// find optimal costs but break ties differently from scipy, which the reference calls (on 1,000
// random 1–20 × 1–4 matrices with tied costs: 132 and 6 different assignments, none without ties).
// A different tie-break picks other matched queries, hence other losses and gradients.

import { UsageError } from '../errors.js';

/**
 * Minimum-cost assignment of a row-major nr×nc cost matrix (scipy.optimize.linear_sum_assignment,
 * its shortest-augmenting-path algorithm, including how it breaks ties). Returns the matched
 * (row, column) pairs sorted by row.
 */
export function linearSumAssignment(costIn: Float64Array, nrIn: number, ncIn: number): { rows: Int32Array; cols: Int32Array } {
  if (nrIn === 0 || ncIn === 0) return { rows: new Int32Array(0), cols: new Int32Array(0) };
  // a tall matrix is solved transposed, so that every row gets a column
  const transpose = ncIn < nrIn;
  const nr = transpose ? ncIn : nrIn;
  const nc = transpose ? nrIn : ncIn;
  const cost = new Float64Array(nr * nc);
  for (let i = 0; i < nrIn; i++) {
    for (let j = 0; j < ncIn; j++) {
      const v = costIn[i * ncIn + j]!;
      if (Number.isNaN(v) || v === -Infinity) throw new UsageError('assignment cost matrix contains NaN or -inf');
      if (transpose) cost[j * nc + i] = v;
      else cost[i * nc + j] = v;
    }
  }
  const u = new Float64Array(nr);
  const v = new Float64Array(nc);
  const shortest = new Float64Array(nc);
  const path = new Int32Array(nc).fill(-1);
  const col4row = new Int32Array(nr).fill(-1);
  const row4col = new Int32Array(nc).fill(-1);
  const SR = new Uint8Array(nr);
  const SC = new Uint8Array(nc);
  const remaining = new Int32Array(nc);
  for (let curRow = 0; curRow < nr; curRow++) {
    // shortest augmenting path from curRow (Crouse 2016)
    let minVal = 0;
    let numRemaining = nc;
    // reverse order, so a constant matrix gives the identity assignment
    for (let it = 0; it < nc; it++) remaining[it] = nc - it - 1;
    SR.fill(0);
    SC.fill(0);
    shortest.fill(Infinity);
    let sink = -1;
    let i = curRow;
    while (sink === -1) {
      let index = -1;
      let lowest = Infinity;
      SR[i] = 1;
      for (let it = 0; it < numRemaining; it++) {
        const j = remaining[it]!;
        const r = minVal + cost[i * nc + j]! - u[i]! - v[j]!;
        if (r < shortest[j]!) {
          path[j] = i;
          shortest[j] = r;
        }
        // among equal costs prefer a free column (a new sink)
        if (shortest[j]! < lowest || (shortest[j] === lowest && row4col[j] === -1)) {
          lowest = shortest[j]!;
          index = it;
        }
      }
      minVal = lowest;
      if (minVal === Infinity) throw new UsageError('assignment cost matrix is infeasible');
      const j = remaining[index]!;
      if (row4col[j] === -1) sink = j;
      else i = row4col[j]!;
      SC[j] = 1;
      remaining[index] = remaining[--numRemaining]!;
    }
    u[curRow] = u[curRow]! + minVal;
    for (let r = 0; r < nr; r++) if (SR[r] && r !== curRow) u[r] = u[r]! + (minVal - shortest[col4row[r]!]!);
    for (let c = 0; c < nc; c++) if (SC[c]) v[c] = v[c]! - (minVal - shortest[c]!);
    // augment along the path back to curRow
    let j = sink;
    for (;;) {
      const r = path[j]!;
      row4col[j] = r;
      const prev = col4row[r]!;
      col4row[r] = j;
      j = prev;
      if (r === curRow) break;
    }
  }
  if (!transpose) return { rows: Int32Array.from({ length: nr }, (_, k) => k), cols: col4row };
  const order = Array.from({ length: nr }, (_, k) => k).sort((a, b) => col4row[a]! - col4row[b]!);
  return { rows: Int32Array.from(order, (k) => col4row[k]!), cols: Int32Array.from(order) };
}
