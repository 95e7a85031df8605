// Ref-DAVIS17, datasets.md §5, in either layout:
//  * converted (what `convert_davis_to_ytbs.py` produces): `<root>/<split>/{JPEGImages, Annotations}`,
//    `<root>/meta_expressions/<split>/meta_expressions.json`, `<root>/<split>/meta.json`;
//  * raw (the downloads, nothing moved): `<root>/DAVIS/{JPEGImages,Annotations_unsupervised}/480p/<video>`,
//    `<root>/DAVIS/ImageSets/2017/{train,val}.txt`, `<root>/davis_text_annotations/Davis17_annot{1,2}[_full_video].txt`.
// From the raw layout the expressions are built by the converter's rule, so both give the same records.
// Annotation pixels are object ids (1..n); 255 marks void in Annotations_unsupervised.

import { join } from 'node:path';
import { z } from 'zod';
import { FileFormatError, SocError } from '../errors.js';
import { byCodePoint, exists, isDirectory, listDirectory, readJsonAs, readText } from './files.js';
import { readYtvosMeta } from './meta-expressions.js';
import type { Mask, ReferringExpression, VideoRecord } from './types.js';
import { checkVideoFolders, PngMaskStore, VideoDataset } from './video-dataset.js';

export type RefDavisLayout = 'converted' | 'raw';

export interface RefDavisOptions {
  /** Default `auto`: converted when `meta_expressions/<split>/meta_expressions.json` exists, else raw. */
  layout?: 'auto' | RefDavisLayout;
}

/** The four expression sets per object, in the order of their expression ids 4k … 4k+3. */
export const DAVIS_ANNOTATION_SETS = ['annot1 first-frame', 'annot1 full-video', 'annot2 first-frame', 'annot2 full-video'] as const;

export interface DavisExpression extends ReferringExpression {
  /** Index k of the object in the video's sorted object list (expression id = 4k + annotationSet). */
  objectIndex: number;
  /** 0..3, see DAVIS_ANNOTATION_SETS (`anno_{i}` output folders of infer_davis.py). */
  annotationSet: number;
}

const TEXT_FILES = [
  { file: 'Davis17_annot1.txt', encoding: 'utf8' },
  { file: 'Davis17_annot1_full_video.txt', encoding: 'utf8' },
  { file: 'Davis17_annot2.txt', encoding: 'latin1' },
  { file: 'Davis17_annot2_full_video.txt', encoding: 'latin1' },
] as const;

const VIDEO_NAME_FIXES: Record<string, string> = { 'clasic-car': 'classic-car', 'dog-scale': 'dogs-scale', 'motor-bike': 'motorbike' };

const semanticsSchema = z.record(z.string(), z.record(z.string(), z.string()));

export class RefDavis17 extends VideoDataset {
  declare readonly videos: readonly (VideoRecord & { expressions: DavisExpression[] })[];
  declare readonly masks: PngMaskStore | null;

  private constructor(
    root: string,
    split: string,
    framesDir: string,
    videos: VideoRecord[],
    masks: PngMaskStore | null,
    metaFile: string,
    readonly layout: RefDavisLayout,
    private readonly categoriesFile: string,
  ) {
    super(root, split, framesDir, videos, masks, metaFile);
  }

  /** `split` is `train` or `valid` (the raw layout's `val.txt`). */
  static async open(root: string, split: 'train' | 'valid' = 'valid', options: RefDavisOptions = {}): Promise<RefDavis17> {
    const convertedMeta = join(root, 'meta_expressions', split, 'meta_expressions.json');
    let layout = options.layout ?? 'auto';
    if (layout === 'auto') {
      if (exists(convertedMeta)) layout = 'converted';
      else if (isDirectory(join(root, 'DAVIS'))) layout = 'raw';
      else throw new FileFormatError(convertedMeta, `missing file (Ref-DAVIS17 converted layout; no raw layout at ${join(root, 'DAVIS')} either)`);
    }
    if (layout === 'converted') {
      const videos = withDavisIndices(readYtvosMeta(convertedMeta));
      const annotationsDir = join(root, split, 'Annotations');
      const masks = isDirectory(annotationsDir) ? new PngMaskStore(annotationsDir, (id) => id) : null;
      const ds = new RefDavis17(root, split, join(root, split, 'JPEGImages'), videos, masks, convertedMeta, 'converted', join(root, split, 'meta.json'));
      if (masks) checkVideoFolders(annotationsDir, videos, convertedMeta, 'annotation PNGs');
      return ds;
    }

    const davis = join(root, 'DAVIS');
    const setFile = join(davis, 'ImageSets', '2017', split === 'valid' ? 'val.txt' : 'train.txt');
    const names = readText(setFile, 'one DAVIS video name per line')
      .split(/\r?\n/)
      .map((s) => s.trim())
      .filter((s) => s.length > 0);
    const framesDir = join(davis, 'JPEGImages', '480p');
    const annotationsDir = join(davis, 'Annotations_unsupervised', '480p');
    const textDir = join(root, 'davis_text_annotations');
    const lists = TEXT_FILES.map(({ file, encoding }) => readDavisTextAnnotations(join(textDir, file), encoding));
    const videos: VideoRecord[] = names.map((name) => {
      const frames = listDirectory(join(framesDir, name), `JPEG frames of DAVIS video ${name}`)
        .filter((f) => f.endsWith('.jpg'))
        .map((f) => f.split('.')[0]!);
      const perSet = lists.map((l) => l.get(name) ?? []);
      const n = Math.min(...perSet.map((l) => l.length));
      const expressions: ReferringExpression[] = [];
      for (let k = 0; k < n; k++) {
        for (let j = 0; j < 4; j++) {
          const e = perSet[j]![k]!;
          expressions.push({ id: String(4 * k + j), text: e.exp, objIds: [Number(e.objId)] });
        }
      }
      return { id: name, frames: frames.sort(byCodePoint), expressions };
    });
    const masks = isDirectory(annotationsDir) ? new PngMaskStore(annotationsDir, (id) => id) : null;
    const ds = new RefDavis17(root, split, framesDir, withDavisIndices(videos), masks, setFile, 'raw', join(davis, 'davis_semantics.json'));
    if (masks) checkVideoFolders(annotationsDir, videos, setFile, 'annotation PNGs');
    return ds;
  }

