// What `soc segment` writes: per-frame palette PNG masks, overlay frames (each sentence in its own
// colour with a legend), and the overlay as an mp4 (ffmpeg, libx264) or, without ffmpeg, an
// animated GIF or a folder of PNG frames. Every output appears under its final name only once it
// is complete: files through a temporary sibling and a rename, folders through a staging folder.

import { spawn } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, renameSync, rmSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import sharp from 'sharp';
import { encodeLabelPng, vocPalette } from '../data/image.js';
import type { Mask, RgbImage } from '../data/types.js';
import { SocError, UsageError } from '../errors.js';
import { writeAtomically } from '../io/atomic.js';
import type { Tensor } from '../tensor/tensor.js';
import { ffmpegCommand, isCommandAvailable, lastLogLines, runCommand } from './ffmpeg.js';

export type Rgb = readonly [number, number, number];

/** Colours given to sentences in order (Tableau 10, distinct on most footage); they repeat after 10. */
export const SENTENCE_COLORS: readonly Rgb[] = [
  [31, 119, 180],
  [255, 127, 14],
  [44, 160, 44],
  [214, 39, 40],
  [148, 103, 189],
  [140, 86, 75],
  [227, 119, 194],
  [127, 127, 127],
  [188, 189, 34],
  [23, 190, 207],
];

export function sentenceColor(i: number): Rgb {
  return SENTENCE_COLORS[i % SENTENCE_COLORS.length]!;
}

// ---------------------------------------------------------------------------------------------
// Atomic files and folders

/** A temporary name next to `path` (same folder, so the final rename stays on one file system). */
export function temporarySibling(path: string): string {
  return join(dirname(path), `.${basename(path)}.${process.pid}.${Math.random().toString(36).slice(2, 8)}.tmp`);
}

/** Writes `bytes` to `path` through a temporary file and a rename. */
export function writeFileAtomic(path: string, bytes: Uint8Array): void {
  writeAtomically(path, (fd) => {
    let off = 0;
    while (off < bytes.length) off += writeSync(fd, bytes, off, bytes.length - off);
  });
}

/** Moves `from` onto `to`, replacing a previous folder or file of that name. */
function replacePath(from: string, to: string): void {
  try {
    renameSync(from, to);
    return;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== 'ENOTEMPTY' && code !== 'EEXIST' && code !== 'EISDIR' && code !== 'ENOTDIR') throw e;
  }
  // A non-empty folder cannot be renamed over: move the old one aside first.
  const old = temporarySibling(to);
  renameSync(to, old);
  try {
    renameSync(from, to);
  } catch (e) {
    renameSync(old, to);
    throw e;
  }
  rmSync(old, { recursive: true, force: true });
}

/**
 * A folder filled under a hidden staging name and renamed to `finalPath` by `commit()`, so a failed
 * run leaves either the previous folder or the complete new one, never a partial one.
 */
export class StagedDirectory {
  readonly path: string;
  private done = false;

  constructor(readonly finalPath: string) {
    mkdirSync(dirname(finalPath), { recursive: true });
    this.path = mkdtempSync(join(dirname(finalPath), `.${basename(finalPath)}.staging-`));
    chmodSync(this.path, 0o755); // mkdtemp makes it private; the result is an ordinary folder
  }

  /** Renames the staging folder to its final name (replacing an existing folder). */
  commit(): void {
    if (this.done) throw new Error(`StagedDirectory ${this.finalPath}: already committed or aborted`);
    replacePath(this.path, this.finalPath);
    this.done = true;
  }

  /** Removes the staging folder and everything in it. */
  abort(): void {
    if (this.done) return;
    rmSync(this.path, { recursive: true, force: true });
    this.done = true;
  }
}

// ---------------------------------------------------------------------------------------------
// Masks

/** Binary masks [T, H, W] (uint8 or bool tensor) as one Mask per frame. */
export function masksFromTensor(masks: Tensor): Mask[] {
  if (masks.ndim !== 3) throw new RangeError(`masksFromTensor: expected [T, H, W], got [${masks.shape}]`);
  const [T, height, width] = masks.shape as [number, number, number];
  const bytes = masks.to('uint8').contiguous().toBytes();
  const out: Mask[] = [];
  for (let t = 0; t < T; t++) out.push({ width, height, data: bytes.slice(t * width * height, (t + 1) * width * height) });
  return out;
}

