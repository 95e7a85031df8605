// COCO run-length encoding of binary masks with pycocotools' exact semantics (common/maskApi.c and
// _mask.pyx of the PyPI pycocotools build):
//
// * Runs are taken over the mask in column-major (Fortran) order and alternate 0-runs and 1-runs,
//   starting with a 0-run that may be empty.
// * The compressed `counts` string stores each count (from the fourth on, as the difference to the
//   count two places earlier) in 5-bit groups, least significant first: bit 0x20 = "more groups
//   follow", bit 0x10 of the last group = sign, each group + 48 as an ASCII character.
// * Counts are unsigned 32-bit integers, and arithmetic on them wraps as in C.
//
// Masks handed in and out are Uint8Array [H, W] in row-major order.

import { SocError } from '../../errors.js';

/** A run-length-encoded mask. */
export interface Rle {
  height: number;
  width: number;
  /** Alternating run lengths in column-major order, starting with a run of zeros. */
  counts: Uint32Array;
}

/** COCO's compressed RLE object: `{size: [H, W], counts: "..."}`. */
export interface CompressedRle {
  size: [number, number];
  counts: string;
}

/** COCO's uncompressed RLE object: `{size: [H, W], counts: [n0, n1, ...]}`. */
export interface UncompressedRle {
  size: [number, number];
  counts: number[];
}

/** A box `[x, y, width, height]` with x the column. */
export type Bbox = [number, number, number, number];

/** An RLE string or mask that cannot be decoded. */
export class RleError extends SocError {}

/**
 * Encodes a row-major mask. Like pycocotools, runs break wherever the raw byte value changes, so
 * only 0/1 masks give meaningful encodings (a 0/255 mask works too; mixed non-zero values do not).
 */
export function encode(data: Uint8Array, height: number, width: number): Rle {
  const n = height * width;
  if (data.length < n) throw new RleError(`cannot encode a ${height}×${width} mask from ${data.length} values`);
  const runs: number[] = [];
  let prev = 0;
  let run = 0;
  for (let x = 0; x < width; x++) {
    for (let i = x; i < n; i += width) {
      const v = data[i]!;
      if (v !== prev) {
        runs.push(run);
        run = 0;
        prev = v;
      }
      run++;
    }
  }
  runs.push(run);
  return { height, width, counts: Uint32Array.from(runs) };
}

/**
 * Decodes to a row-major 0/1 mask. Throws when the runs overrun the image, as pycocotools'
 * `decode` does ("Invalid RLE mask representation"); pixels after runs that stop short are 0.
 */
export function decode(rle: Rle): Uint8Array {
  const { height: h, width: w, counts } = rle;
  const n = h * w;
  const out = new Uint8Array(n);
  let pos = 0;
  for (let j = 0; j < counts.length; j++) {
    const c = counts[j]!;
    if (pos + c > n) throw new RleError(`invalid RLE: the runs cover more than the ${h}×${w} image`);
    if (j % 2 === 1) {
      let y = pos % h;
      let x = (pos - y) / h;
      for (let k = 0; k < c; k++) {
        out[y * w + x] = 1;
        if (++y === h) {
          y = 0;
          x++;
        }
      }
    }
    pos += c;
  }
  return out;
}

/** Number of foreground pixels: the sum of the odd-indexed counts (uint32, wrapping as in C). */
export function area(rle: Rle): number {
  let a = 0;
  const c = rle.counts;
  for (let j = 1; j < c.length; j += 2) a = (a + c[j]!) >>> 0;
  return a;
}

/**
 * Bounding box [x, y, w, h] of the foreground (x is the column, w = x_end − x_start + 1);
 * [0, 0, 0, 0] for an RLE with fewer than two counts. Mirrors rleToBbox, including its unsigned
 * arithmetic for degenerate RLEs whose 1-runs are all empty.
 */
