// `soc segment` as a library: frames from a video / folder / image, one or more sentences, a
// loaded model → per-sentence mask PNGs, an overlay video and result.json, written into a staging
// folder that is renamed to the output folder only when everything succeeded.

import { freemem, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { accessSync, constants, existsSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { SocError, UsageError } from '../errors.js';
import type { RgbImage } from '../data/types.js';
import { type Legend, type Rgb, StagedDirectory, createLegend, masksFromTensor, openVideoWriter, renderOverlay, sentenceColor, writeMaskPng, type VideoWriter } from '../media/output.js';
import { type ResizeRule, VideoInputBuilder, YTVOS_RESIZE, resizedSize } from '../media/preprocess.js';
import { type FrameSelection, type InputFrame, type MediaInfo, openInput } from '../media/video-input.js';
import { swinConfigOf } from '../models/soc/config.js';
import type { ReferringSegmenter, SentenceResult } from './predictor.js';

export type OutputPart = 'masks' | 'overlay' | 'json';

export interface SegmentOptions {
  input: string;
  sentences: string[];
  out: string;
  selection?: FrameSelection;
  /** Resize rule (default: the reference's shorter side 360, longer side at most 640). */
  resize?: ResizeRule;
  /** Frames per window; default: the whole clip unless it would not fit in `maxMemoryBytes`. */
  window?: number;
  maxMemoryBytes?: number;
  threshold?: number;
  parts?: OutputPart[];
  overlayFormat?: 'auto' | 'mp4' | 'gif' | 'png';
  /** Progress callback: frames done, frames total (estimate), phase. */
  onProgress?: (done: number, total: number, phase: string) => void;
  onInfo?: (message: string) => void;
}

export interface SegmentSummary {
  frames: number;
  sentences: number;
  seconds: number;
  framesPerSecond: number;
  peakRssBytes: number;
  mode: { kind: 'full' | 'windowed'; window: number; reason: string };
  out: string;
}

/**
 * Peak bytes the model needs per frame at a resized size, from the backbone's widest activations
 * (stage-0 tokens × width × a factor). bench/segment.ts measured ~0.075 GB per 360×640 frame for
 * swin-t under noGrad; the factor gives ~0.1 GB, leaving headroom for the allocator.
 */
export function estimateBytesPerFrame(segmenter: ReferringSegmenter, size: readonly [number, number]): number {
  const c0 = swinConfigOf(segmenter.config).embedDim;
  const tokens = Math.ceil(size[0] / 4) * Math.ceil(size[1] / 4);
  return tokens * c0 * 4 * 18 + 8e6;
}

/**
 * The evaluation resize of a config: its `eval_short_size` / `eval_max_size` (the reference YAML
 * keys; 360 / 640 in every official config), so a model trained at another size is run at it.
 */
export function evalResizeRule(config: Record<string, unknown>): ResizeRule {
  const short = typeof config.eval_short_size === 'number' ? config.eval_short_size : YTVOS_RESIZE.shortSide;
  const max = typeof config.eval_max_size === 'number' ? config.eval_max_size : YTVOS_RESIZE.maxSize;
  return { shortSide: short, maxSize: max };
}

/** Default memory budget: half of what is free now, at most 75 % of RAM. */
export function defaultMemoryBudget(): number {
  return Math.min(freemem() * 0.5, totalmem() * 0.75);
}

/** Folder name of sentence i: its index and a short slug. */
export function sentenceFolder(i: number, text: string): string {
  const slug = text
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 40);
  return `${String(i + 1).padStart(2, '0')}${slug ? `-${slug}` : ''}`;
}

interface FrameRecord {
  name: string;
  sourceIndex: number;
  time: number | null;
  perSentence: { score: number; box: number[]; area: number; selectedQuery: number }[];
}

export async function segmentVideo(segmenter: ReferringSegmenter, o: SegmentOptions): Promise<SegmentSummary> {
  const started = Date.now();
  const sentences = o.sentences.map((s) => s.replace(/\s+/g, ' ').trim());
  if (sentences.length === 0) throw new UsageError('no sentence: give at least one --text or a --texts file');
  const empty = sentences.findIndex((s) => s === '');
  if (empty >= 0) throw new UsageError(`sentence ${empty + 1} is empty`);
  const parts = new Set<OutputPart>(o.parts ?? ['masks', 'overlay', 'json']);
  checkOutputFolder(o.out);
  const source = await openInput(o.input, o.selection ?? {});
  const info = source.info;
  // Frame counts of videos come from container metadata and may be estimates (or unknown).
  const total = info.selectedFrameCount;
  if (total === 0) throw new SocError(`${o.input}: no frames selected`);
  const rule = o.resize ?? evalResizeRule(segmenter.config);
  const size = resizedSize(info.width, info.height, rule);
  const perFrame = estimateBytesPerFrame(segmenter, size);
  const budget = o.maxMemoryBytes ?? defaultMemoryBudget();
  const fitting = Math.max(1, Math.floor(budget / perFrame));
  let mode: SegmentSummary['mode'];
  if (o.window) {
    mode = { kind: total !== null && o.window >= total ? 'full' : 'windowed', window: o.window, reason: `--window ${o.window}` };
  } else if (total !== null && total <= fitting) {
    mode = { kind: 'full', window: total, reason: `the whole clip (~${gb(perFrame * total)} GB) fits the memory budget (${gb(budget)} GB)` };
  } else {
    const need = total === null ? 'an unknown number of frames' : `~${gb(perFrame * total)} GB`;
    mode = { kind: 'windowed', window: fitting, reason: `the whole clip would need ${need}, over the memory budget of ${gb(budget)} GB (--max-memory)` };
  }
  o.onInfo?.(
    mode.kind === 'full'
      ? `mode: whole clip in one pass (${total} frames), as the reference does — ${mode.reason}`
      : `mode: windows of ${mode.window} frames, each segmented independently (query chosen per window) — ${mode.reason}`,
  );

  const staged = new StagedDirectory(o.out);
  const colors: Rgb[] = sentences.map((_, i) => sentenceColor(i));
  const folders = sentences.map((s, i) => sentenceFolder(i, s));
  let writer: VideoWriter | null = null;
  const records: FrameRecord[] = [];
  const windows: { start: number; frames: number; selectedQuery: number[]; queryScores: number[][] }[] = [];
  let peakRss = process.memoryUsage().rss;
  let done = 0;
  try {
    if (parts.has('masks')) for (const f of folders) mkdirSync(join(staged.path, f), { recursive: true });
    let legend: Legend | null = null;
    if (parts.has('overlay')) {
      writer = await openVideoWriter(join(staged.path, 'overlay'), { width: info.width, height: info.height, fps: overlayFps(info, o.selection), format: o.overlayFormat ?? 'auto', expectedFrames: total ?? undefined });
      legend = await createLegend(sentences, colors, info.width, info.height);
    }
    const builder = new VideoInputBuilder(rule, Math.min(mode.window, total ?? mode.window));
    for await (const frames of source.windows(mode.window)) {
      builder.clear();
      for (const f of frames) builder.add(f.image, f.name);
      const clip = builder.build();
      let results: SentenceResult[];
      try {
        results = segmenter.segment(clip, sentences, { threshold: o.threshold });
      } finally {
        clip.video.dispose();
        clip.paddingMask.dispose();
      }
      peakRss = Math.max(peakRss, process.memoryUsage().rss);
      windows.push({ start: done, frames: frames.length, selectedQuery: results.map((r) => r.selectedQuery), queryScores: results.map((r) => r.queryScores) });
      await writeWindow(staged.path, frames, results, folders, colors, parts, writer, legend, records);
      for (const r of results) r.masks.dispose();
      done += frames.length;
      o.onProgress?.(done, Math.max(total ?? done, done), 'frames');
    }
    if (done === 0) throw new SocError(`${o.input}: no frames could be decoded`);
    if (writer) await writer.finish();
    const seconds = (Date.now() - started) / 1000;
    if (parts.has('json')) {
      const result = {
        tool: 'soc segment',
        input: { path: info.path, kind: info.kind, width: info.width, height: info.height, fps: info.fps, frames: done, selection: o.selection ?? {} },
        model: {
          variant: segmenter.config.variant,
          backbone: segmenter.config.backbone_swin_config ? 'custom' : segmenter.config.backbone,
          config: segmenter.configSource,
          queries: segmenter.config.DeformTransformer.num_queries,
        },
        threshold: o.threshold ?? 0.5,
        resize: { shortSide: rule.shortSide, maxSize: rule.maxSize, modelInput: size },
        mode,
        sentences: sentences.map((text, i) => ({
          text,
          color: colors[i],
          folder: parts.has('masks') ? folders[i] : null,
          windows: windows.map((w) => ({ start: w.start, frames: w.frames, selectedQuery: w.selectedQuery[i], queryScores: w.queryScores[i] })),
        })),
        frames: records.map((r) => ({
          name: r.name,
          sourceIndex: r.sourceIndex,
          time: r.time,
          sentences: r.perSentence,
        })),
        overlay: writer ? writer.path.slice(staged.path.length + 1) : null,
        timing: { seconds, framesPerSecond: done / seconds },
        warnings: [...new Set(segmenter.warnings)],
      };
      writeFileSync(join(staged.path, 'result.json'), `${JSON.stringify(result, null, 1)}\n`);
    }
    staged.commit();
    return { frames: done, sentences: sentences.length, seconds, framesPerSecond: done / seconds, peakRssBytes: peakRss, mode, out: o.out };
  } catch (e) {
    if (writer) await writer.abort().catch(() => {});
    staged.abort();
    throw e;
  }
}

async function writeWindow(
  dir: string,
  frames: InputFrame[],
  results: SentenceResult[],
  folders: string[],
  colors: Rgb[],
  parts: Set<OutputPart>,
  writer: VideoWriter | null,
  legend: Legend | null,
  records: FrameRecord[],
): Promise<void> {
  const masks = results.map((r) => masksFromTensor(r.masks));
  for (let t = 0; t < frames.length; t++) {
    const f = frames[t]!;
    records.push({
      name: f.name,
      sourceIndex: f.sourceIndex,
      time: Number.isFinite(f.time) ? f.time : null,
      perSentence: results.map((r, i) => ({
        score: round(r.frameScores[t]!),
        box: r.boxes[t]!.map((v) => round(v, 2)),
        area: countOnes(masks[i]![t]!.data),
        selectedQuery: r.selectedQuery,
      })),
    });
    if (parts.has('masks')) {
      results.forEach((_, i) => writeMaskPng(join(dir, folders[i]!, `${f.name}.png`), masks[i]![t]!));
    }
    if (writer) {
      const frame: RgbImage = f.image;
      await writer.write(renderOverlay(frame, masks.map((m, i) => ({ mask: m[t]!, color: colors[i]! })), { legend: legend ?? undefined }));
    }
  }
}

function overlayFps(info: MediaInfo, sel: FrameSelection | undefined): number {
  const base = info.fps ?? 10;
  const fps = sel?.fps ? Math.min(sel.fps, base) : base;
  return Math.max(1, fps / (sel?.every ?? 1));
}

function countOnes(a: Uint8Array): number {
  let n = 0;
  for (let i = 0; i < a.length; i++) n += a[i]! ? 1 : 0;
  return n;
}

function round(x: number, digits = 6): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

function gb(bytes: number): string {
  return (bytes / 2 ** 30).toFixed(2);
}

/** Fails early, with an actionable message, when `out` cannot become a folder. */
export function checkOutputFolder(out: string): void {
  let probe = resolve(out);
  if (existsSync(probe) && !statSync(probe).isDirectory()) throw new UsageError(`--out ${out} exists and is not a folder`);
  while (!existsSync(probe)) {
    const parent = dirname(probe);
    if (parent === probe) break;
    probe = parent;
  }
  if (!statSync(probe).isDirectory()) throw new UsageError(`cannot create the output folder ${out}: ${probe} is a file, not a folder`);
  try {
    accessSync(probe, constants.W_OK);
  } catch {
    throw new UsageError(`cannot create the output folder ${out}: ${probe} is not writable`);
  }
}
