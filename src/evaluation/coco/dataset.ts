// COCO ground-truth files and result lists: their JSON shapes, validation with errors that name the
// file and the entry, and the preparation pycocotools does before evaluating (COCO.createIndex,
// COCO.loadRes, COCOeval._prepare / annToRLE).

import { FileFormatError } from '../../errors.js';
import { compareIds } from '../numeric.js';
import {
  type Bbox,
  type CompressedRle,
  type Rle,
  type UncompressedRle,
  RleError,
  area as rleArea,
  countsFromString,
  coveredPixels,
  frPyObjects,
  merge,
  toBbox,
} from './rle.js';

/** Image ids are integers or strings (A2D-Sentences uses strings like `v_<video>_f_<frame>_i_<n>`). */
export type ImageId = number | string;
/** Category ids are integers (strings are accepted and ordered like Python does). */
export type CategoryId = number | string;

/** A polygon segmentation: one or more [x0, y0, x1, y1, ...] outlines. */
export type Polygons = number[][];
export type Segmentation = CompressedRle | UncompressedRle | Polygons;

/** A ground-truth file (`instances_*.json` layout). Extra fields are allowed and ignored. */
export interface CocoDataset {
  images: { id: ImageId; height?: number; width?: number; [key: string]: unknown }[];
  annotations: CocoAnnotation[];
  categories: { id: CategoryId; name?: string; [key: string]: unknown }[];
  [key: string]: unknown;
}

export interface CocoAnnotation {
  id: number;
  image_id: ImageId;
  category_id: CategoryId;
  segmentation?: Segmentation;
  /** Decides the area range (small/medium/large) of the annotation; not recomputed from the mask. */
  area: number;
  bbox?: number[];
  iscrowd?: number | boolean;
  [key: string]: unknown;
}

/** One entry of a results file. `segmentation` for `segm`, `bbox` for `bbox` evaluation. */
export interface CocoResult {
  image_id: ImageId;
  category_id: CategoryId;
  score: number;
  segmentation?: Segmentation;
  bbox?: number[];
  [key: string]: unknown;
}

export type IouType = 'segm' | 'bbox';

export interface ImageInfo {
  id: ImageId;
  height: number;
  width: number;
}

/** A ground-truth annotation as COCOeval sees it after `_prepare`. */
export interface GtInstance {
  id: number;
  imageId: ImageId;
  categoryId: CategoryId;
  area: number;
  /** iscrowd as 0/1; COCOeval's `ignore` flag is the same value (`_prepare` overwrites any `ignore` field). */
  iscrowd: number;
  /** Mask (segm) or box (bbox) used for the IoU. */
  rle?: Rle;
  bbox?: Bbox;
  /** `toBbox(rle)` (segm), which the mask IoU tests first. */
  rleBox?: Bbox;
}

/** A detection as COCOeval sees it after `loadRes`. */
export interface DtInstance {
  /** 1-based position in the results list (loadRes numbering). */
  id: number;
  imageId: ImageId;
  categoryId: CategoryId;
  score: number;
  /** Mask area (segmentation results) or box area (results with a bbox). */
  area: number;
  rle?: Rle;
  /** The result's `bbox`, or `toBbox` of its mask when it has none (loadRes). */
  bbox?: Bbox;
  /** `toBbox(rle)` (segm), which the mask IoU tests first. */
  rleBox?: Bbox;
}