export function toBbox(rle: Rle): Bbox {
  const h = rle.height >>> 0;
  const w = rle.width >>> 0;
  const counts = rle.counts;
  const m = Math.floor(counts.length / 2) * 2;
  if (m === 0) return [0, 0, 0, 0];
  let xs = w;
  let ys = h;
  let xe = 0;
  let ye = 0;
  let cc = 0;
  for (let j = 0; j < m; j++) {
    const start = cc;
    cc = (cc + counts[j]!) >>> 0;
    if (j % 2 === 0 || counts[j] === 0) continue;
    const yStart = start % h;
    const xStart = (start - yStart) / h;
    const last = (cc - 1) >>> 0;
    const yEnd = last % h;
    const xEnd = (last - yEnd) / h;
    xs = Math.min(xs, xStart);
    xe = Math.max(xe, xEnd);
    if (xStart < xEnd) {
      // the run crosses a column boundary, so it spans the full height
      ys = 0;
      ye = h - 1;
    } else {
      ys = Math.min(ys, yStart);
      ye = Math.max(ye, yEnd);
    }
  }
  return [xs, ys, (xe - xs + 1) >>> 0, (ye - ys + 1) >>> 0];
}

/** The compressed counts string of an RLE (rleToString). */
export function countsToString(counts: ArrayLike<number>): string {
  const chars: number[] = [];
  for (let i = 0; i < counts.length; i++) {
    let x = counts[i]!;
    if (i > 2) x -= counts[i - 2]!;
    let more = true;
    while (more) {
      // low 5 bits, then an arithmetic shift right by 5 (exact on doubles up to 2^53)
      let c = x & 0x1f;
      x = Math.floor(x / 32);
      more = c & 0x10 ? x !== -1 : x !== 0;
      if (more) c |= 0x20;
      chars.push(c + 48);
    }
  }
  // String.fromCharCode has an argument limit, so build in chunks
  let s = '';
  for (let i = 0; i < chars.length; i += 8192) s += String.fromCharCode(...chars.slice(i, i + 8192));
  return s;
}

/**
 * Parses a compressed counts string (rleFrString). Characters must be in '0'..'o' (the only ones
 * the encoder writes) and the last group must be complete; anything else is an RleError.
 */
export function countsFromString(s: string): Uint32Array {
  // one number ends at each character without the continuation bit
  let n = 0;
  for (let p = 0; p < s.length; p++) if (!((s.charCodeAt(p) - 48) & 0x20)) n++;
  const out = new Uint32Array(n);
  let m = 0;
  let p = 0;
  while (p < s.length) {
    let x = 0;
    let k = 0;
    let more = true;
    while (more) {
      if (p >= s.length) throw new RleError(`invalid RLE counts string: it ends inside a number (${abbreviate(s)})`);
      const code = s.charCodeAt(p);
      if (code < 48 || code > 111) {
        throw new RleError(`invalid RLE counts string: character ${JSON.stringify(s[p])} at position ${p} is outside '0'..'o' (${abbreviate(s)})`);
      }
      const c = code - 48;
      // 32-bit int shifts, as the C code's int arithmetic does
      x |= (c & 0x1f) << (5 * k);
      more = (c & 0x20) !== 0;
      p++;
      k++;
      if (!more && c & 0x10) x |= -1 << (5 * k);
    }
    if (m > 2) x += out[m - 2]!;
    out[m++] = x >>> 0;
  }
  return out;
}

function abbreviate(s: string): string {
  return JSON.stringify(s.length > 40 ? `${s.slice(0, 40)}…` : s);
}

/** `{size: [H, W], counts: string}` of an RLE. */
export function toCompressed(rle: Rle): CompressedRle {
  return { size: [rle.height, rle.width], counts: countsToString(rle.counts) };
}

/** Parses a compressed RLE object. */
export function fromCompressed(obj: CompressedRle): Rle {
  return { height: obj.size[0], width: obj.size[1], counts: countsFromString(obj.counts) };
}

/**
 * An RLE from an uncompressed RLE object (frUncompressedRLE): the counts as given, converted to
 * uint32, with the object's own size.
 */
