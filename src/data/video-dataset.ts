// The part Ref-YouTube-VOS, MeViS and Ref-DAVIS17 share: a split of videos with ordered frames
// (`<split>/JPEGImages/<video>/<frame>.jpg`) and referring expressions, plus a mask store that
// gives the ground truth of one or more objects in a frame (palette PNGs or COCO RLE).

import { join } from 'node:path';
import { FileFormatError, SocError } from '../errors.js';
import { listDirectory } from './files.js';
import { loadLabelPng, loadRgbImage } from './image.js';
import type { Clip, Mask, ReferringExpression, RgbImage, VideoRecord } from './types.js';

/** Where the ground-truth masks of a split come from. */
export interface MaskStore {
  /** The file that holds the masks of these objects in this frame (named in errors). */
  source(video: VideoRecord, frame: string): string;
  /** Binary mask: 1 where any of `objIds` is, else 0. */
  loadUnion(video: VideoRecord, frame: string, objIds: readonly number[]): Promise<Mask>;
}

/** Masks from palette PNGs `<dir>/<video>/<frame>.png` whose pixel value is `labelOf(objId)`. */
export class PngMaskStore implements MaskStore {
  constructor(
    readonly annotationsDir: string,
    readonly labelOf: (objId: number) => number,
  ) {}

  source(video: VideoRecord, frame: string): string {
    return join(this.annotationsDir, video.id, `${frame}.png`);
  }

  /** The raw label map of a frame (palette indices). */
  loadLabels(video: VideoRecord, frame: string): Mask {
    return loadLabelPng(this.source(video, frame));
  }

  async loadUnion(video: VideoRecord, frame: string, objIds: readonly number[]): Promise<Mask> {
    const labels = this.loadLabels(video, frame);
    const wanted = new Uint8Array(256);
    for (const id of objIds) {
      const label = this.labelOf(id);
      if (label >= 0 && label < 256) wanted[label] = 1;
    }
    const data = new Uint8Array(labels.data.length);
    for (let i = 0; i < data.length; i++) data[i] = wanted[labels.data[i]!]!;
    return { width: labels.width, height: labels.height, data };
  }
}

/** A split of a Ref-YouTube-VOS-style layout. */
export class VideoDataset {
  readonly videos: readonly VideoRecord[];
  private readonly byId: Map<string, VideoRecord>;

  /**
   * @param framesDir `<root>/<split>/JPEGImages`
   * @param masks null when the split has no ground truth
   * @param metaFile the expressions file the videos were read from (named in errors)
   */
  constructor(
    readonly root: string,
    readonly split: string,
    readonly framesDir: string,
    videos: VideoRecord[],
    readonly masks: MaskStore | null,
    readonly metaFile: string,
  ) {
    this.videos = videos;
    this.byId = new Map(videos.map((v) => [v.id, v]));
    const present = new Set(listDirectory(framesDir, `one folder of frames per video of ${metaFile}`));
    for (const v of videos) {
      if (!present.has(v.id)) {
        throw new FileFormatError(join(framesDir, v.id), `missing folder (frames of video ${v.id} listed in ${metaFile})`);
      }
    }
  }

  get hasMasks(): boolean {
    return this.masks !== null;
  }

  video(videoId: string): VideoRecord {
    const v = this.byId.get(videoId);
    if (!v) throw new SocError(`video ${JSON.stringify(videoId)} is not in ${this.metaFile}`);
    return v;
  }

  expression(videoId: string, expressionId: string): ReferringExpression {
    const e = this.video(videoId).expressions.find((x) => x.id === expressionId);
    if (!e) throw new SocError(`video ${videoId} has no expression ${JSON.stringify(expressionId)} in ${this.metaFile}`);
    return e;
  }

  framePath(videoId: string, frame: string): string {
    return join(this.framesDir, videoId, `${frame}.jpg`);
  }

  async loadFrame(videoId: string, frame: string): Promise<RgbImage> {
    this.video(videoId);
    return loadRgbImage(this.framePath(videoId, frame));
  }

  private requireMasks(): MaskStore {
    if (!this.masks) throw new SocError(`split ${this.split} of ${this.root} has no ground-truth masks`);
    return this.masks;
  }

  /** Binary mask of one object in one frame. */
  async loadObjectMask(videoId: string, frame: string, objId: number): Promise<Mask> {
    return this.requireMasks().loadUnion(this.video(videoId), frame, [objId]);
  }

  /** Binary mask of what an expression refers to in one frame (the union over its objects, as MeViS trains). */
  async loadExpressionMask(videoId: string, expressionId: string, frame: string): Promise<Mask> {
    const store = this.requireMasks();
    const exp = this.expression(videoId, expressionId);
    if (!exp.objIds) throw new SocError(`expression ${expressionId} of video ${videoId} has no object ids in ${this.metaFile}`);
    return store.loadUnion(this.video(videoId), frame, exp.objIds);
  }

  /**
   * Frames and ground truth of one expression (all frames of the video unless `frames` is given);
   * throws when a mask's size differs from its frame's.
   */
  async loadClip(videoId: string, expressionId: string, frames?: readonly string[]): Promise<Clip> {
    const store = this.requireMasks();
    const video = this.video(videoId);
    const names = frames ? [...frames] : video.frames;
    const settled = await Promise.allSettled(
      names.map(async (f) => {
        const [image, mask] = await Promise.all([this.loadFrame(videoId, f), this.loadExpressionMask(videoId, expressionId, f)]);
        checkSameSize(mask, image, store.source(video, f), this.framePath(videoId, f));
        return { image, mask };
      }),
    );
    // report the first failing frame in frame order, whichever finished first
    const failed = settled.find((r) => r.status === 'rejected');
    if (failed) throw failed.reason;
    const pairs = settled.map((r) => (r as PromiseFulfilledResult<{ image: RgbImage; mask: Mask }>).value);
    return {
      videoId,
      expressionId,
      frames: names,
      images: pairs.map((p) => p.image),
      masks: pairs.map((p) => p.mask),
    };
  }
}

/** Throws unless every video has a folder in `dir` (annotation PNGs). */
export function checkVideoFolders(dir: string, videos: readonly VideoRecord[], metaFile: string, what: string): void {
  const present = new Set(listDirectory(dir, what));
  for (const v of videos) {
    if (!present.has(v.id)) throw new FileFormatError(join(dir, v.id), `missing folder (${what} of video ${v.id} listed in ${metaFile})`);
  }
}

/** Throws a FileFormatError naming the mask's file when a mask and its frame differ in size. */
export function checkSameSize(mask: Mask, image: RgbImage, maskFile: string, imageFile: string): void {
  if (mask.width !== image.width || mask.height !== image.height) {
    throw new FileFormatError(
      maskFile,
      `mask is ${mask.height}x${mask.width} (HxW) but its frame ${imageFile} is ${image.height}x${image.width}`,
    );
  }
}
