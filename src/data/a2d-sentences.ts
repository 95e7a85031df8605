// A2D-Sentences, datasets.md §3:
//   <root>/Release/videoset.csv                          no header: vid, label, start_time, end_time,
//                                                        height, width, total_frames, annotated_frames, subset (0 train, 1 test)
//   <root>/Release/clips320H/<video>.mp4
//   <root>/text_annotations/a2d_annotation.txt           CSV with header video_id, instance_id, query
//   <root>/text_annotations/a2d_missed_videos.txt        one video id per line
//   <root>/text_annotations/a2d_annotation_with_instances/<video>/<frame:05d>.h5
//       instance [N] ids; reMask [N, W, H] (a single mask is stored [W, H]); reBBox [4, N] x1,y1,x2,y2
//   <root>/a2d_sentences_single_frame_{train,test}_annotations.json   sample cache (optional)
// Frame numbers are 1-based everywhere; frame k of the mp4 is decoded frame k - 1.

import { join } from 'node:path';
import { z } from 'zod';
import { FileFormatError, SocError } from '../errors.js';
import { parseCsv } from './csv.js';
import { exists, isDirectory, listDirectory, readJsonAs, readText } from './files.js';
import { readHdf5Dataset, withHdf5 } from './hdf5.js';
import type { Mask, RgbImage } from './types.js';
import { checkSameSize } from './video-dataset.js';
import { decodeVideoWithFfmpeg, type VideoDecoder } from './video.js';

export type A2dSubset = 'train' | 'test';

/** A row of videoset.csv. */
export interface A2dVideo {
  id: string;
  label: number;
  startTime: number;
  endTime: number;
  height: number;
  width: number;
  totalFrames: number;
  annotatedFrames: number;
  subset: A2dSubset;
}

/** A row of a2d_annotation.txt. `instanceId` stays a string: one row holds "1 (copy)". */
export interface A2dTextAnnotation {
  videoId: string;
  instanceId: string;
  query: string;
}

/** One training / test sample: an annotated frame in which the referred instance appears. */
export interface A2dSample {
  /** Lowercased query (whitespace is collapsed later, in the pipeline, as the reference does). */
  query: string;
  videoId: string;
  /** 1-based frame number (the .h5 file name). */
  frameIdx: number;
  instanceId: number;
}

/** The content of one `<frame:05d>.h5`. */
export interface A2dFrameAnnotation {
  file: string;
  frameIdx: number;
  width: number;
  height: number;
  /** Instance ids present in the frame, in file order. */
  instances: number[];
  /** One binary mask [H, W] per instance (reMask transposed). */
  masks: Mask[];
  /** reBBox as [x1, y1, x2, y2] per instance, or null when the file has no reBBox. */
  boxes: [number, number, number, number][] | null;
}

export interface A2dOptions {
  /** How to decode `clips320H/<video>.mp4`; default: the system ffmpeg. */
  decodeVideo?: VideoDecoder;
}

const samplesCacheSchema = z.array(z.tuple([z.string(), z.string(), z.number().int(), z.number().int()]));

export class A2dSentences {
  readonly videoSetFile: string;
  readonly textAnnotationsFile: string;
  readonly missedVideosFile: string;
  readonly annotationsDir: string;
  readonly clipsDir: string;

  readonly videos: ReadonlyMap<string, A2dVideo>;
  readonly missedVideos: ReadonlySet<string>;
  readonly textAnnotations: readonly A2dTextAnnotation[];
  /** 1-based line of each text annotation in a2d_annotation.txt (for error messages). */
  private readonly textLines: number[];
  private readonly decodeVideo: VideoDecoder;
  private instancesCache = new Map<string, Map<number, number[]>>();
  private lastVideo: { id: string; frames: RgbImage[] } | null = null;

