// Writers for tiny datasets in the benchmarks' on-disk formats, used by the reader tests.

import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { zlibSync } from 'fflate';
import h5wasm from 'h5wasm/node';
import sharp from 'sharp';
import { encodeLabelPng } from '../../src/data/image.js';
import type { Mask } from '../../src/data/types.js';

function ensureDir(file: string): void {
  mkdirSync(dirname(file), { recursive: true });
}

/** RGB pixels with a colour per pixel from `colour(x, y)`. */
export function rgbPixels(width: number, height: number, colour: (x: number, y: number) => [number, number, number]): Uint8Array {
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) data.set(colour(x, y), (y * width + x) * 3);
  }
  return data;
}

export async function writeJpeg(file: string, width: number, height: number, colour: [number, number, number] = [120, 130, 140]): Promise<void> {
  ensureDir(file);
  await sharp(rgbPixels(width, height, () => colour), { raw: { width, height, channels: 3 } })
    .jpeg({ quality: 95 })
    .toFile(file);
}

export async function writeRgbPng(file: string, width: number, height: number, colour: [number, number, number] = [120, 130, 140]): Promise<void> {
  ensureDir(file);
  await sharp(rgbPixels(width, height, () => colour), { raw: { width, height, channels: 3 } })
    .png()
    .toFile(file);
}

/** A label map with rectangles: each [label, x1, y1, x2, y2] (inclusive-exclusive) painted in order. */
export function labelMap(width: number, height: number, rects: [number, number, number, number, number][]): Mask {
  const data = new Uint8Array(width * height);
  for (const [label, x1, y1, x2, y2] of rects) {
    for (let y = y1; y < y2; y++) for (let x = x1; x < x2; x++) data[y * width + x] = label;
  }
  return { width, height, data };
}

export function writeLabelPng(file: string, mask: Mask): void {
  ensureDir(file);
  writeFileSync(file, encodeLabelPng(mask));
}

export function writeJson(file: string, value: unknown): void {
  ensureDir(file);
  writeFileSync(file, JSON.stringify(value));
}

export function writeText(file: string, text: string | Buffer): void {
  ensureDir(file);
  writeFileSync(file, text);
}

/** 1 where the mask equals `label`. */
export function binary(mask: Mask, label: number): Uint8Array {
  return mask.data.map((v) => (v === label ? 1 : 0));
}

// --- MATLAB Level 5 MAT-file writer (one uint8 array), per the MAT-file format document ---

function element(type: number, payload: Uint8Array): Uint8Array {
  const padded = Math.ceil(payload.length / 8) * 8;
  const out = new Uint8Array(8 + padded);
  const view = new DataView(out.buffer);
  view.setUint32(0, type, true);
  view.setUint32(4, payload.length, true);
  out.set(payload, 8);
  return out;
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

function matHeader(text: string, version: number): Uint8Array {
  const header = new Uint8Array(128).fill(0x20);
  header.set(Buffer.from(text, 'latin1').subarray(0, 116));
  header.fill(0, 116, 124);
  new DataView(header.buffer).setUint16(124, version, true);
  header.set(Buffer.from('IM', 'latin1'), 126);
  return header;
}

/** Writes `name` = uint8 array of MATLAB dims `dims` from column-major `data` as a v5 MAT-file. */
export function writeMat5(file: string, name: string, dims: number[], data: Uint8Array, compress = false): void {
  const flags = new Uint8Array(8);
  flags[0] = 9; // mxUINT8_CLASS
  const dimBytes = new Uint8Array(dims.length * 4);
  dims.forEach((d, i) => new DataView(dimBytes.buffer).setInt32(i * 4, d, true));
  const matrix = element(
    14, // miMATRIX
    concat([element(6, flags), element(5, dimBytes), element(1, Buffer.from(name, 'latin1')), element(2, data)]),
  );
  let body = matrix;
  if (compress) {
    const z = zlibSync(matrix);
    body = new Uint8Array(8 + z.length);
    new DataView(body.buffer).setUint32(0, 15, true); // miCOMPRESSED, not padded
    new DataView(body.buffer).setUint32(4, z.length, true);
    body.set(z, 8);
  }
  ensureDir(file);
  writeFileSync(file, concat([matHeader('MATLAB 5.0 MAT-file, written by soc-ts tests', 0x0100), body]));
}

/** Writes a v7.3 MAT-file: a 512-byte MATLAB user block, then HDF5 with the dims reversed. */
export async function writeMat73(file: string, name: string, dims: number[], data: Uint8Array): Promise<void> {
  await h5wasm.ready;
  const tmp = `${file}.h5tmp`;
  ensureDir(file);
  const f = new h5wasm.File(tmp, 'w');
  f.create_dataset({ name, data, shape: [...dims].reverse(), dtype: '<B' });
  f.close();
  const header = new Uint8Array(512);
  header.set(matHeader('MATLAB 7.3 MAT-file, written by soc-ts tests', 0x0200));
  writeFileSync(file, concat([header, readFileSync(tmp)]));
  rmSync(tmp);
}

/** Column-major data of [H, W, N] from per-frame row-major masks. */
export function columnMajorFrames(masks: Mask[]): Uint8Array {
  const { width: w, height: h } = masks[0]!;
  const out = new Uint8Array(w * h * masks.length);
  masks.forEach((m, f) => {
    for (let x = 0; x < w; x++) for (let y = 0; y < h; y++) out[f * w * h + x * h + y] = m.data[y * w + x]!;
  });
  return out;
}

/** Writes an A2D frame annotation: instance [N], reMask [N, W, H] (or [W, H] for one), reBBox [4, N]. */
export async function writeA2dH5(file: string, instances: number[], masks: Mask[], opts: { boxes?: boolean; reMaskShape?: number[] } = {}): Promise<void> {
  await h5wasm.ready;
  ensureDir(file);
  const { width: w, height: h } = masks[0]!;
  const n = instances.length;
  const reMask = new Uint8Array(masks.length * w * h);
  masks.forEach((m, i) => {
    for (let x = 0; x < w; x++) for (let y = 0; y < h; y++) reMask[i * w * h + x * h + y] = m.data[y * w + x]!;
  });
  const f = new h5wasm.File(file, 'w');
  f.create_dataset({ name: 'instance', data: Float64Array.from(instances) });
  f.create_dataset({ name: 'reMask', data: reMask, shape: opts.reMaskShape ?? (n === 1 ? [w, h] : [n, w, h]), dtype: '<B' });
  if (opts.boxes !== false) {
    const bb = new Float64Array(4 * n);
    masks.forEach((m, i) => {
      let [x1, y1, x2, y2] = [Infinity, Infinity, -1, -1];
      for (let y = 0; y < h; y++)
        for (let x = 0; x < w; x++)
          if (m.data[y * w + x]) [x1, y1, x2, y2] = [Math.min(x1, x), Math.min(y1, y), Math.max(x2, x), Math.max(y2, y)];
      [x1, y1, x2, y2].forEach((v, k) => (bb[k * n + i] = v));
    });
    f.create_dataset({ name: 'reBBox', data: bb, shape: [4, n] });
  }
  f.close();
}

/** sha256 of every file under `dir`, keyed by relative path. */
export function hashTree(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (d: string) => {
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else out.set(relative(dir, p), createHash('sha256').update(readFileSync(p)).digest('hex'));
    }
  };
  walk(dir);
  return out;
}
