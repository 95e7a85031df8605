// `soc synth`: writes a synthetic referring-video dataset (clips from synth-scene.ts) in the
// layouts the readers take, so tests, benches and a small trained model can use real code paths.
//
// format "mevis" (default) — readable by the MeViS reader in both of its layouts:
//   <out>/<split>/JPEGImages/<video>/<frame>.jpg
//   <out>/<split>/Annotations/<video>/<frame>.png      palette PNG, pixel = obj_id + 1
//   <out>/<split>/mask_dict.json                       {"<anno_id>": [RLE or null per frame]}
//   <out>/<split>/meta_expressions.json                obj_id lists (0-based) + anno_id lists
//   <out>/meta_expressions/<split>/meta_expressions.json   the same expressions (SOC++'s path)
// format "ytvos" — Ref-YouTube-VOS layout: single-object expressions only, obj_id = "<palette value>",
//   <out>/<split>/meta.json with the shape as category.
// Splits are `train` and `valid`; unlike the real benchmarks, valid has ground truth (like MeViS valid_u).
// Same options and seed → byte-identical files (clip i depends only on the seed and i).

import { mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import sharp from 'sharp';
import { UsageError } from '../errors.js';
import { exists } from './files.js';
import { encodeLabelPng } from './image.js';
import { mixSeed } from './prng.js';
import { encodeRle, type CocoRle } from './rle.js';
import { generateClip, SYNTH_VOCABULARY, type SynthClip } from './synth-scene.js';

export type SynthFormat = 'mevis' | 'ytvos';

export interface SynthOptions {
  /** Output folder; written to a temporary sibling first and renamed when complete. */
  out: string;
  videos: number;
  seed: number;
  /** Frames per clip; default: 8–12, drawn per clip. */
  frames?: number | null;
  height?: number;
  width?: number;
  /** Share of videos in the valid split (default 0.2); at least one when there are two or more videos. */
  validFraction?: number;
  format?: SynthFormat;
  jpegQuality?: number;
  /** Replace `out` if it exists. */
  force?: boolean;
  /** Called after each video. */
  onProgress?: (done: number, total: number) => void;
}

export interface SynthSplitSummary {
  videos: number;
  frames: number;
  objects: number;
  expressions: number;
  multiObjectExpressions: number;
}

export interface SynthSummary {
  out: string;
  format: SynthFormat;
  train: SynthSplitSummary;
  valid: SynthSplitSummary;
}

export const SYNTH_DEFAULTS = { height: 96, width: 160, validFraction: 0.2, format: 'mevis' as SynthFormat, jpegQuality: 90 };

/** Frame names: `00000`, `00001`, … */
export function frameName(t: number): string {
  return String(t).padStart(5, '0');
}

/** Video ids: `vid00000`, … (stable whatever the number of videos). */
export function videoId(index: number): string {
  return `vid${String(index).padStart(5, '0')}`;
}

/** Which split video `index` of `total` goes to. */
export function splitOf(index: number, total: number, validFraction: number): 'train' | 'valid' {
  const inValid = (i: number) => Math.floor((i + 1) * validFraction) > Math.floor(i * validFraction);
  let anyValid = false;
  for (let i = 0; i < total && !anyValid; i++) anyValid = inValid(i);
  // with few videos the fraction rounds to none: make the last one valid
  if (!anyValid && total >= 2 && validFraction > 0) return index === total - 1 ? 'valid' : 'train';
  return inValid(index) ? 'valid' : 'train';
}

function validate(o: SynthOptions): Required<Omit<SynthOptions, 'onProgress' | 'frames'>> & Pick<SynthOptions, 'onProgress' | 'frames'> {
  const r = { ...SYNTH_DEFAULTS, force: false, ...o };
  if (!Number.isInteger(r.videos) || r.videos < 1) throw new UsageError(`--videos must be a positive integer, got ${o.videos}`);
  if (!Number.isInteger(r.seed) || r.seed < 0 || r.seed > Number.MAX_SAFE_INTEGER) throw new UsageError(`--seed must be a non-negative integer, got ${o.seed}`);
  if (r.frames != null && (!Number.isInteger(r.frames) || r.frames < 6 || r.frames > 500)) {
    throw new UsageError(`--frames must be an integer from 6 to 500 (objects need room to move and stop), got ${r.frames}`);
  }
  if (!Number.isInteger(r.height) || !Number.isInteger(r.width) || Math.min(r.height, r.width) < 48 || Math.max(r.height, r.width) > 4096) {
    throw new UsageError(`--size must be HxW with both sides from 48 to 4096, got ${r.height}x${r.width}`);
  }
  if (!(r.validFraction >= 0 && r.validFraction < 1)) throw new UsageError(`--valid-fraction must be in [0, 1), got ${r.validFraction}`);
  if (r.format !== 'mevis' && r.format !== 'ytvos') throw new UsageError(`--format must be mevis or ytvos, got ${r.format}`);
  if (!Number.isInteger(r.jpegQuality) || r.jpegQuality < 1 || r.jpegQuality > 100) throw new UsageError(`JPEG quality must be 1..100, got ${r.jpegQuality}`);
  return r;
}

interface MevisExpressionEntry {
  exp: string;
  obj_id: number[];
  anno_id: number[];
}
interface YtvosExpressionEntry {
  exp: string;
  obj_id: string;
}
interface SplitState {
  summary: SynthSplitSummary;
  meta: Record<string, { expressions: Record<string, MevisExpressionEntry | YtvosExpressionEntry>; frames: string[] }>;
  maskDict: Record<string, (CocoRle | null)[]>;
  objects: Record<string, { objects: Record<string, { category: string; frames: string[] }> }>;
  nextAnnoId: number;
}

function emptySplit(): SplitState {
  return { summary: { videos: 0, frames: 0, objects: 0, expressions: 0, multiObjectExpressions: 0 }, meta: {}, maskDict: {}, objects: {}, nextAnnoId: 0 };
}

/** Clip parameters of video `index` (its frame count is drawn from its own seed when not fixed). */
function clipSeed(seed: number, index: number): number {
  return mixSeed(seed, index);
}

/** Generates clip `index` of a dataset exactly as `generateSynthDataset` does (for tests and tools). */
export function synthClip(seed: number, index: number, options: { frames?: number | null; height?: number; width?: number } = {}): SynthClip {
  const s = clipSeed(seed, index);
  const numFrames = options.frames ?? 8 + (mixSeed(s, 0x5eed) % 5);
  return generateClip(s, { width: options.width ?? SYNTH_DEFAULTS.width, height: options.height ?? SYNTH_DEFAULTS.height, numFrames });
}

/** Writes the dataset; returns what was written. */
export async function generateSynthDataset(options: SynthOptions): Promise<SynthSummary> {
  const o = validate(options);
  const out = resolve(o.out);
  if (exists(out) && !o.force) throw new UsageError(`${out} already exists (pass --force to replace it)`);
  mkdirSync(dirname(out), { recursive: true });
  const tmp = join(dirname(out), `.${basename(out)}.partial-${process.pid}-${Date.now()}`);
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  try {
    const splits = { train: emptySplit(), valid: emptySplit() };
    for (let i = 0; i < o.videos; i++) {
      const split = splitOf(i, o.videos, o.validFraction);
      const clip = synthClip(o.seed, i, { frames: o.frames, height: o.height, width: o.width });
      await writeClip(tmp, split, videoId(i), clip, splits[split], o.format, o.jpegQuality);
      o.onProgress?.(i + 1, o.videos);
    }
    for (const split of ['train', 'valid'] as const) writeSplitFiles(tmp, split, splits[split], o.format);
    const summary: SynthSummary = { out, format: o.format, train: splits.train.summary, valid: splits.valid.summary };
    const info = {
      generator: 'soc synth',
      version: 1,
      seed: o.seed,
      videos: o.videos,
      frames: o.frames ?? '8-12',
      size: [o.height, o.width],
      validFraction: o.validFraction,
      format: o.format,
      jpegQuality: o.jpegQuality,
      train: summary.train,
      valid: summary.valid,
      vocabulary: SYNTH_VOCABULARY,
    };
    writeFileSync(join(tmp, 'synth.json'), `${JSON.stringify(info, null, 2)}\n`);
    if (exists(out)) {
      const old = `${tmp}.old`;
      renameSync(out, old);
      renameSync(tmp, out);
      rmSync(old, { recursive: true, force: true });
    } else {
      renameSync(tmp, out);
    }
    return summary;
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
}

async function writeClip(root: string, split: string, vid: string, clip: SynthClip, state: SplitState, format: SynthFormat, quality: number): Promise<void> {
  const frames = Array.from({ length: clip.numFrames }, (_, t) => frameName(t));
  const jpegDir = join(root, split, 'JPEGImages', vid);
  const pngDir = join(root, split, 'Annotations', vid);
  mkdirSync(jpegDir, { recursive: true });
  mkdirSync(pngDir, { recursive: true });
  const { width, height } = clip;
  await Promise.all(
    frames.map(async (name, t) => {
      const jpeg = await sharp(clip.rgb[t]!, { raw: { width, height, channels: 3 } }).jpeg({ quality }).toBuffer();
      writeFileSync(join(jpegDir, `${name}.jpg`), jpeg);
      writeFileSync(join(pngDir, `${name}.png`), encodeLabelPng({ width, height, data: clip.labels[t]! }));
    }),
  );

  const s = state.summary;
  s.videos++;
  s.frames += frames.length;
  s.objects += clip.objects.length;
  // per object: anno_id, its visible mask per frame, and the frames where it is visible
  const annoIds = clip.objects.map(() => state.nextAnnoId++);
  const visibleFrames = clip.objects.map(() => [] as string[]);
  clip.objects.forEach((obj, k) => {
    const rles = clip.labels.map((lab, t) => {
      const data = new Uint8Array(lab.length);
      let any = false;
      for (let i = 0; i < lab.length; i++) if (lab[i] === obj.id + 1) (data[i] = 1), (any = true);
      if (!any) return null;
      visibleFrames[k]!.push(frames[t]!);
      return encodeRle({ width, height, data });
    });
    state.maskDict[String(annoIds[k])] = rles;
  });

  const expressions: Record<string, MevisExpressionEntry | YtvosExpressionEntry> = {};
  for (const e of clip.expressions) {
    if (format === 'ytvos') {
      if (e.objIds.length !== 1) continue;
      expressions[String(Object.keys(expressions).length)] = { exp: e.text, obj_id: String(e.objIds[0]! + 1) };
    } else {
      expressions[String(Object.keys(expressions).length)] = { exp: e.text, obj_id: e.objIds, anno_id: e.objIds.map((id) => annoIds[id]!) };
    }
    s.expressions++;
    if (e.objIds.length > 1) s.multiObjectExpressions++;
  }
  state.meta[vid] = { expressions, frames };
  state.objects[vid] = {
    objects: Object.fromEntries(clip.objects.map((obj, k) => [String(obj.id + 1), { category: obj.shape, frames: visibleFrames[k]! }])),
  };
}

function writeJson(file: string, value: unknown, indent?: number): void {
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, `${JSON.stringify(value, null, indent)}\n`);
}

function writeSplitFiles(root: string, split: string, state: SplitState, format: SynthFormat): void {
  mkdirSync(join(root, split, 'JPEGImages'), { recursive: true });
  mkdirSync(join(root, split, 'Annotations'), { recursive: true });
  const meta = { videos: state.meta };
  writeJson(join(root, 'meta_expressions', split, 'meta_expressions.json'), meta, 1);
  if (format === 'mevis') {
    writeJson(join(root, split, 'meta_expressions.json'), meta, 1);
    writeJson(join(root, split, 'mask_dict.json'), state.maskDict);
  } else {
    writeJson(join(root, split, 'meta.json'), { videos: state.objects }, 1);
  }
}
