// The input of `soc segment`: a video file, a folder of frames or a single image, opened in two
// steps: `openInput` reads the metadata only (size, frame rate, frame-count estimate), then
// `frames()` / `windows()` decode lazily, so a long video never has to sit in memory whole.
//
// Frame selection (all optional, applied in this order):
//   start / end   videos: seconds, half-open [start, end) on the nominal timeline (frame i is at
//                 i / fps); folders and images: indices into the sorted frame list, [start, end)
//   fps           videos only: keep the first frame at or after every 1/fps seconds from start
//                 (never duplicates frames; a higher fps than the source keeps every frame)
//   every         keep every N-th of the frames kept so far (the reference demo uses 5)
//   maxFrames     stop after this many frames
// Videos are decoded by ffmpeg frame by frame in presentation order, without frame-rate
// conversion (torchvision `read_video`), and rotated upright from the container's rotation
// metadata unless `autorotate: false` (the reference's decoder ignores that metadata).
//
// Decoding parity with the reference: frame files go through sharp (src/data/image.ts); on the
// JPEGs tried (4:2:0 and 4:4:4, quality 75–95) it gave the same bytes as PIL 9.4. Video frames come
// from ffmpeg's YUV→RGB conversion, the same as src/data/video.ts; torchvision's PyAV decoder uses
// swscale too but was not available to compare, so a pixel may differ by a grey level or so.

import { spawn } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { basename, extname, join } from 'node:path';
import { loadRgbImage, readImageSize } from '../data/image.js';
import type { RgbImage } from '../data/types.js';
import { FileFormatError, UsageError } from '../errors.js';
import { FfmpegMissingError, ffmpegCommand, lastLogLines, passthroughFramesArgs, probeVideo, requireFfmpeg, type VideoProbe } from './ffmpeg.js';

export const VIDEO_EXTENSIONS = ['.mp4', '.webm', '.mov', '.avi', '.mkv', '.m4v', '.mpg', '.mpeg'] as const;
export const IMAGE_EXTENSIONS = ['.jpg', '.jpeg', '.png'] as const;

export type InputKind = 'video' | 'folder' | 'image';

export interface FrameSelection {
  /** Videos: seconds; folders/images: frame index. Inclusive. */
  start?: number;
  /** Videos: seconds; folders/images: frame index. Exclusive. */
  end?: number;
  /** Videos only: frames per second to keep. */
  fps?: number;
  /** Keep every N-th frame. */
  every?: number;
  /** At most this many frames. */
  maxFrames?: number;
}

export interface OpenInputOptions {
  /** Rotate videos upright from their rotation metadata (default true). */
  autorotate?: boolean;
  /** Frame files of a folder decoded ahead of the consumer (default 4). */
  prefetch?: number;
}

/** What is known about an input before any frame is decoded. */
export interface MediaInfo {
  path: string;
  kind: InputKind;
  /** Size of every frame (videos: as displayed, after autorotation). */
  width: number;
  height: number;
  /** Source frame rate (videos); null for folders and images. */
  fps: number | null;
  durationSeconds: number | null;
  /** Frames in the source: exact for folders and images, from container metadata for videos (null if unknown). */
  sourceFrameCount: number | null;
  /** Frames the selection keeps out of `sourceFrameCount` (null if unknown). */
  selectedFrameCount: number | null;
  /** True when the counts are exact (folders, images), false when estimated (videos). */
  frameCountExact: boolean;
  /** Rotation from the video's metadata in degrees (0 for folders and images). */
  rotation: number;
}

export interface InputFrame {
  /** Position in the selected sequence: 0, 1, 2 … */
  index: number;
  /** Position in the source: the decoded-frame number of a video, the sorted position in a folder. */
  sourceIndex: number;
  /** Name for outputs: the file stem for folders and images, the zero-padded source index (`00005`) for videos. */
  name: string;
  /** Seconds from the start on the nominal timeline (sourceIndex / fps); null for folders and images. */
  time: number | null;
  image: RgbImage;
}

export interface FrameSource {
  readonly info: MediaInfo;
  /** Decodes the selected frames in order. Each call starts again from the beginning. */
  frames(): AsyncGenerator<InputFrame>;
  /**
   * Groups of `size` consecutive selected frames (the last may be shorter); each window repeats the
   * last `overlap` frames of the previous one. Only one window is held at a time.
   */
  windows(size: number, overlap?: number): AsyncGenerator<InputFrame[]>;
}