/** Writes a mask as an 8-bit palette PNG (VOC palette by default: 0 black, 1 dark red), atomically. */
export function writeMaskPng(path: string, mask: Mask, palette: number[][] = vocPalette()): void {
  writeFileAtomic(path, encodeLabelPng(mask, palette));
}

// ---------------------------------------------------------------------------------------------
// Overlays

/** One sentence's mask on a frame. */
export interface OverlayLayer {
  mask: Mask;
  color: Rgb;
}

export interface OverlayOptions {
  /** Outline each mask in its full colour, this many pixels thick (0 = none, the default). */
  contour?: number;
  /** A legend from `createLegend`, drawn over the frame. */
  legend?: Legend | null;
}

/**
 * Tints every mask's pixels as the reference's visualisation does, 0.5·pixel + 0.5·colour
 * (truncated to uint8 like numpy's assignment), in layer order; then contours and the legend.
 */
export function renderOverlay(frame: RgbImage, layers: readonly OverlayLayer[], options: OverlayOptions = {}): RgbImage {
  const { width, height } = frame;
  const out = frame.data.slice();
  for (const { mask, color } of layers) {
    if (mask.width !== width || mask.height !== height) {
      throw new RangeError(`renderOverlay: a ${mask.width}x${mask.height} mask on a ${width}x${height} frame`);
    }
    const m = mask.data;
    for (let i = 0, p = 0; i < m.length; i++, p += 3) {
      if (m[i] === 0) continue;
      out[p] = Math.trunc(out[p]! * 0.5 + color[0] * 0.5);
      out[p + 1] = Math.trunc(out[p + 1]! * 0.5 + color[1] * 0.5);
      out[p + 2] = Math.trunc(out[p + 2]! * 0.5 + color[2] * 0.5);
    }
  }
  const thickness = options.contour ?? 0;
  if (thickness > 0) {
    for (const { mask, color } of layers) {
      const edge = contourOf(mask, thickness);
      for (let i = 0, p = 0; i < edge.length; i++, p += 3) {
        if (!edge[i]) continue;
        out[p] = color[0];
        out[p + 1] = color[1];
        out[p + 2] = color[2];
      }
    }
  }
  const result = { width, height, data: out };
  if (options.legend) drawLegend(result, options.legend);
  return result;
}

/** Mask pixels within `thickness` 4-connected steps of a pixel outside the mask (or the border). */
export function contourOf(mask: Mask, thickness: number): Uint8Array {
  const { width, height } = mask;
  let inside = Uint8Array.from(mask.data, (v) => (v !== 0 ? 1 : 0));
  const original = inside;
  for (let step = 0; step < thickness; step++) {
    const eroded = new Uint8Array(inside.length);
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const i = y * width + x;
        eroded[i] =
          inside[i]! && x > 0 && x < width - 1 && y > 0 && y < height - 1 && inside[i - 1]! && inside[i + 1]! && inside[i - width]! && inside[i + width]! ? 1 : 0;
      }
    }
    inside = eroded;
  }
  const edge = new Uint8Array(original.length);
  for (let i = 0; i < edge.length; i++) edge[i] = original[i]! && !inside[i]! ? 1 : 0;
  return edge;
}

/** A rendered legend: RGBA pixels placed at (x, y) on frames of the size it was made for. */
export interface Legend {
  x: number;
  y: number;
  width: number;
  height: number;
  /** [height, width, 4] straight (not premultiplied) alpha */
  rgba: Uint8Array;
}

function escapeXml(s: string): string {
  return s.replace(/[<>&'"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' })[c]!);
}

const LEGEND_FONT = 'DejaVu Sans, Verdana, sans-serif';

/** Rendered pixel width of each line of text (one SVG render, measured from the alpha channel). */
async function measureLines(lines: readonly string[], font: number, lineHeight: number): Promise<number[]> {
  const canvasWidth = Math.ceil(Math.max(...lines.map((l) => l.length)) * font * 1.2 + font);
  const height = lines.length * lineHeight;
  const texts = lines
    .map((l, i) => `<text x="0" y="${i * lineHeight + font}" font-family="${LEGEND_FONT}" font-size="${font}" fill="white">${escapeXml(l)}</text>`)
    .join('');
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${canvasWidth}" height="${height}">${texts}</svg>`;
  const { data, info } = await sharp(Buffer.from(svg)).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
  const widths = lines.map(() => 0);
  for (let y = 0; y < info.height; y++) {
    const line = Math.min(lines.length - 1, Math.floor(y / lineHeight));
    for (let x = info.width - 1; x >= widths[line]!; x--) {
      if (data[(y * info.width + x) * 4 + 3]! > 0) {
        widths[line] = x + 1;
        break;
      }
    }
  }
  return widths;
}

