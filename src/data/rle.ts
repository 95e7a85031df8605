// COCO run-length encoding, just what the readers (MeViS mask_dict.json) and `soc synth` need.
// TODO: switch to src/evaluation/coco/rle.ts once it lands (it carries pycocotools' full
// semantics: area, bbox, IoU, merge); this file then shrinks to a re-export.
//
// Layout (pycocotools): run lengths over the mask in column-major order, starting with a run of 0s.
// Compressed `counts` strings store each run, from the third on as the difference to the run two
// before, in 5-bit groups with a continuation bit, offset by 48 into printable ASCII.

import type { Mask } from './types.js';

/** A COCO RLE as stored in JSON: `size` is [height, width]. */
export interface CocoRle {
  size: [number, number];
  counts: string | number[];
}

/** Run lengths (column-major, starting with zeros) of a binary mask (non-zero = foreground). */
export function maskToRuns(mask: Mask): number[] {
  const { width, height, data } = mask;
  const runs: number[] = [];
  let current = 0;
  let length = 0;
  for (let x = 0; x < width; x++) {
    for (let y = 0; y < height; y++) {
      const v = data[y * width + x] !== 0 ? 1 : 0;
      if (v !== current) {
        runs.push(length);
        length = 0;
        current = v;
      }
      length++;
    }
  }
  runs.push(length);
  return runs;
}

/** pycocotools' compressed counts string for a list of run lengths. */
export function runsToString(runs: number[]): string {
  let out = '';
  for (let i = 0; i < runs.length; i++) {
    let x = runs[i]!;
    if (i > 2) x -= runs[i - 2]!;
    let more = true;
    while (more) {
      let c = x & 0x1f;
      x >>= 5; // arithmetic shift keeps the sign, as in the C code
      more = c & 0x10 ? x !== -1 : x !== 0;
      if (more) c |= 0x20;
      out += String.fromCharCode(c + 48);
    }
  }
  return out;
}

/** Parses a compressed counts string back into run lengths. */
export function stringToRuns(counts: string): number[] {
  const runs: number[] = [];
  let p = 0;
  while (p < counts.length) {
    let x = 0;
    let k = 0;
    let more = true;
    while (more) {
      if (p >= counts.length) throw new Error('truncated counts string');
      const c = counts.charCodeAt(p) - 48;
      if (c < 0 || c > 63) throw new Error(`invalid character ${JSON.stringify(counts[p])} in counts string`);
      x |= (c & 0x1f) << (5 * k);
      more = (c & 0x20) !== 0;
      p++;
      k++;
      if (!more && c & 0x10) x |= -1 << (5 * k);
      if (k > 6) throw new Error('run length too large');
    }
    if (runs.length > 2) x += runs[runs.length - 2]!;
    runs.push(x);
  }
  return runs;
}

/** Encodes a binary mask as a COCO RLE with a compressed counts string. */
export function encodeRle(mask: Mask): CocoRle {
  return { size: [mask.height, mask.width], counts: runsToString(maskToRuns(mask)) };
}

/** Decodes a COCO RLE (compressed string or plain run list) into a 0/1 mask [H, W]. */
export function decodeRle(rle: CocoRle): Mask {
  const [height, width] = rle.size;
  const runs = typeof rle.counts === 'string' ? stringToRuns(rle.counts) : rle.counts;
  const total = height * width;
  let sum = 0;
  for (const r of runs) {
    if (!Number.isInteger(r) || r < 0) throw new Error(`invalid run length ${r}`);
    sum += r;
  }
  if (sum !== total) throw new Error(`run lengths add up to ${sum}, but size ${height}x${width} needs ${total}`);
  const data = new Uint8Array(total);
  let pos = 0;
  for (let i = 0; i < runs.length; i++) {
    const end = pos + runs[i]!;
    if (i % 2 === 1) {
      for (let j = pos; j < end; j++) {
        // j is a column-major index: column j / height, row j % height
        data[(j % height) * width + Math.floor(j / height)] = 1;
      }
    }
    pos = end;
  }
  return { width, height, data };
}
