// JHMDB-Sentences, datasets.md §4 (test only):
//   <root>/jhmdb_annotation.txt                              CSV with header video_id, query
//   <root>/Rename_Images/<action>/<video>/<frame:05d>.png    1-based frames
//   <root>/puppet_mask/<action>/<video>/puppet_mask.mat      variable part_mask [H, W, frames] (0/1)
// The reference evaluates 3 random frames per video from a committed metadata file whose paths are
// absolute; readSamplesMetadata re-roots them under `root`.

import { basename, join } from 'node:path';
import { z } from 'zod';
import { FileFormatError, SocError } from '../errors.js';
import { parseCsv } from './csv.js';
import { exists, isDirectory, listDirectory, readJsonAs, readText } from './files.js';
import { loadRgbImage } from './image.js';
import { readMatVariable } from './mat.js';
import type { Mask, RgbImage } from './types.js';
import { checkSameSize } from './video-dataset.js';

export interface JhmdbVideo {
  id: string;
  action: string;
  framesDir: string;
  maskFile: string;
  /** Number of frame PNGs in framesDir (some last frames may have no mask). */
  frameCount: number;
}

export interface JhmdbExpression {
  videoId: string;
  query: string;
}

/** One evaluated frame: an entry of jhmdb_sentences_samples_metadata_new.json. */
export interface JhmdbSample {
  videoId: string;
  /** 1-based frame number. */
  frameIdx: number;
  framePath: string;
  maskPath: string;
  /** Frames of the video that have a mask (the window is clamped to 1..this). */
  videoTotalFrames: number;
  query: string;
}

/** The puppet masks of one video. */
export interface PuppetMasks {
  file: string;
  width: number;
  height: number;
  numFrames: number;
  /** Binary mask of frame `frameIdx` (1-based): part_mask[:, :, frameIdx - 1]. */
  frame(frameIdx: number): Mask;
}

const samplesMetadataSchema = z.array(z.tuple([z.string(), z.string(), z.string(), z.number().int().positive(), z.string()]));

export class JhmdbSentences {
  readonly annotationFile: string;
  readonly videos: ReadonlyMap<string, JhmdbVideo>;
  readonly expressions: readonly JhmdbExpression[];
  private lastMasks: PuppetMasks | null = null;

  private constructor(readonly root: string) {
    this.annotationFile = join(root, 'jhmdb_annotation.txt');
    const rows = parseCsv(readText(this.annotationFile, 'JHMDB jhmdb_annotation.txt (CSV with header video_id,query)'));
    const header = rows[0]?.fields.map((h) => h.trim()) ?? [];
    const iv = header.indexOf('video_id');
    const iq = header.indexOf('query');
    if (iv < 0 || iq < 0) {
      throw new FileFormatError(this.annotationFile, `expected a header row with columns video_id, query, found ${JSON.stringify(rows[0]?.fields ?? [])}`);
    }
    this.expressions = rows.slice(1).map(({ fields, line }) => {
      if (fields.length < header.length) throw new FileFormatError(this.annotationFile, `line ${line}: expected ${header.length} columns, found ${fields.length}`);
      return { videoId: fields[iv]!.trim(), query: iq === header.length - 1 ? fields.slice(iq).join(',') : fields[iq]! };
    });

    const framesRoot = join(root, 'Rename_Images');
    const masksRoot = join(root, 'puppet_mask');
    const frameDirs = new Map<string, { action: string; dir: string }>();
    for (const action of listDirectory(framesRoot, 'Rename_Images/<action>/<video>/ frame folders')) {
      const actionDir = join(framesRoot, action);
      if (!isDirectory(actionDir)) continue;
      for (const vid of listDirectory(actionDir, 'video frame folders')) frameDirs.set(vid, { action, dir: join(actionDir, vid) });
    }
    const maskFiles = new Map<string, string>();
    for (const action of listDirectory(masksRoot, 'puppet_mask/<action>/<video>/puppet_mask.mat')) {
      const actionDir = join(masksRoot, action);
      if (!isDirectory(actionDir)) continue;
      for (const vid of listDirectory(actionDir, 'video mask folders')) {
        const f = join(actionDir, vid, 'puppet_mask.mat');
        if (exists(f)) maskFiles.set(vid, f);
      }
    }
    const videos = new Map<string, JhmdbVideo>();
    for (const { videoId } of this.expressions) {
      if (videos.has(videoId)) continue;
      const frames = frameDirs.get(videoId);
      if (!frames) throw new FileFormatError(join(framesRoot, '<action>', videoId), `missing folder (frames of video ${videoId} named in ${this.annotationFile})`);
      const maskFile = maskFiles.get(videoId);
      if (!maskFile) {
        throw new FileFormatError(join(masksRoot, frames.action, videoId, 'puppet_mask.mat'), `missing file (puppet masks of video ${videoId} named in ${this.annotationFile})`);
      }
      const frameCount = listDirectory(frames.dir, `frames of video ${videoId}`).filter((f) => f.endsWith('.png')).length;
      videos.set(videoId, { id: videoId, action: frames.action, framesDir: frames.dir, maskFile, frameCount });
    }
    this.videos = videos;
  }

  static async open(root: string): Promise<JhmdbSentences> {
    return new JhmdbSentences(root);
  }

