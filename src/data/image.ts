// Image decoding for the readers: frames through sharp (RGB uint8, like PIL's convert('RGB')),
// annotation PNGs through fast-png so palette indices are kept as they are (PIL "P" mode).

import { decode as decodePng, encode as encodePng } from 'fast-png';
import sharp from 'sharp';
import { FileFormatError } from '../errors.js';
import { readBytes } from './files.js';
import type { Mask, RgbImage } from './types.js';

/** Decodes a JPEG/PNG frame to RGB uint8 [H, W, 3]. No EXIF rotation is applied (PIL does none). */
export async function loadRgbImage(file: string): Promise<RgbImage> {
  const bytes = readBytes(file, 'an image frame (JPEG or PNG)');
  try {
    const { data, info } = await sharp(bytes)
      .toColourspace('srgb')
      .removeAlpha()
      .raw()
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 3) throw new Error(`decoded to ${info.channels} channels`);
    return { width: info.width, height: info.height, data: new Uint8Array(data.buffer, data.byteOffset, data.length) };
  } catch (e) {
    throw new FileFormatError(file, `cannot decode as an image frame: ${(e as Error).message}`);
  }
}

/** Width and height of an image from its header, without decoding the pixels. */
export async function readImageSize(file: string): Promise<{ width: number; height: number }> {
  const bytes = readBytes(file, 'an image frame (JPEG or PNG)');
  try {
    const meta = await sharp(bytes).metadata();
    if (!meta.width || !meta.height) throw new Error('no size in the header');
    return { width: meta.width, height: meta.height };
  } catch (e) {
    throw new FileFormatError(file, `cannot read as an image: ${(e as Error).message}`);
  }
}

/**
 * Reads an annotation PNG as a label map: palette PNGs give their indices, 8-bit grayscale PNGs
 * their values (what `np.array(Image.open(p))` gives for "P" and "L" images).
 */
export function loadLabelPng(file: string): Mask {
  return decodeLabelPng(readBytes(file, 'an annotation PNG (palette or 8-bit grayscale)'), file);
}

export function decodeLabelPng(bytes: Uint8Array, file: string): Mask {
  let png;
  try {
    png = decodePng(bytes);
  } catch (e) {
    throw new FileFormatError(file, `cannot decode as PNG: ${(e as Error).message}`);
  }
  const { width, height, depth, channels } = png;
  if (channels !== 1 || depth === 16) {
    throw new FileFormatError(
      file,
      `expected a palette or 8-bit grayscale annotation PNG (one index per pixel), found ${channels} channel(s) of ${depth} bits`,
    );
  }
  const src = png.data as Uint8Array;
  if (depth === 8) return { width, height, data: new Uint8Array(src.buffer, src.byteOffset, width * height) };
  // Depths 1, 2 and 4 come packed, most significant bits first, each row padded to a byte.
  const data = new Uint8Array(width * height);
  const perByte = 8 / depth;
  const rowBytes = Math.ceil(width / perByte);
  const valueMask = (1 << depth) - 1;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const byte = src[y * rowBytes + Math.floor(x / perByte)]!;
      const shift = 8 - depth * ((x % perByte) + 1);
      data[y * width + x] = (byte >> shift) & valueMask;
    }
  }
  return { width, height, data };
}

/** The DAVIS / YouTube-VOS annotation palette (the PASCAL VOC colour map): index i → RGB. */
export function vocPalette(size = 256): number[][] {
  const palette: number[][] = [];
  for (let i = 0; i < size; i++) {
    let r = 0;
    let g = 0;
    let b = 0;
    let c = i;
    for (let bit = 7; bit >= 0; bit--) {
      r |= (c & 1) << bit;
      g |= ((c >> 1) & 1) << bit;
      b |= ((c >> 2) & 1) << bit;
      c >>= 3;
    }
    palette.push([r, g, b]);
  }
  return palette;
}

/** Encodes a label map as an 8-bit palette PNG (deterministic bytes for the same input). */
export function encodeLabelPng(mask: Mask, palette: number[][] = vocPalette()): Uint8Array {
  return encodePng({ width: mask.width, height: mask.height, data: mask.data, depth: 8, channels: 1, palette });
}