export function fromUncompressed(obj: UncompressedRle): Rle {
  return { height: obj.size[0], width: obj.size[1], counts: Uint32Array.from(obj.counts, (c) => c >>> 0) };
}

/** Sum of the counts, i.e. the number of pixels an RLE covers (equals H·W for a valid RLE). */
export function coveredPixels(rle: Rle): number {
  let s = 0;
  for (let i = 0; i < rle.counts.length; i++) s += rle.counts[i]!;
  return s;
}

/**
 * Union (or intersection) of RLEs of one size (rleMerge). RLEs of differing sizes give an empty
 * 0×0 RLE, as in pycocotools.
 */
export function merge(rles: Rle[], intersect = false): Rle {
  if (rles.length === 0) return { height: 0, width: 0, counts: new Uint32Array(0) };
  const first = rles[0]!;
  if (rles.length === 1) return { height: first.height, width: first.width, counts: first.counts.slice() };
  let h = first.height;
  let w = first.width;
  let acc = Array.from(first.counts);
  for (let i = 1; i < rles.length; i++) {
    const b = rles[i]!;
    if (b.height !== h || b.width !== w) {
      h = 0;
      w = 0;
      acc = [];
      break;
    }
    const a = acc;
    const out: number[] = [];
    let ca = a[0] ?? 0;
    let cb = b.counts[0] ?? 0;
    let v = false;
    let va = false;
    let vb = false;
    let ia = 1;
    let ib = 1;
    let cc = 0;
    let ct = 1;
    while (ct > 0) {
      const c = Math.min(ca, cb);
      cc += c;
      ct = 0;
      ca -= c;
      if (!ca && ia < a.length) {
        ca = a[ia++]!;
        va = !va;
      }
      ct += ca;
      cb -= c;
      if (!cb && ib < b.counts.length) {
        cb = b.counts[ib++]!;
        vb = !vb;
      }
      ct += cb;
      const vp: boolean = v;
      v = intersect ? va && vb : va || vb;
      if (v !== vp || ct === 0) {
        out.push(cc);
        cc = 0;
      }
    }
    acc = out;
  }
  return { height: h, width: w, counts: Uint32Array.from(acc) };
}

/**
 * IoU of boxes (bbIou): D×G values, row-major (`out[d * G + g]`). For a crowd ground truth the
 * denominator is the detection's area instead of the union. Non-overlapping boxes give 0.
 */
export function bboxIou(dt: ArrayLike<number>[], gt: ArrayLike<number>[], iscrowd: ArrayLike<number | boolean>): Float64Array {
  const D = dt.length;
  const G = gt.length;
  const out = new Float64Array(D * G);
  for (let g = 0; g < G; g++) {
    const gb = gt[g]!;
    const ga = gb[2]! * gb[3]!;
    const crowd = !!iscrowd[g];
    for (let d = 0; d < D; d++) {
      const db = dt[d]!;
      const da = db[2]! * db[3]!;
      const iw = Math.min(db[2]! + db[0]!, gb[2]! + gb[0]!) - Math.max(db[0]!, gb[0]!);
      if (iw <= 0) continue;
      const ih = Math.min(db[3]! + db[1]!, gb[3]! + gb[1]!) - Math.max(db[1]!, gb[1]!);
      if (ih <= 0) continue;
      const inter = iw * ih;
      const union = crowd ? da : da + ga - inter;
      out[d * G + g] = inter / union;
    }
  }
  return out;
}

/** Intersection and union pixel counts of two RLEs of the same size (one merge pass over the runs). */
export function intersectionUnion(a: Rle, b: Rle): { intersection: number; union: number } {
  const ac = a.counts;
  const bc = b.counts;
  let ca = ac[0] ?? 0;
  let cb = bc[0] ?? 0;
  let va = false;
  let vb = false;
  let ia = 1;
  let ib = 1;
  let inter = 0;
  let union = 0;
  let ct = 1;
  while (ct > 0) {
    const c = Math.min(ca, cb);
    if (va || vb) {
      union += c;
      if (va && vb) inter += c;
    }
    ct = 0;
    ca -= c;
    if (!ca && ia < ac.length) {
      ca = ac[ia++]!;
      va = !va;
    }
    ct += ca;
    cb -= c;
    if (!cb && ib < bc.length) {
      cb = bc[ib++]!;
      vb = !vb;
    }
    ct += cb;
  }
  return { intersection: inter >>> 0, union: union >>> 0 };
}