  private constructor(
    readonly root: string,
    options: A2dOptions,
  ) {
    this.videoSetFile = join(root, 'Release', 'videoset.csv');
    this.textAnnotationsFile = join(root, 'text_annotations', 'a2d_annotation.txt');
    this.missedVideosFile = join(root, 'text_annotations', 'a2d_missed_videos.txt');
    this.annotationsDir = join(root, 'text_annotations', 'a2d_annotation_with_instances');
    this.clipsDir = join(root, 'Release', 'clips320H');
    this.decodeVideo = options.decodeVideo ?? decodeVideoWithFfmpeg;
    this.videos = readVideoSet(this.videoSetFile);
    this.missedVideos = new Set(
      readText(this.missedVideosFile, 'one video id per line')
        .split(/\r?\n/)
        .map((s) => s.trim())
        .filter((s) => s.length > 0),
    );
    const { annotations, lines } = readTextAnnotations(this.textAnnotationsFile);
    this.textAnnotations = annotations;
    this.textLines = lines;
    if (!isDirectory(this.annotationsDir)) throw new FileFormatError(this.annotationsDir, 'missing folder (per-frame .h5 instance masks)');
  }

  static async open(root: string, options: A2dOptions = {}): Promise<A2dSentences> {
    return new A2dSentences(root, options);
  }

  /** Videos of a subset that are not in a2d_missed_videos.txt, in videoset.csv order. */
  usedVideos(subset: A2dSubset): A2dVideo[] {
    return [...this.videos.values()].filter((v) => v.subset === subset && !this.missedVideos.has(v.id));
  }

  frameAnnotationPath(videoId: string, frameIdx: number): string {
    return join(this.annotationsDir, videoId, `${String(frameIdx).padStart(5, '0')}.h5`);
  }

  /** 1-based numbers of the annotated frames of a video (its .h5 files, sorted). */
  annotatedFrameIndices(videoId: string): number[] {
    const dir = join(this.annotationsDir, videoId);
    return listDirectory(dir, `the .h5 frame annotations of video ${videoId}`)
      .filter((f) => f.endsWith('.h5'))
      .map((f) => {
        const n = Number(f.slice(0, -3));
        if (!Number.isInteger(n)) throw new FileFormatError(join(dir, f), 'expected a name <frame:05d>.h5');
        return n;
      });
  }

  /** Reads one frame's instance ids, masks ([N, W, H] transposed to [H, W] each) and boxes. */
  async loadFrameAnnotation(videoId: string, frameIdx: number): Promise<A2dFrameAnnotation> {
    const file = this.frameAnnotationPath(videoId, frameIdx);
    const what = 'an A2D frame annotation with datasets instance, reMask, reBBox';
    return withHdf5(file, what, (f) => {
      const instances = Array.from(readHdf5Dataset(f, file, 'instance', what).value, (x) => {
        if (!Number.isInteger(x)) throw new FileFormatError(file, `dataset "instance" holds ${x}, expected integer instance ids`);
        return x;
      });
      const n = instances.length;
      const reMask = readHdf5Dataset(f, file, 'reMask', what);
      let shape = reMask.shape;
      if (shape.length === 2 && n === 1) shape = [1, shape[0]!, shape[1]!];
      if (shape.length !== 3 || shape[0] !== n) {
        throw new FileFormatError(file, `dataset "reMask" has shape [${reMask.shape.join(', ')}], expected [${n}, W, H] for ${n} instance(s)${n === 1 ? ' or [W, H]' : ''}`);
      }
      const [, width, height] = shape as [number, number, number];
      const masks: Mask[] = [];
      for (let i = 0; i < n; i++) {
        const data = new Uint8Array(width * height);
        const base = i * width * height;
        for (let x = 0; x < width; x++) {
          for (let y = 0; y < height; y++) data[y * width + x] = reMask.value[base + x * height + y]! > 0 ? 1 : 0;
        }
        masks.push({ width, height, data });
      }
      let boxes: A2dFrameAnnotation['boxes'] = null;
      if (f.keys().includes('reBBox')) {
        const bb = readHdf5Dataset(f, file, 'reBBox', what);
        if (bb.value.length !== 4 * n || bb.shape[0] !== 4) {
          throw new FileFormatError(file, `dataset "reBBox" has shape [${bb.shape.join(', ')}], expected [4, ${n}]`);
        }
        boxes = instances.map((_, i) => [0, 1, 2, 3].map((k) => bb.value[k * n + i]!) as [number, number, number, number]);
      }
      return { file, frameIdx, width, height, instances, masks, boxes };
    });
  }

