// MeViS, datasets.md §2, in either of its two layouts:
//  * the official release: `<root>/<split>/{JPEGImages, meta_expressions.json, mask_dict.json}`
//    (mask_dict.json: {"<anno_id>": [COCO RLE or null per frame of the sorted frame list]}; the
//    `valid` split has no mask_dict.json, `valid_u` has one);
//  * SOC++'s processed form: `<root>/meta_expressions/<split>/meta_expressions.json` and palette
//    PNGs `<root>/<split>/Annotations/<video>/<frame>.png` with pixel = obj_id + 1.
// Expressions may refer to several objects; their ground truth is the union of those objects.

import { join } from 'node:path';
import { FileFormatError, SocError } from '../errors.js';
import { exists, isDirectory, readJson } from './files.js';
import { readImageSize } from './image.js';
import { readMevisMeta, type MevisExpression, type MevisVideoRecord } from './meta-expressions.js';
import { decodeRle, type CocoRle } from './rle.js';
import type { Mask, VideoRecord } from './types.js';
import { checkVideoFolders, PngMaskStore, VideoDataset, type MaskStore } from './video-dataset.js';

export type MevisMaskSource = 'rle' | 'png' | 'none';

export interface MevisOptions {
  /**
   * Ground truth to use. `auto` (default): `<split>/mask_dict.json` if present, else
   * `<split>/Annotations/`, else none (the official `valid` split).
   */
  masks?: 'auto' | MevisMaskSource;
}

/** Masks from the official `mask_dict.json`, loaded (it is large) on first use. */
export class RleMaskStore implements MaskStore {
  private dict: Record<string, unknown> | null = null;

  /**
   * @param annoIdOf per video, object id → anno_id, from the expressions
   * @param framePath where a frame's JPEG is (its size is needed when every referred object is absent)
   */
  constructor(
    readonly maskDictFile: string,
    private readonly annoIdOf: Map<string, Map<number, number>>,
    private readonly framePath: (video: VideoRecord, frame: string) => string,
  ) {}

  source(): string {
    return this.maskDictFile;
  }

  private entries(): Record<string, unknown> {
    if (!this.dict) {
      const value = readJson(this.maskDictFile, 'the MeViS mask_dict.json ({"<anno_id>": [RLE or null per frame]})');
      if (typeof value !== 'object' || value === null || Array.isArray(value)) {
        throw new FileFormatError(this.maskDictFile, 'expected an object {"<anno_id>": [RLE or null per frame]}');
      }
      this.dict = value as Record<string, unknown>;
    }
    return this.dict;
  }

  /** The RLE of one annotation in one frame (null when the object is absent there). */
  rleOf(video: VideoRecord, annoId: number, frame: string): CocoRle | null {
    const where = `anno_id ${annoId} (video ${video.id})`;
    const list = this.entries()[String(annoId)];
    if (list === undefined) throw new FileFormatError(this.maskDictFile, `missing key "${annoId}" for ${where}`);
    if (!Array.isArray(list) || list.length !== video.frames.length) {
      throw new FileFormatError(
        this.maskDictFile,
        `expected "${annoId}" to be a list of ${video.frames.length} entries (one per frame of ${where}), found ${Array.isArray(list) ? list.length : typeof list}`,
      );
    }
    const index = video.frames.indexOf(frame);
    if (index < 0) throw new SocError(`frame ${frame} is not a frame of video ${video.id}`);
    const rle = list[index] as unknown;
    if (rle === null) return null;
    const r = rle as Partial<CocoRle>;
    const sizeOk = Array.isArray(r.size) && r.size.length === 2 && r.size.every((n) => Number.isInteger(n) && n > 0);
    const countsOk = typeof r.counts === 'string' || Array.isArray(r.counts);
    if (!sizeOk || !countsOk) {
      throw new FileFormatError(this.maskDictFile, `expected a COCO RLE {"size": [h, w], "counts": ...} or null at "${annoId}"[${index}] (${where}, frame ${frame})`);
    }
    return r as CocoRle;
  }

  async loadUnion(video: VideoRecord, frame: string, objIds: readonly number[]): Promise<Mask> {
    const byObj = this.annoIdOf.get(video.id);
    let union: Mask | null = null;
    for (const objId of objIds) {
      const annoId = byObj?.get(objId);
      if (annoId === undefined) throw new SocError(`object ${objId} of video ${video.id} has no anno_id in the expressions`);
      const rle = this.rleOf(video, annoId, frame);
      if (!rle) continue;
      let mask: Mask;
      try {
        mask = decodeRle(rle);
      } catch (e) {
        throw new FileFormatError(this.maskDictFile, `bad RLE for anno_id ${annoId}, video ${video.id}, frame ${frame}: ${(e as Error).message}`);
      }
      if (!union) {
        union = mask;
      } else {
        if (mask.width !== union.width || mask.height !== union.height) {
          throw new FileFormatError(
            this.maskDictFile,
            `RLE sizes differ within video ${video.id}, frame ${frame}: ${union.height}x${union.width} vs ${mask.height}x${mask.width} (anno_id ${annoId})`,
          );
        }
        for (let i = 0; i < mask.data.length; i++) union.data[i]! |= mask.data[i]!;
      }
    }
    if (union) return union;
    const { width, height } = await readImageSize(this.framePath(video, frame));
    return { width, height, data: new Uint8Array(width * height) };
  }
}