/**
 * Mask IoU of every detection with every ground truth (rleIou): D×G values, row-major
 * (`out[d * G + g]`). As in pycocotools: the IoU is computed only where the boxes overlap (0
 * elsewhere); for a crowd ground truth it is |d∩g| / |d|; no intersection gives 0; masks of
 * different sizes whose boxes overlap give −1. Empty `dt` or `gt` gives an empty array.
 */
export function iou(
  dt: Rle[],
  gt: Rle[],
  iscrowd: ArrayLike<number | boolean>,
  /** `toBbox` of each RLE, when the caller has them already */
  dtBoxes: Bbox[] = dt.map(toBbox),
  gtBoxes: Bbox[] = gt.map(toBbox),
): Float64Array {
  if (dt.length === 0 || gt.length === 0) return new Float64Array(0);
  const G = gt.length;
  const out = bboxIou(dtBoxes, gtBoxes, iscrowd);
  for (let g = 0; g < G; g++) {
    const gr = gt[g]!;
    const crowd = !!iscrowd[g];
    for (let d = 0; d < dt.length; d++) {
      const k = d * G + g;
      if (!(out[k]! > 0)) continue;
      const dr = dt[d]!;
      if (dr.height !== gr.height || dr.width !== gr.width) {
        out[k] = -1;
        continue;
      }
      const { intersection, union } = intersectionUnion(dr, gr);
      const denom = intersection === 0 ? 1 : crowd ? area(dr) : union;
      out[k] = intersection / denom;
    }
  }
  return out;
}

/**
 * Rasterises a polygon [x0, y0, x1, y1, ...] (rleFrPoly): the outline is traced at 5× resolution
 * and a pixel is inside when its centre is, with pycocotools' exact integer rounding.
 */
