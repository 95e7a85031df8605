// Ref-YouTube-VOS (the 2021 competition release), datasets.md §1:
//   <root>/<split>/JPEGImages/<video>/<frame>.jpg
//   <root>/<split>/Annotations/<video>/<frame>.png    (train; pixel = object id, 0 = background)
//   <root>/<split>/meta.json                          (train; object categories, optional here)
//   <root>/meta_expressions/<split>/meta_expressions.json
// The reference asserts exact video counts (3471 train, 202 valid); this reader does not, so
// subsets and synthetic data in the same layout load too.

import { join } from 'node:path';
import { z } from 'zod';
import { FileFormatError } from '../errors.js';
import { exists, isDirectory, readJsonAs } from './files.js';
import { readYtvosMeta } from './meta-expressions.js';
import type { Mask, VideoRecord } from './types.js';
import { checkVideoFolders, PngMaskStore, VideoDataset } from './video-dataset.js';

export interface RefYoutubeVosOptions {
  /**
   * For split `valid`: drop the videos of `meta_expressions/test/meta_expressions.json` (the
   * competition's valid file lists valid + test, 507 videos; 202 remain). Default: when that file exists.
   */
  subtractTestVideos?: boolean;
}

const ytvosObjectsSchema = z.object({
  videos: z.record(
    z.string(),
    z.object({ objects: z.record(z.string(), z.object({ category: z.string() }).loose()) }).loose(),
  ),
});

/** The 65 Ref-YouTube-VOS categories in the reference's index order (labels are unused with one class). */
export const YTVOS_CATEGORIES = [
  'airplane', 'ape', 'bear', 'bike', 'bird', 'boat', 'bucket', 'bus', 'camel', 'cat', 'cow', 'crocodile', 'deer',
  'dog', 'dolphin', 'duck', 'eagle', 'earless_seal', 'elephant', 'fish', 'fox', 'frisbee', 'frog', 'giant_panda',
  'giraffe', 'hand', 'hat', 'hedgehog', 'horse', 'knife', 'leopard', 'lion', 'lizard', 'monkey', 'motorbike',
  'mouse', 'others', 'owl', 'paddle', 'parachute', 'parrot', 'penguin', 'person', 'plant', 'rabbit', 'raccoon',
  'sedan', 'shark', 'sheep', 'sign', 'skateboard', 'snail', 'snake', 'snowboard', 'squirrel', 'surfboard',
  'tennis_racket', 'tiger', 'toilet', 'train', 'truck', 'turtle', 'umbrella', 'whale', 'zebra',
] as const;

export class RefYoutubeVos extends VideoDataset {
  private categoriesByVideo: Map<string, Map<number, string>> | null = null;

  /** `<root>/<split>/meta.json` when present (train). */
  readonly objectsFile: string;

  declare readonly masks: PngMaskStore | null;

  private constructor(root: string, split: string, videos: VideoRecord[], masks: PngMaskStore | null, metaFile: string) {
    super(root, split, join(root, split, 'JPEGImages'), videos, masks, metaFile);
    this.objectsFile = join(root, split, 'meta.json');
  }

  /** Opens one split (`train`, `valid`, `test`, …). Ground truth is available when `<split>/Annotations` exists. */
  static async open(root: string, split = 'train', options: RefYoutubeVosOptions = {}): Promise<RefYoutubeVos> {
    const metaFile = join(root, 'meta_expressions', split, 'meta_expressions.json');
    let videos = readYtvosMeta(metaFile);
    if (split === 'valid') {
      const testFile = join(root, 'meta_expressions', 'test', 'meta_expressions.json');
      const subtract = options.subtractTestVideos ?? exists(testFile);
      if (subtract) {
        const testIds = new Set(readYtvosMeta(testFile).map((v) => v.id));
        videos = videos.filter((v) => !testIds.has(v.id));
      }
    }
    const annotationsDir = join(root, split, 'Annotations');
    const masks = isDirectory(annotationsDir) ? new PngMaskStore(annotationsDir, (id) => id) : null;
    const ds = new RefYoutubeVos(root, split, videos, masks, metaFile);
    if (masks) checkVideoFolders(annotationsDir, videos, metaFile, 'annotation PNGs');
    return ds;
  }

  /** The raw label map of a frame (pixel = object id). */
  loadAnnotation(videoId: string, frame: string): Mask {
    if (!this.masks) throw new FileFormatError(join(this.root, this.split, 'Annotations'), 'missing folder (annotation PNGs)');
    return this.masks.loadLabels(this.video(videoId), frame);
  }

  /** Object id → category name from `<split>/meta.json`, or null when that file is absent. */
  categories(videoId: string): Map<number, string> | null {
    if (!this.categoriesByVideo) {
      if (!exists(this.objectsFile)) return null;
      const meta = readJsonAs(this.objectsFile, ytvosObjectsSchema, 'a Ref-YouTube-VOS meta.json ({"videos": {video: {"objects": ...}}})');
      this.categoriesByVideo = new Map(
        Object.entries(meta.videos).map(([vid, v]) => [vid, new Map(Object.entries(v.objects).map(([id, o]) => [Number(id), o.category]))]),
      );
    }
    return this.categoriesByVideo.get(this.video(videoId).id) ?? new Map();
  }
}