export class Mevis extends VideoDataset {
  declare readonly videos: readonly MevisVideoRecord[];
  declare readonly masks: PngMaskStore | RleMaskStore | null;

  private constructor(
    root: string,
    split: string,
    videos: MevisVideoRecord[],
    masks: PngMaskStore | RleMaskStore | null,
    metaFile: string,
    readonly maskSource: MevisMaskSource,
  ) {
    super(root, split, join(root, split, 'JPEGImages'), videos, masks, metaFile);
  }

  static async open(root: string, split = 'train', options: MevisOptions = {}): Promise<Mevis> {
    const processedMeta = join(root, 'meta_expressions', split, 'meta_expressions.json');
    const officialMeta = join(root, split, 'meta_expressions.json');
    const maskDictFile = join(root, split, 'mask_dict.json');
    const annotationsDir = join(root, split, 'Annotations');

    let source: MevisMaskSource;
    const wanted = options.masks ?? 'auto';
    if (wanted === 'auto') source = exists(maskDictFile) ? 'rle' : isDirectory(annotationsDir) ? 'png' : 'none';
    else source = wanted;

    // mask_dict.json keys are the official file's anno_ids, so RLE masks pair with that file.
    const candidates = source === 'rle' ? [officialMeta, processedMeta] : [processedMeta, officialMeta];
    const metaFile = candidates.find(exists);
    if (!metaFile) throw new FileFormatError(candidates[0]!, `missing file (MeViS expressions; also looked for ${candidates[1]})`);
    const videos = readMevisMeta(metaFile);

    let masks: PngMaskStore | RleMaskStore | null = null;
    if (source === 'png') {
      if (!isDirectory(annotationsDir)) throw new FileFormatError(annotationsDir, 'missing folder (annotation PNGs, pixel = obj_id + 1)');
      masks = new PngMaskStore(annotationsDir, (id) => id + 1);
    } else if (source === 'rle') {
      if (!exists(maskDictFile)) throw new FileFormatError(maskDictFile, 'missing file (MeViS RLE masks {"<anno_id>": [RLE or null per frame]})');
      masks = new RleMaskStore(maskDictFile, annoIdsByObject(videos, metaFile), (v, f) => join(root, split, 'JPEGImages', v.id, `${f}.jpg`));
    }
    const ds = new Mevis(root, split, videos, masks, metaFile, source);
    if (source === 'png') checkVideoFolders(annotationsDir, videos, metaFile, 'annotation PNGs (pixel = obj_id + 1)');
    return ds;
  }

  override expression(videoId: string, expressionId: string): MevisExpression {
    return super.expression(videoId, expressionId) as MevisExpression;
  }

  /** The raw label map of a frame (pixel = obj_id + 1); only for the PNG form. */
  loadAnnotation(videoId: string, frame: string): Mask {
    if (!(this.masks instanceof PngMaskStore)) throw new SocError(`MeViS split ${this.split} has no annotation PNGs (mask source: ${this.maskSource})`);
    return this.masks.loadLabels(this.video(videoId), frame);
  }
}

/** Per video, object id → anno_id from the expressions' parallel lists; they must agree. */
function annoIdsByObject(videos: readonly MevisVideoRecord[], metaFile: string): Map<string, Map<number, number>> {
  const out = new Map<string, Map<number, number>>();
  for (const v of videos) {
    const map = new Map<number, number>();
    for (const e of v.expressions) {
      const where = `videos.${v.id}.expressions.${e.id}`;
      if (!e.objIds || !e.annoIds) throw new FileFormatError(metaFile, `expected obj_id and anno_id lists at ${where} (needed to read mask_dict.json)`);
      if (e.annoIds.length !== e.objIds.length) {
        throw new FileFormatError(metaFile, `expected obj_id and anno_id lists of equal length at ${where}, found ${e.objIds.length} and ${e.annoIds.length}`);
      }
      e.objIds.forEach((obj, i) => {
        const anno = e.annoIds![i]!;
        const known = map.get(obj);
        if (known !== undefined && known !== anno) {
          throw new FileFormatError(metaFile, `object ${obj} of video ${v.id} has two anno_ids (${known} and ${anno}); at ${where}`);
        }
        map.set(obj, anno);
      });
    }
    out.set(v.id, map);
  }
  return out;
}