export function frPoly(xy: ArrayLike<number>, height: number, width: number): Rle {
  const k = Math.floor(xy.length / 2);
  const scale = 5;
  const h = height;
  const w = width;
  const px = new Int32Array(k + 1);
  const py = new Int32Array(k + 1);
  // Int32Array stores truncate toward zero, like C's (int) casts
  for (let j = 0; j < k; j++) px[j] = scale * xy[j * 2]! + 0.5;
  px[k] = px[0]!;
  for (let j = 0; j < k; j++) py[j] = scale * xy[j * 2 + 1]! + 0.5;
  py[k] = py[0]!;
  let m = 0;
  for (let j = 0; j < k; j++) m += Math.max(Math.abs(px[j]! - px[j + 1]!), Math.abs(py[j]! - py[j + 1]!)) + 1;
  const u = new Int32Array(m);
  const v = new Int32Array(m);
  m = 0;
  for (let j = 0; j < k; j++) {
    let xs = px[j]!;
    let xe = px[j + 1]!;
    let ys = py[j]!;
    let ye = py[j + 1]!;
    const dx = Math.abs(xe - xs);
    const dy = Math.abs(ys - ye);
    const flip = (dx >= dy && xs > xe) || (dx < dy && ys > ye);
    if (flip) {
      [xs, xe] = [xe, xs];
      [ys, ye] = [ye, ys];
    }
    const s = dx >= dy ? (ye - ys) / dx : (xe - xs) / dy;
    if (dx >= dy) {
      for (let d = 0; d <= dx; d++) {
        const t = flip ? dx - d : d;
        u[m] = t + xs;
        v[m] = ys + s * t + 0.5;
        m++;
      }
    } else {
      for (let d = 0; d <= dy; d++) {
        const t = flip ? dy - d : d;
        v[m] = t + ys;
        u[m] = xs + s * t + 0.5;
        m++;
      }
    }
  }
  // points where the traced outline crosses a column centre, downsampled to pixel coordinates
  const nPts = m;
  const bx = new Int32Array(nPts);
  const by = new Int32Array(nPts);
  m = 0;
  for (let j = 1; j < nPts; j++) {
    if (u[j] === u[j - 1]) continue;
    let xd = u[j]! < u[j - 1]! ? u[j]! : u[j]! - 1;
    xd = (xd + 0.5) / scale - 0.5;
    if (Math.floor(xd) !== xd || xd < 0 || xd > w - 1) continue;
    let yd = v[j]! < v[j - 1]! ? v[j]! : v[j - 1]!;
    yd = (yd + 0.5) / scale - 0.5;
    if (yd < 0) yd = 0;
    else if (yd > h) yd = h;
    yd = Math.ceil(yd);
    bx[m] = xd;
    by[m] = yd;
    m++;
  }
  // column-major positions of the crossings (+ the end), sorted, as run lengths
  const a = new Uint32Array(m + 1);
  for (let j = 0; j < m; j++) a[j] = (Math.imul(bx[j]!, h) + by[j]!) >>> 0;
  a[m] = (h * w) >>> 0;
  a.sort();
  let prev = 0;
  for (let j = 0; j < a.length; j++) {
    const t = a[j]!;
    a[j] = (a[j]! - prev) >>> 0;
    prev = t;
  }
  const runs: number[] = [];
  let j = 0;
  runs.push(a[j++]!);
  while (j < a.length) {
    if (a[j]! > 0) runs.push(a[j++]!);
    else {
      // a zero-length run merges its neighbours
      j++;
      if (j < a.length) runs[runs.length - 1] = (runs[runs.length - 1]! + a[j++]!) >>> 0;
    }
  }
  return { height: h, width: w, counts: Uint32Array.from(runs) };
}

/** The RLE of a box [x, y, w, h] (rleFrBbox: the box as a 4-point polygon). */
export function frBbox(bb: ArrayLike<number>, height: number, width: number): Rle {
  const xs = bb[0]!;
  const ys = bb[1]!;
  const xe = xs + bb[2]!;
  const ye = ys + bb[3]!;
  return frPoly([xs, ys, xs, ye, xe, ye, xe, ys], height, width);
}

/** What `frPyObjects` accepts: boxes, polygons or uncompressed RLE objects, one or a list. */
export type PyObject = number[] | number[][] | UncompressedRle | UncompressedRle[];

/**
 * pycocotools' `frPyObjects(obj, h, w)`: a list of boxes (first entry of length 4) or of polygons
 * (first entry longer than 4), a list of uncompressed RLE objects, or a single one of these. A
 * list gives a list of RLEs. Uncompressed RLEs keep their own `size` (h and w are not used).
 */
export function frPyObjects(obj: PyObject, height: number, width: number): Rle | Rle[] {
  if (Array.isArray(obj)) {
    if (obj.length === 0) return [];
    const first = obj[0];
    if (Array.isArray(first)) {
      const list = obj as number[][];
      if (first.length === 4) return list.map((b) => frBbox(b, height, width));
      if (first.length > 4) return list.map((p) => frPoly(p, height, width));
      throw new RleError(`frPyObjects: a polygon needs at least 3 points (got ${first.length} numbers)`);
    }
    if (isRleObject(first)) return (obj as UncompressedRle[]).map(fromUncompressed);
    const flat = obj as number[];
    if (flat.length === 4) return frBbox(flat, height, width);
    if (flat.length > 4) return frPoly(flat, height, width);
    throw new RleError(`frPyObjects: input type is not supported (a list of ${flat.length} numbers)`);
  }
  if (isRleObject(obj)) return fromUncompressed(obj);
  throw new RleError('frPyObjects: input type is not supported');
}

function isRleObject(o: unknown): o is UncompressedRle {
  return typeof o === 'object' && o !== null && !Array.isArray(o) && 'counts' in o && 'size' in o;
}