  override expression(videoId: string, expressionId: string): DavisExpression {
    return super.expression(videoId, expressionId) as DavisExpression;
  }

  /** The raw label map of a frame (object ids, 255 = void). */
  loadAnnotation(videoId: string, frame: string): Mask {
    if (!this.masks) throw new SocError(`Ref-DAVIS17 split ${this.split} of ${this.root} has no annotation PNGs`);
    return this.masks.loadLabels(this.video(videoId), frame);
  }

  /** Object id → category (converted: `<split>/meta.json`; raw: `DAVIS/davis_semantics.json`), or null when absent. */
  categories(videoId: string): Map<number, string> | null {
    if (!exists(this.categoriesFile)) return null;
    this.video(videoId);
    if (this.layout === 'raw') {
      const sem = readJsonAs(this.categoriesFile, semanticsSchema, 'davis_semantics.json ({video: {"1": category, …}})');
      return new Map(Object.entries(sem[videoId] ?? {}).map(([id, c]) => [Number(id), c]));
    }
    const meta = readJsonAs(
      this.categoriesFile,
      z.object({ videos: z.record(z.string(), z.object({ objects: z.record(z.string(), z.object({ category: z.string() })) })) }),
      'a meta.json ({"videos": {video: {"objects": {"1": {"category": …}}}}})',
    );
    return new Map(Object.entries(meta.videos[videoId]?.objects ?? {}).map(([id, o]) => [Number(id), o.category]));
  }
}

function withDavisIndices(videos: VideoRecord[]): (VideoRecord & { expressions: DavisExpression[] })[] {
  return videos.map((v) => ({
    ...v,
    expressions: v.expressions.map((e) => {
      const i = Number(e.id);
      return { ...e, objectIndex: Math.floor(i / 4), annotationSet: i % 4 };
    }),
  }));
}

/**
 * Parses a DAVIS text annotation file: lines `<video> <obj_id> "<expression>"`; per video the
 * entries sorted by obj_id as a string (stable), video-name typos corrected as the converter does.
 */
export function readDavisTextAnnotations(file: string, encoding: BufferEncoding): Map<string, { objId: string; exp: string }[]> {
  const out = new Map<string, { objId: string; exp: string }[]>();
  readText(file, 'DAVIS text annotations, lines `<video> <obj_id> "<expression>"`', encoding)
    .split(/\r?\n/)
    .forEach((raw, lineIndex) => {
      const tokens = raw.trim().split(/\s+/).filter((t) => t.length > 0);
      if (tokens.length === 0) return;
      if (tokens.length < 3 || !/^\d+$/.test(tokens[1]!)) {
        throw new FileFormatError(file, `line ${lineIndex + 1}: expected \`<video> <obj_id> "<expression>"\`, found ${JSON.stringify(raw)}`);
      }
      const video = VIDEO_NAME_FIXES[tokens[0]!] ?? tokens[0]!;
      // the rest joined by single spaces, minus its first and last character (the quotes)
      const exp = tokens.slice(2).join(' ').slice(1, -1);
      const list = out.get(video) ?? [];
      list.push({ objId: tokens[1]!, exp });
      out.set(video, list);
    });
  for (const list of out.values()) list.sort((a, b) => byCodePoint(a.objId, b.objId));
  return out;
}