/** Natural order: digit runs compare as numbers, so `frame2` < `frame10`. Ties fall back to code points. */
export function naturalCompare(a: string, b: string): number {
  const ta = a.match(/\d+|\D+/g) ?? [];
  const tb = b.match(/\d+|\D+/g) ?? [];
  for (let i = 0; i < Math.min(ta.length, tb.length); i++) {
    const x = ta[i]!;
    const y = tb[i]!;
    const xDigits = /^\d/.test(x);
    const yDigits = /^\d/.test(y);
    if (xDigits && yDigits) {
      const xs = x.replace(/^0+(?=\d)/, '');
      const ys = y.replace(/^0+(?=\d)/, '');
      if (xs.length !== ys.length) return xs.length - ys.length;
      if (xs !== ys) return xs < ys ? -1 : 1;
    } else if (x !== y) {
      return x < y ? -1 : 1;
    }
  }
  if (ta.length !== tb.length) return ta.length - tb.length;
  return a < b ? -1 : a > b ? 1 : 0;
}

// ---------------------------------------------------------------------------------------------
// Selection

/** A FrameSelection turned into source frame indices. */
export interface ResolvedSelection {
  /** First source index kept (inclusive). */
  startIndex: number;
  /** Source index bound (exclusive); Infinity when open. */
  endIndex: number;
  /** target fps / source fps when thinning by fps (< 1), else null. */
  fpsRatio: number | null;
  every: number;
  maxFrames: number;
}

function checkSelection(sel: FrameSelection, kind: InputKind): void {
  const bad = (msg: string) => {
    throw new UsageError(msg);
  };
  if (sel.fps !== undefined && !(Number.isFinite(sel.fps) && sel.fps > 0)) bad(`--fps must be a positive number, got ${sel.fps}`);
  if (sel.every !== undefined && !(Number.isInteger(sel.every) && sel.every >= 1)) bad(`--every must be a whole number ≥ 1, got ${sel.every}`);
  if (sel.maxFrames !== undefined && !(Number.isInteger(sel.maxFrames) && sel.maxFrames >= 1)) bad(`--max-frames must be a whole number ≥ 1, got ${sel.maxFrames}`);
  if (sel.start !== undefined && !(Number.isFinite(sel.start) && sel.start >= 0)) bad(`--start must be ≥ 0, got ${sel.start}`);
  if (sel.end !== undefined && !(Number.isFinite(sel.end) && sel.end > (sel.start ?? 0))) bad(`--end must be greater than --start (${sel.start ?? 0}), got ${sel.end}`);
  if (kind !== 'video') {
    if (sel.fps !== undefined) bad(`--fps needs a video input; for a ${kind} of frames use --every N`);
    for (const [flag, v] of [['--start', sel.start], ['--end', sel.end]] as const) {
      if (v !== undefined && !Number.isInteger(v)) bad(`${flag} is a frame index for a ${kind} input (a whole number), got ${v}`);
    }
  }
}

/** Resolves `sel` against a source: `sourceFps` (videos) turns seconds into frame indices. */
export function resolveSelection(sel: FrameSelection, kind: InputKind, sourceFps: number | null): ResolvedSelection {
  checkSelection(sel, kind);
  const needsRate = kind === 'video' && (sel.start !== undefined || sel.end !== undefined || sel.fps !== undefined);
  if (needsRate && sourceFps === null) throw new UsageError('the video does not state its frame rate, so --start, --end and --fps cannot be used; use --every and --max-frames');
  // Frame i is at i / fps; a small tolerance keeps exact decimal times (2 s at 30 fps) on their frame.
  const toIndex = (v: number) => (kind === 'video' ? Math.max(0, Math.ceil(v * sourceFps! - 1e-6)) : v);
  const fpsRatio = sel.fps !== undefined && sourceFps !== null && sel.fps < sourceFps ? sel.fps / sourceFps : null;
  return {
    startIndex: sel.start === undefined ? 0 : toIndex(sel.start),
    endIndex: sel.end === undefined ? Infinity : toIndex(sel.end),
    fpsRatio,
    every: sel.every ?? 1,
    maxFrames: sel.maxFrames ?? Infinity,
  };
}