/**
 * Renders a legend box for frames of `frameWidth`×`frameHeight`: one line per sentence, a swatch in
 * its colour and the text (shortened with … when too long). Rendered once, drawn on every frame.
 */
export async function createLegend(sentences: readonly string[], colors: readonly Rgb[], frameWidth: number, frameHeight: number): Promise<Legend | null> {
  if (sentences.length === 0) return null;
  const font = Math.max(10, Math.min(28, Math.round(Math.min(frameWidth, frameHeight * 1.6) / 32)));
  const pad = Math.round(font * 0.5);
  const lineHeight = Math.round(font * 1.4);
  const swatch = Math.round(font * 0.9);
  const margin = Math.max(2, Math.round(font * 0.4));
  const maxTextWidth = frameWidth - 2 * margin - 3 * pad - swatch;
  if (maxTextWidth < font * 3) return null; // frames too narrow for a readable legend
  let lines = sentences.map((s) => s.replace(/\s+/g, ' ').trim());
  let widths = await measureLines(lines, font, lineHeight);
  // Shorten over-long lines in proportion to their overshoot; a second pass settles rounding.
  for (let pass = 0; pass < 3 && widths.some((w) => w > maxTextWidth); pass++) {
    lines = lines.map((l, i) => {
      if (widths[i]! <= maxTextWidth) return l;
      const base = l.endsWith('…') ? l.slice(0, -1) : l;
      const keep = Math.max(1, Math.floor((base.length * maxTextWidth) / widths[i]!) - 2);
      return `${base.slice(0, keep).trimEnd()}…`;
    });
    widths = await measureLines(lines, font, lineHeight);
  }
  const width = Math.min(frameWidth - margin, 3 * pad + swatch + Math.max(...widths));
  const height = Math.min(frameHeight - margin, 2 * pad + (lines.length - 1) * lineHeight + swatch);
  if (height < swatch) return null;
  const rows = lines
    .map((line, i) => {
      const top = pad + i * lineHeight;
      const [r, g, b] = colors[i % colors.length]!;
      return (
        `<rect x="${pad}" y="${top}" width="${swatch}" height="${swatch}" fill="rgb(${r},${g},${b})" stroke="white" stroke-width="1"/>` +
        `<text x="${2 * pad + swatch}" y="${top + swatch - Math.round(font * 0.12)}" font-family="${LEGEND_FONT}" font-size="${font}" fill="white">${escapeXml(line)}</text>`
      );
    })
    .join('');
  const svg =
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">` +
    `<rect x="0" y="0" width="${width}" height="${height}" rx="${Math.round(pad / 2)}" fill="black" fill-opacity="0.6"/>${rows}</svg>`;
  const { data, info } = await sharp(Buffer.from(svg)).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
  return { x: margin, y: margin, width: info.width, height: info.height, rgba: new Uint8Array(data.buffer, data.byteOffset, data.length) };
}