  video(videoId: string): JhmdbVideo {
    const v = this.videos.get(videoId);
    if (!v) throw new SocError(`video ${JSON.stringify(videoId)} is not in ${this.annotationFile}`);
    return v;
  }

  framePath(videoId: string, frameIdx: number): string {
    return join(this.video(videoId).framesDir, `${String(frameIdx).padStart(5, '0')}.png`);
  }

  loadFrame(videoId: string, frameIdx: number): Promise<RgbImage> {
    return loadRgbImage(this.framePath(videoId, frameIdx));
  }

  /** Reads `part_mask` of a video (the last one read is kept: samples come grouped by video). */
  async loadPuppetMasks(videoId: string): Promise<PuppetMasks> {
    const file = this.video(videoId).maskFile;
    if (this.lastMasks?.file !== file) this.lastMasks = await readPuppetMasks(file);
    return this.lastMasks;
  }

  /**
   * Reads the reference's samples metadata (`jhmdb_sentences_samples_metadata_new.json`), moving its
   * absolute paths under this root (everything from `Rename_Images/` or `puppet_mask/` on is kept).
   */
  readSamplesMetadata(file: string): JhmdbSample[] {
    const rows = readJsonAs(file, samplesMetadataSchema, 'a list of [video_id, frame png path, puppet_mask.mat path, total frames, query]');
    return rows.map(([videoId, framePath, maskPath, videoTotalFrames, query], i) => {
      const reroot = (p: string, marker: string) => {
        const k = p.lastIndexOf(`/${marker}/`);
        if (k < 0) throw new FileFormatError(file, `entry ${i}: path ${JSON.stringify(p)} has no /${marker}/ part to re-root`);
        return join(this.root, p.slice(k + 1));
      };
      const frameIdx = Number(basename(framePath).split('.')[0]);
      if (!Number.isInteger(frameIdx)) throw new FileFormatError(file, `entry ${i}: frame path ${JSON.stringify(framePath)} is not <frame:05d>.png`);
      return {
        videoId,
        frameIdx,
        framePath: reroot(framePath, 'Rename_Images'),
        maskPath: reroot(maskPath, 'puppet_mask'),
        videoTotalFrames,
        query,
      };
    });
  }

  /**
   * New samples by the reference's rule: per expression, `perVideo` distinct frames drawn with
   * `random` (values in [0, 1)) from the frames that have a mask, sorted.
   */
  async buildSamples(random: () => number, perVideo = 3): Promise<JhmdbSample[]> {
    const out: JhmdbSample[] = [];
    for (const { videoId, query } of this.expressions) {
      const v = this.video(videoId);
      const total = Math.min(v.frameCount, (await this.loadPuppetMasks(videoId)).numFrames);
      if (total < perVideo) throw new FileFormatError(v.framesDir, `video ${videoId} has ${total} frames with masks, fewer than ${perVideo}`);
      const pool = Array.from({ length: total }, (_, i) => i + 1);
      const chosen: number[] = [];
      for (let k = 0; k < perVideo; k++) chosen.push(pool.splice(Math.floor(random() * pool.length), 1)[0]!);
      for (const frameIdx of chosen.sort((a, b) => a - b)) {
        out.push({ videoId, frameIdx, framePath: this.framePath(videoId, frameIdx), maskPath: v.maskFile, videoTotalFrames: total, query });
      }
    }
    return out;
  }

  /** A sample's frame and mask, sizes checked against each other. */
  async loadSample(sample: JhmdbSample): Promise<{ image: RgbImage; mask: Mask }> {
    const masks = this.lastMasks?.file === sample.maskPath ? this.lastMasks : (this.lastMasks = await readPuppetMasks(sample.maskPath));
    const image = await loadRgbImage(sample.framePath);
    const mask = masks.frame(sample.frameIdx);
    checkSameSize(mask, image, sample.maskPath, sample.framePath);
    return { image, mask };
  }
}

/** Reads `part_mask` [H, W, frames] from a puppet_mask.mat (v5 or v7.3). */
export async function readPuppetMasks(file: string): Promise<PuppetMasks> {
  const what = 'a JHMDB puppet_mask.mat with variable part_mask [H, W, frames]';
  const { dims, data } = await readMatVariable(file, 'part_mask', what);
  // MATLAB drops a trailing singleton dimension, so a one-frame video is [H, W].
  if (dims.length !== 2 && dims.length !== 3) throw new FileFormatError(file, `part_mask has dimensions [${dims.join(', ')}], expected [H, W, frames]`);
  const [height, width] = dims as [number, number];
  const numFrames = dims[2] ?? 1;
  return {
    file,
    width,
    height,
    numFrames,
    frame(frameIdx: number): Mask {
      if (!Number.isInteger(frameIdx) || frameIdx < 1 || frameIdx > numFrames) {
        throw new FileFormatError(file, `part_mask has ${numFrames} frames, frame ${frameIdx} requested`);
      }
      const out = new Uint8Array(width * height);
      const base = (frameIdx - 1) * width * height;
      for (let x = 0; x < width; x++) {
        for (let y = 0; y < height; y++) out[y * width + x] = data[base + x * height + y]! > 0 ? 1 : 0;
      }
      return { width, height, data: out };
    },
  };
}
