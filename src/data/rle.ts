// COCO RLE objects as they appear in JSON files (MeViS mask_dict.json, `soc synth` output),
// converted to and from the readers' Mask type. The run-length coding itself is pycocotools'
// (src/evaluation/coco/rle.ts).

import { decode, encode, fromCompressed, fromUncompressed, toCompressed } from '../evaluation/coco/rle.js';
import type { Mask } from './types.js';

/** A COCO RLE as stored in JSON: `size` is [height, width]; `counts` compressed or a run list. */
export interface CocoRle {
  size: [number, number];
  counts: string | number[];
}

/** Encodes a binary mask (non-zero = foreground) as a compressed COCO RLE. */
export function encodeRle(mask: Mask): CocoRle {
  const binary = mask.data.map((v) => (v !== 0 ? 1 : 0));
  return toCompressed(encode(binary, mask.height, mask.width));
}

/** Decodes a COCO RLE object into a 0/1 mask [H, W]; throws (RleError) on a malformed one. */
export function decodeRle(rle: CocoRle): Mask {
  const [height, width] = rle.size;
  const parsed = typeof rle.counts === 'string' ? fromCompressed({ size: rle.size, counts: rle.counts }) : fromUncompressed({ size: rle.size, counts: rle.counts });
  return { width, height, data: decode(parsed) };
}