/** Whether source frame `i` passes start/end, fps and every (maxFrames is a running count, not checked here). */
export function keepsSourceIndex(r: ResolvedSelection, i: number): boolean {
  if (i < r.startIndex || i >= r.endIndex) return false;
  const rel = i - r.startIndex;
  let position = rel;
  if (r.fpsRatio !== null) {
    // Bucket k holds the frames in [k/fps, (k+1)/fps); its first frame is kept.
    const bucket = Math.floor(rel * r.fpsRatio);
    if (rel > 0 && bucket === Math.floor((rel - 1) * r.fpsRatio)) return false;
    position = bucket;
  }
  return position % r.every === 0;
}

/** How many of the first `sourceCount` source frames the selection keeps. */
export function countSelected(r: ResolvedSelection, sourceCount: number): number {
  let n = 0;
  const last = Math.min(sourceCount, r.endIndex);
  for (let i = r.startIndex; i < last && n < r.maxFrames; i++) if (keepsSourceIndex(r, i)) n++;
  return n;
}

function describeSelection(sel: FrameSelection): string {
  const parts = Object.entries(sel)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k}=${v}`);
  return parts.length ? parts.join(', ') : 'all frames';
}

// ---------------------------------------------------------------------------------------------
// Opening

function statOrNull(path: string) {
  try {
    return statSync(path);
  } catch {
    return null;
  }
}

const isImageFile = (name: string) => (IMAGE_EXTENSIONS as readonly string[]).includes(extname(name).toLowerCase());

/**
 * Opens a video file, a folder of frames or an image and reads its metadata. Throws
 * FileFormatError for missing or unreadable inputs, UsageError for a bad selection.
 */
export async function openInput(path: string, selection: FrameSelection = {}, options: OpenInputOptions = {}): Promise<FrameSource> {
  const st = statOrNull(path);
  if (!st) throw new FileFormatError(path, 'no such file or folder (expected a video file, a folder of frames or an image)');
  if (st.isDirectory()) {
    const files = readdirSync(path).filter((n) => !n.startsWith('.') && isImageFile(n) && statOrNull(join(path, n))?.isFile());
    if (files.length === 0) throw new FileFormatError(path, `contains no frames (${IMAGE_EXTENSIONS.join(', ')} files)`);
    files.sort(naturalCompare);
    const seen = new Map<string, string>();
    for (const f of files) {
      const stem = basename(f, extname(f));
      const other = seen.get(stem);
      if (other !== undefined) throw new FileFormatError(path, `holds ${other} and ${f}, which would both be written as frame "${stem}"`);
      seen.set(stem, f);
    }
    return openFrameFiles(path, 'folder', files.map((f) => join(path, f)), selection, options);
  }
  if (!st.isFile()) throw new FileFormatError(path, 'is neither a file nor a folder');
  if (isImageFile(path)) return openFrameFiles(path, 'image', [path], selection, options);
  return openVideo(path, selection, options);
}

async function openFrameFiles(path: string, kind: 'folder' | 'image', files: string[], selection: FrameSelection, options: OpenInputOptions): Promise<FrameSource> {
  const resolved = resolveSelection(selection, kind, null);
  const chosen: number[] = [];
  for (let i = 0; i < files.length && chosen.length < resolved.maxFrames; i++) if (keepsSourceIndex(resolved, i)) chosen.push(i);
  if (chosen.length === 0) {
    throw new UsageError(`the frame selection (${describeSelection(selection)}) keeps none of the ${files.length} frame(s) of ${path}`);
  }
  const first = files[chosen[0]!]!;
  const { width, height } = await readImageSize(first);
  const info: MediaInfo = {
    path,
    kind,
    width,
    height,
    fps: null,
    durationSeconds: null,
    sourceFrameCount: files.length,
    selectedFrameCount: chosen.length,
    frameCountExact: true,
    rotation: 0,
  };
  const prefetch = Math.max(1, options.prefetch ?? 4);

  async function load(i: number): Promise<RgbImage> {
    const file = files[i]!;
    const image = await loadRgbImage(file);
    if (image.width !== width || image.height !== height) {
      throw new FileFormatError(file, `is ${image.width}x${image.height} but the first frame (${basename(first)}) is ${width}x${height}; all frames must have one size`);
    }
    return image;
  }

  async function* frames(): AsyncGenerator<InputFrame> {
    // A few decodes in flight keep sharp's thread pool busy while the consumer works.
    const pending: Promise<RgbImage>[] = [];
    let next = 0;
    const fill = () => {
      while (pending.length < prefetch && next < chosen.length) {
        const p = load(chosen[next++]!);
        p.catch(() => {}); // surfaced when awaited; avoids unhandled rejections for abandoned prefetches
        pending.push(p);
      }
    };
    for (let k = 0; k < chosen.length; k++) {
      fill();
      const image = await pending.shift()!;
      const i = chosen[k]!;
      yield { index: k, sourceIndex: i, name: basename(files[i]!, extname(files[i]!)), time: null, image };
    }
  }

  return { info, frames, windows: (size, overlap) => windowsOf(frames, size, overlap) };
}

async function openVideo(path: string, selection: FrameSelection, options: OpenInputOptions): Promise<FrameSource> {
  requireFfmpeg();
  const autorotate = options.autorotate ?? true;
  let probe: VideoProbe;
  try {
    probe = await probeVideo(path, autorotate);
  } catch (e) {
    if (e instanceof FileFormatError && !(VIDEO_EXTENSIONS as readonly string[]).includes(extname(path).toLowerCase())) {
      throw new FileFormatError(path, `${e.message.slice(path.length + 2)} (supported inputs: videos ${VIDEO_EXTENSIONS.join(', ')}; frame folders; ${IMAGE_EXTENSIONS.join(', ')} images)`);
    }
    throw e;
  }
  const resolved = resolveSelection(selection, 'video', probe.fps);
  const estimate = probe.frameCount ?? (probe.durationSeconds !== null && probe.fps !== null ? Math.round(probe.durationSeconds * probe.fps) : null);
  const info: MediaInfo = {
    path,
    kind: 'video',
    width: probe.width,
    height: probe.height,
    fps: probe.fps,
    durationSeconds: probe.durationSeconds,
    sourceFrameCount: estimate,
    selectedFrameCount: estimate === null ? null : countSelected(resolved, estimate),
    frameCountExact: false,
    rotation: probe.rotation,
  };

  async function* frames(): AsyncGenerator<InputFrame> {
    let decoded = 0;
    let kept = 0;
    for await (const { sourceIndex, image } of decodeVideo(path, info, resolved, autorotate)) {
      decoded++;
      if (kept >= resolved.maxFrames || sourceIndex >= resolved.endIndex) break;
      if (!keepsSourceIndex(resolved, sourceIndex)) continue;
      yield {
        index: kept++,
        sourceIndex,
        name: String(sourceIndex).padStart(5, '0'),
        time: probe.fps === null ? null : sourceIndex / probe.fps,
        image,
      };
      if (kept >= resolved.maxFrames) break;
    }
    if (kept === 0) {
      if (decoded === 0 && selection.start === undefined && selection.end === undefined) {
        throw new FileFormatError(path, 'no video frames could be decoded (empty or corrupt video)');
      }
      const length = info.durationSeconds !== null ? `${info.durationSeconds.toFixed(2)} s` : 'unknown length';
      throw new UsageError(`the frame selection (${describeSelection(selection)}) keeps no frame of ${path} (${length}, about ${info.sourceFrameCount ?? '?'} frames)`);
    }
  }

  return { info, frames, windows: (size, overlap) => windowsOf(frames, size, overlap) };
}

/**
 * Runs ffmpeg and yields its frames with their source indices. start/end and `every` (without fps)
 * are pushed into ffmpeg's select filter as integer tests on the frame number, so skipped frames
 * are neither converted to RGB nor piped; fps thinning happens here.
 */
async function* decodeVideo(path: string, info: MediaInfo, r: ResolvedSelection, autorotate: boolean): AsyncGenerator<{ sourceIndex: number; image: RgbImage }> {
  const { width, height } = info;
  const frameBytes = width * height * 3;
  const tests: string[] = [];
  if (r.startIndex > 0) tests.push(`gte(n,${r.startIndex})`);
  if (Number.isFinite(r.endIndex)) tests.push(`lt(n,${r.endIndex})`);
  const pushEvery = r.fpsRatio === null && r.every > 1;
  if (pushEvery) tests.push(`not(mod(n-${r.startIndex},${r.every}))`);
  // The explicit scale keeps every frame at the probed size even if the stream changes size;
  // bilinear is what PyAV (torchvision's decoder) asks swscale for.
  const filters = [`scale=${width}:${height}:flags=bilinear`, 'format=rgb24'];
  if (tests.length > 0) filters.unshift(`select='${tests.join('*')}'`);
  // ffmpeg would otherwise decode to the end of the file after the last frame we want.
  const inRange = r.endIndex - r.startIndex;
  const outputLimit = r.fpsRatio === null ? Math.min(r.maxFrames, Math.ceil(inRange / r.every)) : inRange;
  const args = ['-v', 'error', '-nostdin'];
  if (!autorotate) args.push('-noautorotate');
  args.push('-i', path, '-map', '0:v:0', '-vf', filters.join(','), ...passthroughFramesArgs());
  if (Number.isFinite(outputLimit)) args.push('-frames:v', String(outputLimit));
  args.push('-f', 'rawvideo', '-pix_fmt', 'rgb24', 'pipe:1');

  // Source index of the k-th frame ffmpeg emits: the k-th frame number passing the pushed tests.
  let candidate = r.startIndex - (pushEvery ? r.every : 1);
  const nextSourceIndex = () => (candidate += pushEvery ? r.every : 1);

  const child = spawn(ffmpegCommand(), args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  let spawnError: NodeJS.ErrnoException | null = null;
  child.stderr.on('data', (b: Buffer) => {
    stderr += b.toString();
    if (stderr.length > 65536) stderr = stderr.slice(-32768);
  });
  const exited = new Promise<number | null>((resolve) => {
    child.on('error', (e: NodeJS.ErrnoException) => {
      spawnError = e;
      resolve(null);
    });
    child.on('close', (code) => resolve(code));
  });
  let finished = false;
  try {
    let buffer = new Uint8Array(frameBytes);
    let filled = 0;
    for await (const chunk of child.stdout as AsyncIterable<Buffer>) {
      let offset = 0;
      while (offset < chunk.length) {
        const n = Math.min(frameBytes - filled, chunk.length - offset);
        buffer.set(chunk.subarray(offset, offset + n), filled);
        filled += n;
        offset += n;
        if (filled === frameBytes) {
          yield { sourceIndex: nextSourceIndex(), image: { width, height, data: buffer } };
          buffer = new Uint8Array(frameBytes);
          filled = 0;
        }
      }
    }
    const code = await exited;
    finished = true;
    if (spawnError !== null) {
      throw (spawnError as NodeJS.ErrnoException).code === 'ENOENT' ? new FfmpegMissingError(ffmpegCommand()) : spawnError;
    }
    if (code !== 0) throw new FileFormatError(path, `ffmpeg could not decode it: ${lastLogLines(stderr)}`);
    if (filled !== 0) throw new FileFormatError(path, `the decoded stream ends in a partial ${width}x${height} frame (${filled} of ${frameBytes} bytes)`);
  } finally {
    // The consumer stopped early (maxFrames, end, an error): stop the decoder we started.
    if (!finished && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
  }
}

async function* windowsOf(frames: () => AsyncGenerator<InputFrame>, size: number, overlap = 0): AsyncGenerator<InputFrame[]> {
  if (!(Number.isInteger(size) && size >= 1)) throw new UsageError(`the window size must be a whole number ≥ 1, got ${size}`);
  if (!(Number.isInteger(overlap) && overlap >= 0 && overlap < size)) throw new UsageError(`the window overlap must be a whole number in [0, ${size - 1}], got ${overlap}`);
  let window: InputFrame[] = [];
  let fresh = 0;
  for await (const f of frames()) {
    window.push(f);
    fresh++;
    if (window.length === size) {
      yield window;
      window = overlap > 0 ? window.slice(size - overlap) : [];
      fresh = 0;
    }
  }
  if (fresh > 0) yield window;
}

/** All selected frames in memory (for short clips; prefer `frames()` / `windows()` for long ones). */
export async function readAllFrames(source: FrameSource): Promise<InputFrame[]> {
  const out: InputFrame[] = [];
  for await (const f of source.frames()) out.push(f);
  return out;
}