  /** Instance ids present in each annotated frame of a video (cached). */
  async frameInstances(videoId: string): Promise<Map<number, number[]>> {
    let map = this.instancesCache.get(videoId);
    if (!map) {
      map = new Map();
      for (const frameIdx of this.annotatedFrameIndices(videoId)) {
        const file = this.frameAnnotationPath(videoId, frameIdx);
        const ids = await withHdf5(file, 'an A2D frame annotation with an "instance" dataset', (f) =>
          Array.from(readHdf5Dataset(f, file, 'instance', 'instance ids').value),
        );
        map.set(frameIdx, ids);
      }
      this.instancesCache.set(videoId, map);
    }
    return map;
  }

  /**
   * The samples of a subset by the reference's rule: every text annotation of a used video (except
   * instance "1 (copy)") × every annotated frame whose instance list holds its instance id.
   */
  async buildSamples(subset: A2dSubset): Promise<A2dSample[]> {
    const used = new Set(this.usedVideos(subset).map((v) => v.id));
    const samples: A2dSample[] = [];
    for (let i = 0; i < this.textAnnotations.length; i++) {
      const t = this.textAnnotations[i]!;
      if (!used.has(t.videoId) || t.instanceId === '1 (copy)') continue;
      if (!/^\d+$/.test(t.instanceId.trim())) {
        throw new FileFormatError(this.textAnnotationsFile, `line ${this.textLines[i]}: instance_id ${JSON.stringify(t.instanceId)} is not an integer`);
      }
      const instanceId = Number(t.instanceId);
      for (const [frameIdx, ids] of await this.frameInstances(t.videoId)) {
        if (ids.includes(instanceId)) samples.push({ query: t.query.toLowerCase(), videoId: t.videoId, frameIdx, instanceId });
      }
    }
    return samples;
  }

  samplesCachePath(subset: A2dSubset): string {
    return join(this.root, `a2d_sentences_single_frame_${subset}_annotations.json`);
  }

  /** The reference's sample cache when present, else the samples built from the annotations. */
  async samples(subset: A2dSubset): Promise<A2dSample[]> {
    const cache = this.samplesCachePath(subset);
    if (!exists(cache)) return this.buildSamples(subset);
    const rows = readJsonAs(cache, samplesCacheSchema, 'a list of [query, video_id, frame_idx, instance_id]');
    return rows.map(([query, videoId, frameIdx, instanceId]) => ({ query, videoId, frameIdx, instanceId }));
  }

  videoPath(videoId: string): string {
    return join(this.clipsDir, `${videoId}.mp4`);
  }

  /** All decoded frames of a clip (the last clip decoded is kept, since samples come grouped by video). */
  async loadVideo(videoId: string): Promise<RgbImage[]> {
    if (this.lastVideo?.id !== videoId) this.lastVideo = { id: videoId, frames: await this.decodeVideo(this.videoPath(videoId)) };
    return this.lastVideo.frames;
  }

  /** Frame `frameIdx` (1-based) of a clip. */
  async loadFrame(videoId: string, frameIdx: number): Promise<RgbImage> {
    const frames = await this.loadVideo(videoId);
    const frame = frames[frameIdx - 1];
    if (!frame) throw new FileFormatError(this.videoPath(videoId), `has ${frames.length} frames, frame ${frameIdx} requested`);
    return frame;
  }