/** Alpha-blends the legend onto `frame` in place (clipped to the frame). */
function drawLegend(frame: RgbImage, legend: Legend): void {
  const w = Math.min(legend.width, frame.width - legend.x);
  const h = Math.min(legend.height, frame.height - legend.y);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const s = (y * legend.width + x) * 4;
      const a = legend.rgba[s + 3]!;
      if (a === 0) continue;
      const d = ((y + legend.y) * frame.width + x + legend.x) * 3;
      for (let c = 0; c < 3; c++) frame.data[d + c] = Math.round((frame.data[d + c]! * (255 - a) + legend.rgba[s + c]! * a) / 255);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Overlay videos

export type VideoFormat = 'mp4' | 'gif' | 'png';

/** A sink for overlay frames; nothing appears at `path` until `finish()` succeeds. */
export interface VideoWriter {
  readonly path: string;
  readonly format: VideoFormat;
  write(frame: RgbImage): Promise<void>;
  /** Completes the file (or folder) and moves it to `path`. */
  finish(): Promise<void>;
  /** Drops everything written so far. */
  abort(): Promise<void>;
}

export interface VideoWriterOptions {
  width: number;
  height: number;
  fps: number;
  /** 'auto' (default): mp4 when ffmpeg with libx264 is there, else a GIF, or PNG frames for long clips. */
  format?: VideoFormat | 'auto';
  /** Expected number of frames, used by 'auto' to keep a GIF's in-memory frames bounded. */
  expectedFrames?: number;
  /** Largest total of RGB frame bytes a GIF may buffer (default 512 MiB). */
  gifMemoryLimit?: number;
  /** x264 constant rate factor (default 18: visually lossless). */
  crf?: number;
}

const DEFAULT_GIF_LIMIT = 512 * 1024 * 1024;

let x264: boolean | null = null;

/** True when ffmpeg runs and has the libx264 encoder. */
export async function canWriteMp4(): Promise<boolean> {
  if (x264 === null) {
    if (!isCommandAvailable(ffmpegCommand())) x264 = false;
    else {
      const r = await runCommand(ffmpegCommand(), ['-hide_banner', '-encoders']);
      x264 = r.code === 0 && /\blibx264\b/.test(r.stdout.toString());
    }
  }
  return x264;
}

/** The file name an overlay of `format` gets: `base.mp4`, `base.gif`, or the folder `base/`. */
export function overlayPath(base: string, format: VideoFormat): string {
  return format === 'png' ? base : `${base}.${format}`;
}

/** Chooses the format for 'auto' (see VideoWriterOptions.format). */
export async function chooseVideoFormat(
  o: Pick<VideoWriterOptions, 'width' | 'height' | 'expectedFrames' | 'gifMemoryLimit'>,
  mp4Available?: boolean,
): Promise<VideoFormat> {
  if (mp4Available ?? (await canWriteMp4())) return 'mp4';
  const bytes = o.width * o.height * 3 * (o.expectedFrames ?? Infinity);
  return bytes <= (o.gifMemoryLimit ?? DEFAULT_GIF_LIMIT) ? 'gif' : 'png';
}

/**
 * Opens an overlay writer. `base` is the output path without extension; the chosen format decides
 * the suffix (see `overlayPath`).
 */
export async function openVideoWriter(base: string, o: VideoWriterOptions): Promise<VideoWriter> {
  if (!(o.width >= 1 && o.height >= 1)) throw new UsageError(`invalid overlay size ${o.width}x${o.height}`);
  if (!(o.fps > 0)) throw new UsageError(`invalid overlay frame rate ${o.fps}`);
  const format = !o.format || o.format === 'auto' ? await chooseVideoFormat(o) : o.format;
  const path = overlayPath(base, format);
  mkdirSync(dirname(path), { recursive: true });
  if (format === 'mp4') {
    if (!(await canWriteMp4())) throw new SocError(`cannot write ${path}: ffmpeg with libx264 is needed (Debian/Ubuntu: sudo apt-get install -y ffmpeg, or set FFMPEG_PATH); use the gif or png format instead`);
    return new Mp4Writer(path, o);
  }
  if (format === 'gif') return new GifWriter(path, o);
  return new PngFramesWriter(path, o);
}

function checkFrame(frame: RgbImage, o: VideoWriterOptions, path: string): void {
  if (frame.width !== o.width || frame.height !== o.height || frame.data.length !== o.width * o.height * 3) {
    throw new RangeError(`${path}: frame of ${frame.width}x${frame.height} written to a ${o.width}x${o.height} video`);
  }
}

/** Pipes raw RGB frames into ffmpeg → H.264 yuv420p mp4 (odd sizes padded by one black row/column). */
class Mp4Writer implements VideoWriter {
  readonly format = 'mp4' as const;
  private readonly tmp: string;
  private readonly child;
  private stderr = '';
  private readonly exited: Promise<number | null>;
  private failure: Error | null = null;
  private closed = false;

  constructor(
    readonly path: string,
    private readonly o: VideoWriterOptions,
  ) {
    this.tmp = temporarySibling(path);
    const args = [
      '-v', 'error', '-nostdin', '-y',
      '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-s', `${o.width}x${o.height}`, '-framerate', String(o.fps), '-i', 'pipe:0',
      // yuv420p needs even sizes: pad rather than rescale, so pixels stay where the masks put them.
      '-vf', 'pad=ceil(iw/2)*2:ceil(ih/2)*2',
      '-c:v', 'libx264', '-preset', 'veryfast', '-crf', String(o.crf ?? 18), '-pix_fmt', 'yuv420p',
      '-movflags', '+faststart', '-f', 'mp4', this.tmp,
    ];
    this.child = spawn(ffmpegCommand(), args, { stdio: ['pipe', 'ignore', 'pipe'] });
    this.child.stderr.on('data', (b: Buffer) => {
      this.stderr += b.toString();
      if (this.stderr.length > 65536) this.stderr = this.stderr.slice(-32768);
    });
    this.child.stdin.on('error', (e) => (this.failure ??= e)); // EPIPE when ffmpeg died; reported below
    this.exited = new Promise((resolve) => {
      this.child.on('error', (e) => {
        this.failure ??= e;
        resolve(null);
      });
      this.child.on('close', (code) => resolve(code));
    });
  }

  private error(): SocError {
    return new SocError(`ffmpeg failed writing ${this.path}: ${lastLogLines(this.stderr) || this.failure?.message}`);
  }

  async write(frame: RgbImage): Promise<void> {
    if (this.closed) throw new Error(`${this.path}: write after finish/abort`);
    checkFrame(frame, this.o, this.path);
    if (this.failure || this.child.exitCode !== null) {
      await this.abort();
      throw this.error();
    }
    // A copy: the stream may keep the buffer queued after write() returns.
    if (!this.child.stdin.write(Buffer.from(frame.data))) {
      // Wait for ffmpeg to take the data (or to die).
      await new Promise<void>((resolve) => {
        const done = () => {
          this.child.stdin.off('drain', done);
          this.child.off('close', done);
          resolve();
        };
        this.child.stdin.on('drain', done);
        this.child.on('close', done);
      });
    }
  }

  async finish(): Promise<void> {
    if (this.closed) throw new Error(`${this.path}: finish after finish/abort`);
    this.closed = true;
    this.child.stdin.end();
    const code = await this.exited;
    if (code !== 0 || this.failure) {
      rmSync(this.tmp, { force: true });
      throw this.error();
    }
    renameSync(this.tmp, this.path);
  }

  async abort(): Promise<void> {
    this.closed = true;
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
    await this.exited;
    rmSync(this.tmp, { force: true });
  }
}

/**
 * Animated GIF through sharp (libvips + cgif). GIF cannot be appended to by sharp, so frames are
 * held in memory until `finish()`; `gifMemoryLimit` bounds that.
 */
class GifWriter implements VideoWriter {
  readonly format = 'gif' as const;
  private frames: Uint8Array[] = [];
  private readonly limit: number;

  constructor(
    readonly path: string,
    private readonly o: VideoWriterOptions,
  ) {
    this.limit = o.gifMemoryLimit ?? DEFAULT_GIF_LIMIT;
  }

  async write(frame: RgbImage): Promise<void> {
    checkFrame(frame, this.o, this.path);
    if ((this.frames.length + 1) * frame.data.length > this.limit) {
      this.frames = [];
      throw new SocError(
        `${this.path}: the GIF would need more than ${Math.round(this.limit / 2 ** 20)} MiB of frames in memory; ` +
          'install ffmpeg for an mp4 overlay or ask for PNG frames',
      );
    }
    this.frames.push(frame.data.slice());
  }

  async finish(): Promise<void> {
    const n = this.frames.length;
    if (n === 0) throw new SocError(`${this.path}: no frames were written`);
    const { width, height } = this.o;
    const all = Buffer.allocUnsafe(n * width * height * 3);
    this.frames.forEach((f, i) => all.set(f, i * f.length));
    this.frames = [];
    const gif = await sharp(all, { raw: { width, height: height * n, channels: 3, pageHeight: height } })
      .gif({ delay: new Array<number>(n).fill(Math.max(20, Math.round(1000 / this.o.fps))), loop: 0, effort: 1 })
      .toBuffer();
    writeFileAtomic(this.path, gif);
  }

  async abort(): Promise<void> {
    this.frames = [];
  }
}

/** Numbered PNG frames (`00000.png` …) in a folder that appears complete on `finish()`. */
class PngFramesWriter implements VideoWriter {
  readonly format = 'png' as const;
  private readonly staging: StagedDirectory;
  private count = 0;

  constructor(
    readonly path: string,
    private readonly o: VideoWriterOptions,
  ) {
    this.staging = new StagedDirectory(path);
  }

  async write(frame: RgbImage): Promise<void> {
    checkFrame(frame, this.o, this.path);
    const png = await sharp(frame.data, { raw: { width: frame.width, height: frame.height, channels: 3 } }).png({ compressionLevel: 6 }).toBuffer();
    writeFileAtomic(join(this.staging.path, `${String(this.count++).padStart(5, '0')}.png`), png);
  }

  async finish(): Promise<void> {
    if (this.count === 0) {
      this.staging.abort();
      throw new SocError(`${this.path}: no frames were written`);
    }
    this.staging.commit();
  }

  async abort(): Promise<void> {
    this.staging.abort();
  }
}