export interface PreparedGroundTruth {
  /** Image sizes by id, in file order. */
  images: Map<ImageId, ImageInfo>;
  categories: { id: CategoryId; name: string }[];
  annotations: GtInstance[];
  /** Non-fatal observations (ignored annotations, ...). */
  warnings: string[];
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isId = (v: unknown): v is number | string => (typeof v === 'number' && Number.isFinite(v)) || typeof v === 'string';
const describe = (v: unknown): string => {
  const s = JSON.stringify(v);
  return s === undefined ? String(v) : s.length > 60 ? `${s.slice(0, 60)}…` : s;
};

/** Sorts ids as Python's `sorted` + `np.unique` do, with a clear error when kinds are mixed. */
export function sortIds<T extends ImageId>(ids: Iterable<T>, source: string, what: string): T[] {
  const list = [...new Set(ids)];
  try {
    return list.sort(compareIds);
  } catch {
    throw new FileFormatError(source, `${what} mix numbers and strings, which cannot be ordered (pycocotools would fail in sorted())`);
  }
}

function checkBbox(v: unknown, source: string, where: string): Bbox {
  if (!Array.isArray(v) || v.length !== 4 || !v.every((x) => typeof x === 'number' && Number.isFinite(x))) {
    throw new FileFormatError(source, `${where}.bbox must be [x, y, width, height] (4 numbers), got ${describe(v)}`);
  }
  return [v[0], v[1], v[2], v[3]];
}

function checkSize(v: unknown, source: string, where: string): [number, number] {
  if (!Array.isArray(v) || v.length !== 2 || !v.every((x) => Number.isInteger(x) && x >= 0)) {
    throw new FileFormatError(source, `${where}.segmentation.size must be [height, width], got ${describe(v)}`);
  }
  return [v[0], v[1]];
}

/**
 * The RLE of a segmentation (COCO.annToRLE): compressed RLE as is, uncompressed RLE converted
 * (keeping its own size), polygons rasterised at the image size and merged. RLE sizes must equal
 * the image's and the runs must cover it exactly.
 */
export function segmentationToRle(
  seg: unknown,
  image: { id: ImageId; height: number; width: number },
  source: string,
  where: string,
): Rle {
  let rle: Rle;
  try {
    if (Array.isArray(seg)) {
      if (seg.length === 0 || !seg.every((p) => Array.isArray(p) && p.every((x) => typeof x === 'number' && Number.isFinite(x)))) {
        throw new FileFormatError(source, `${where}.segmentation must be an RLE object or a list of polygons [[x0, y0, x1, y1, ...], ...], got ${describe(seg)}`);
      }
      const parts = frPyObjects(seg as number[][], image.height, image.width) as Rle[];
      rle = merge(parts);
    } else if (isObject(seg) && 'counts' in seg && 'size' in seg) {
      const [h, w] = checkSize(seg.size, source, where);
      if (typeof seg.counts === 'string') {
        rle = { height: h, width: w, counts: countsFromString(seg.counts) };
      } else if (Array.isArray(seg.counts) && seg.counts.every((c) => Number.isInteger(c) && c >= 0 && c <= 0xffffffff)) {
        rle = { height: h, width: w, counts: Uint32Array.from(seg.counts as number[]) };
      } else {
        throw new FileFormatError(source, `${where}.segmentation.counts must be a compressed string or a list of non-negative integers`);
      }
      if (h !== image.height || w !== image.width) {
        throw new FileFormatError(source, `${where}.segmentation.size is ${h}×${w} but its image ${describe(image.id)} is ${image.height}×${image.width}`);
      }
      const covered = coveredPixels(rle);
      if (covered !== h * w) {
        throw new FileFormatError(source, `${where}.segmentation: the RLE counts cover ${covered} pixels but the mask is ${h}×${w} = ${h * w}`);
      }
    } else {
      throw new FileFormatError(source, `${where}.segmentation must be {size, counts} or a list of polygons, got ${describe(seg)}`);
    }
  } catch (e) {
    if (e instanceof RleError) throw new FileFormatError(source, `${where}.segmentation: ${e.message}`);
    throw e;
  }
  return rle;
}

/**
 * Validates a ground-truth dataset and builds what COCOeval evaluates: the image sizes, the
 * categories, and every annotation with its area, crowd flag and mask (segm) or box (bbox).
 * Errors name `source` (the file) and the offending entry.
 */
export function prepareGroundTruth(dataset: unknown, iouType: IouType, source = 'ground truth'): PreparedGroundTruth {
  if (!isObject(dataset)) throw new FileFormatError(source, `a COCO ground-truth file must be a JSON object, got ${describe(dataset)}`);
  for (const key of ['images', 'annotations', 'categories']) {
    if (!Array.isArray(dataset[key])) throw new FileFormatError(source, `the "${key}" list is missing (a COCO ground-truth file has images, annotations and categories)`);
  }
  const warnings: string[] = [];
  const images = new Map<ImageId, ImageInfo>();
  (dataset.images as unknown[]).forEach((img, i) => {
    const where = `images[${i}]`;
    if (!isObject(img) || !isId(img.id)) throw new FileFormatError(source, `${where} needs an "id" (number or string), got ${describe(img)}`);
    if (images.has(img.id)) throw new FileFormatError(source, `${where}: image id ${describe(img.id)} appears twice`);
    const h = img.height;
    const w = img.width;
    const sized = Number.isInteger(h) && Number.isInteger(w) && (h as number) > 0 && (w as number) > 0;
    if (!sized && (iouType === 'segm' || h !== undefined || w !== undefined)) {
      throw new FileFormatError(source, `${where} (id ${describe(img.id)}) needs positive integer "height" and "width", got ${describe(h)} × ${describe(w)}`);
    }
    images.set(img.id, { id: img.id, height: sized ? (h as number) : 0, width: sized ? (w as number) : 0 });
  });
  sortIds(images.keys(), source, 'image ids');

  const categories: { id: CategoryId; name: string }[] = [];
  const catSet = new Set<CategoryId>();
  (dataset.categories as unknown[]).forEach((cat, i) => {
    if (!isObject(cat) || !isId(cat.id)) throw new FileFormatError(source, `categories[${i}] needs an "id", got ${describe(cat)}`);
    if (catSet.has(cat.id)) throw new FileFormatError(source, `categories[${i}]: category id ${describe(cat.id)} appears twice`);
    catSet.add(cat.id);
    categories.push({ id: cat.id, name: typeof cat.name === 'string' ? cat.name : String(cat.id) });
  });
  sortIds(catSet, source, 'category ids');

  const annotations: GtInstance[] = [];
  const annIds = new Set<number>();
  let unknownImage = 0;
  let unknownCategory = 0;
  (dataset.annotations as unknown[]).forEach((ann, i) => {
    const where = `annotations[${i}]`;
    if (!isObject(ann)) throw new FileFormatError(source, `${where} must be an object, got ${describe(ann)}`);
    const id = ann.id;
    if (typeof id !== 'number' || !Number.isFinite(id)) throw new FileFormatError(source, `${where} needs a numeric "id", got ${describe(id)}`);
    if (id === 0) {
      throw new FileFormatError(source, `${where} has id 0; COCOeval stores matched ground-truth ids and treats 0 as "no match", so its detections would count as false positives (use ids from 1)`);
    }
    if (annIds.has(id)) throw new FileFormatError(source, `${where}: annotation id ${id} appears twice`);
    annIds.add(id);
    if (!isId(ann.image_id)) throw new FileFormatError(source, `${where} (id ${id}) needs an "image_id"`);
    if (!isId(ann.category_id)) throw new FileFormatError(source, `${where} (id ${id}) needs a "category_id"`);
    const image = images.get(ann.image_id);
    // pycocotools only evaluates annotations of listed images and categories; the rest are dropped
    if (!image) {
      unknownImage++;
      return;
    }
    if (!catSet.has(ann.category_id)) {
      unknownCategory++;
      return;
    }
    if (typeof ann.area !== 'number' || !Number.isFinite(ann.area)) {
      throw new FileFormatError(source, `${where} (id ${id}) needs a numeric "area" (it decides the small/medium/large range)`);
    }
    const crowd = ann.iscrowd ?? 0;
    if (!(crowd === 0 || crowd === 1 || crowd === true || crowd === false)) {
      throw new FileFormatError(source, `${where} (id ${id}): "iscrowd" must be 0 or 1, got ${describe(crowd)}`);
    }
    const gt: GtInstance = { id, imageId: ann.image_id, categoryId: ann.category_id, area: ann.area, iscrowd: crowd ? 1 : 0 };
    if (iouType === 'segm') {
      if (ann.segmentation === undefined) throw new FileFormatError(source, `${where} (id ${id}) has no "segmentation", which segm evaluation needs`);
      gt.rle = segmentationToRle(ann.segmentation, image, source, where);
      gt.rleBox = toBbox(gt.rle);
    } else {
      if (ann.bbox === undefined) throw new FileFormatError(source, `${where} (id ${id}) has no "bbox", which bbox evaluation needs`);
      gt.bbox = checkBbox(ann.bbox, source, where);
    }
    annotations.push(gt);
  });
  if (unknownImage) warnings.push(`${source}: ${unknownImage} annotation(s) refer to images not in "images" and are not evaluated`);
  if (unknownCategory) warnings.push(`${source}: ${unknownCategory} annotation(s) have a category_id not in "categories" and are not evaluated`);
  return { images, categories, annotations, warnings };
}

/**
 * Validates a results list and builds the detections as `COCO.loadRes` does: ids 1..N in list
 * order, iscrowd 0, and the area from the box (`w·h`) when the first result has a non-empty
 * `bbox`, else from the mask. Results whose category is not in the ground truth are dropped with
 * a warning (pycocotools drops them silently). Every image_id must be in the ground truth.
 */
export function prepareResults(
  results: unknown,
  gt: PreparedGroundTruth,
  iouType: IouType,
  source = 'results',
): { detections: DtInstance[]; warnings: string[] } {
  if (!Array.isArray(results)) throw new FileFormatError(source, `results must be a JSON array of {image_id, category_id, score, segmentation|bbox} objects, got ${describe(results)}`);
  const warnings: string[] = [];
  const unknown = new Set<ImageId>();
  results.forEach((r, i) => {
    if (!isObject(r)) throw new FileFormatError(source, `results[${i}] must be an object, got ${describe(r)}`);
    if (!isId(r.image_id)) throw new FileFormatError(source, `results[${i}] needs an "image_id", got ${describe(r.image_id)}`);
    if (!gt.images.has(r.image_id)) unknown.add(r.image_id);
  });
  if (unknown.size > 0) {
    const list = [...unknown].slice(0, 5).map(describe).join(', ');
    throw new FileFormatError(source, `${unknown.size} image id(s) are not in the ground truth's images (${list}${unknown.size > 5 ? ', …' : ''}); results must correspond to the ground-truth set`);
  }
  const detections: DtInstance[] = [];
  if (results.length === 0) return { detections, warnings };
  const first = results[0] as Record<string, unknown>;
  // loadRes decides the kind of every result from the first one
  const boxResults = Array.isArray(first.bbox) && first.bbox.length > 0;
  if (!boxResults && first.segmentation === undefined) {
    throw new FileFormatError(source, `results[0] has neither "segmentation" nor "bbox" (keypoint and caption results are not supported)`);
  }
  const catSet = new Set(gt.categories.map((c) => c.id));
  let droppedCategory = 0;
  results.forEach((raw, i) => {
    const r = raw as Record<string, unknown>;
    const where = `results[${i}]`;
    if (!isId(r.category_id)) throw new FileFormatError(source, `${where} needs a "category_id", got ${describe(r.category_id)}`);
    if (typeof r.score !== 'number' || !Number.isFinite(r.score)) throw new FileFormatError(source, `${where} needs a numeric "score", got ${describe(r.score)}`);
    const image = gt.images.get(r.image_id as ImageId)!;
    const dt: DtInstance = { id: i + 1, imageId: r.image_id as ImageId, categoryId: r.category_id, score: r.score, area: 0 };
    if (boxResults) {
      if (r.bbox === undefined) throw new FileFormatError(source, `${where} has no "bbox" although results[0] has one (all results must be of one kind)`);
      const bb = checkBbox(r.bbox, source, where);
      dt.bbox = bb;
      dt.area = bb[2] * bb[3];
      if (iouType === 'segm') {
        const seg = r.segmentation ?? [[bb[0], bb[1], bb[0], bb[1] + bb[3], bb[0] + bb[2], bb[1] + bb[3], bb[0] + bb[2], bb[1]]];
        dt.rle = segmentationToRle(seg, image, source, where);
        dt.rleBox = toBbox(dt.rle);
      }
    } else {
      if (r.segmentation === undefined) throw new FileFormatError(source, `${where} has no "segmentation" although results[0] has one (all results must be of one kind)`);
      const rle = segmentationToRle(r.segmentation, image, source, where);
      dt.area = rleArea(rle);
      const box = toBbox(rle);
      dt.bbox = r.bbox === undefined ? box : checkBbox(r.bbox, source, where);
      if (iouType === 'segm') {
        dt.rle = rle;
        dt.rleBox = box;
      }
    }
    if (!catSet.has(dt.categoryId)) {
      droppedCategory++;
      return;
    }
    detections.push(dt);
  });
  if (droppedCategory) warnings.push(`${source}: ${droppedCategory} result(s) have a category_id not in the ground truth's categories and are not evaluated`);
  return { detections, warnings };
}