  /** The binary mask of one instance in one annotated frame. */
  async loadInstanceMask(videoId: string, frameIdx: number, instanceId: number): Promise<Mask> {
    const ann = await this.loadFrameAnnotation(videoId, frameIdx);
    const i = ann.instances.indexOf(instanceId);
    if (i < 0) throw new SocError(`instance ${instanceId} is not in ${ann.file} (instances: ${ann.instances.join(', ')})`);
    return ann.masks[i]!;
  }

  /** A sample's frame and referred-instance mask, sizes checked against each other. */
  async loadSample(sample: A2dSample): Promise<{ image: RgbImage; mask: Mask; annotation: A2dFrameAnnotation }> {
    const annotation = await this.loadFrameAnnotation(sample.videoId, sample.frameIdx);
    const i = annotation.instances.indexOf(sample.instanceId);
    if (i < 0) throw new SocError(`instance ${sample.instanceId} is not in ${annotation.file} (instances: ${annotation.instances.join(', ')})`);
    const image = await this.loadFrame(sample.videoId, sample.frameIdx);
    const mask = annotation.masks[i]!;
    checkSameSize(mask, image, annotation.file, `${this.videoPath(sample.videoId)} frame ${sample.frameIdx}`);
    return { image, mask, annotation };
  }
}

function readVideoSet(file: string): Map<string, A2dVideo> {
  const rows = parseCsv(readText(file, 'A2D videoset.csv (9 columns, no header)'));
  const videos = new Map<string, A2dVideo>();
  for (const { fields, line } of rows) {
    if (fields.length !== 9) throw new FileFormatError(file, `line ${line}: expected 9 columns (vid, label, start_time, end_time, height, width, total_frames, annotated_frames, subset), found ${fields.length}`);
    const nums = fields.slice(1).map(Number);
    if (nums.some((x) => !Number.isFinite(x))) throw new FileFormatError(file, `line ${line}: expected numbers after the video id, found ${fields.slice(1).join(',')}`);
    const subset = nums[7] === 0 ? 'train' : nums[7] === 1 ? 'test' : null;
    if (!subset) throw new FileFormatError(file, `line ${line}: subset must be 0 (train) or 1 (test), found ${fields[8]}`);
    const [label, startTime, endTime, height, width, totalFrames, annotatedFrames] = nums as number[];
    const id = fields[0]!.trim();
    videos.set(id, { id, label: label!, startTime: startTime!, endTime: endTime!, height: height!, width: width!, totalFrames: totalFrames!, annotatedFrames: annotatedFrames!, subset });
  }
  return videos;
}

function readTextAnnotations(file: string): { annotations: A2dTextAnnotation[]; lines: number[] } {
  const rows = parseCsv(readText(file, 'A2D a2d_annotation.txt (CSV with header video_id,instance_id,query)'));
  const header = rows[0]?.fields.map((h) => h.trim()) ?? [];
  const col = (name: string) => header.indexOf(name);
  const [iv, ii, iq] = [col('video_id'), col('instance_id'), col('query')];
  if (iv < 0 || ii < 0 || iq < 0) {
    throw new FileFormatError(file, `expected a header row with columns video_id, instance_id, query, found ${JSON.stringify(rows[0]?.fields ?? [])}`);
  }
  const annotations: A2dTextAnnotation[] = [];
  const lines: number[] = [];
  for (const { fields, line } of rows.slice(1)) {
    if (fields.length < header.length) throw new FileFormatError(file, `line ${line}: expected ${header.length} columns, found ${fields.length}`);
    // an unquoted query containing commas spills into extra fields: rejoin them
    const query = iq === header.length - 1 ? fields.slice(iq).join(',') : fields[iq]!;
    annotations.push({ videoId: fields[iv]!.trim(), instanceId: fields[ii]!.trim(), query });
    lines.push(line);
  }
  return { annotations, lines };
}
