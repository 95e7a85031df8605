// A2D-Sentences and JHMDB-Sentences (inference-and-eval.md §1, §7: trainer.evaluate_a2d_sentences):
// each test sample (an annotated frame × a referred instance) is segmented on an 8-frame window
// centred on the annotated frame (edge frames repeated), 320 / 576 resize, lowercased text; only the
// centre frame is decoded (valid_indices). Every query (not only the best) becomes a COCO result
// {image_id, category_id 1, segmentation, score}; COCO mask mAP with useCats = 0, plus precision@K,
// overall and mean IoU on each image's top-scoring result.
//
// The COCO ground truth is built with the reference's rule (create_gt_in_coco_format.py) from the
// same samples: A2D image ids `v_<video>_f_<frame>_i_<instance>` with the reBBox box, JHMDB
// `v_<video>_f_<frame>` from puppet_mask.mat. Records keep the ground truth with the predictions,
// so results can be computed (and shards merged) without the dataset.

import { dirname, join } from 'node:path';
import { A2dSentences, type A2dSample } from '../../data/a2d-sentences.js';
import { exists } from '../../data/files.js';
import { JhmdbSentences, type JhmdbSample } from '../../data/jhmdb-sentences.js';
import { loadRgbImage } from '../../data/image.js';
import { Rng } from '../../data/prng.js';
import type { Mask, RgbImage } from '../../data/types.js';
import type { VideoDecoder } from '../../data/video.js';
import { UsageError } from '../../errors.js';
import { A2D_RESIZE, type ResizeRule, preprocessVideo } from '../../media/preprocess.js';
import { a2dMetricsFromCoco } from '../a2d.js';
import { STAT_LABELS, cocoEval } from '../coco/cocoeval.js';
import { type CompressedRle, area, encode, toCompressed } from '../coco/rle.js';
import { a2dFramePredictions, cleanQuery, withFeatures } from './model-run.js';
import { type Finalizer, type Protocol, resizeDeviation, resultHeader, resultNotes } from './protocol.js';
import { cell, formatTable, toCsv, writeJsonAtomic, writeTextAtomic } from './report.js';
import { sha256File } from './run-folder.js';

/** The trainer's window (config window_size). */
export const A2D_WINDOW = 8;

export interface A2dProtocolOptions {
  dataset: 'a2d' | 'jhmdb';
  root: string;
  windowFrames?: number;
  resize?: ResizeRule;
  /** JHMDB: the reference's jhmdb_sentences_samples_metadata_new.json (default: that name under the root, if present). */
  samplesFile?: string;
  /** JHMDB without a samples file: seed of the 3 random frames per video drawn instead. */
  seed?: number;
  /** A2D: how clips are decoded (default: ffmpeg). */
  decodeVideo?: VideoDecoder;
}

/** One test sample: its ground truth and every query's prediction. */
export interface A2dSampleRecord {
  /** Position in the split's sample list (the order of the reference's results). */
  index: number;
  imageId: string;
  query: string;
  frame: number;
  gt: { height: number; width: number; segmentation: CompressedRle; area: number; bbox?: number[] };
  scores: number[];
  segmentations: CompressedRle[];
}

export interface A2dRecord {
  video: string;
  samples: A2dSampleRecord[];
}

/** A sample reduced to what the protocol needs. */
interface WindowSample {
  index: number;
  videoId: string;
  frame: number;
  query: string;
  imageId: string;
  /** The window's frames (the annotated one at position ⌊window/2⌋) and the ground truth, loaded on demand. */
  load(): Promise<{ window: RgbImage[]; gt: Mask; bbox?: number[] }>;
}

/** Indices start..end-1 around `centre` (window//2 before, (window+1)//2 − 1 after), clamped to [lo, hi]. */
export function windowIndices(centre: number, window: number, lo: number, hi: number): number[] {
  const out: number[] = [];
  for (let i = centre - Math.floor(window / 2); i < centre + Math.floor((window + 1) / 2); i++) out.push(Math.min(Math.max(i, lo), hi));
  return out;
}

async function a2dSamples(o: A2dProtocolOptions): Promise<{ samples: WindowSample[]; source: string; reference: boolean }> {
  const ds = await A2dSentences.open(o.root, { decodeVideo: o.decodeVideo });
  const cache = ds.samplesCachePath('test');
  const list: A2dSample[] = await ds.samples('test');
  const samples = list.map((s, index): WindowSample => ({
    index,
    videoId: s.videoId,
    frame: s.frameIdx,
    query: cleanQuery(s.query),
    imageId: `v_${s.videoId}_f_${s.frameIdx}_i_${s.instanceId}`,
    async load() {
      const { mask, annotation } = await ds.loadSample(s);
      const frames = await ds.loadVideo(s.videoId);
      const window = windowIndices(s.frameIdx - 1, windowSize(o), 0, frames.length - 1).map((i) => frames[i]!);
      const box = annotation.boxes?.[annotation.instances.indexOf(s.instanceId)];
      return { window, gt: mask, bbox: box ? [box[0], box[1], box[2] - box[0], box[3] - box[1]] : undefined };
    },
  }));
  return { samples, reference: true, source: exists(cache) ? `${cache} (sha256 ${sha256File(cache)})` : 'built from the annotations (the reference rule)' };
}

async function jhmdbSamples(o: A2dProtocolOptions): Promise<{ samples: WindowSample[]; source: string; reference: boolean }> {
  const ds = await JhmdbSentences.open(o.root);
  const committed = o.samplesFile ?? join(o.root, 'jhmdb_sentences_samples_metadata_new.json');
  let list: JhmdbSample[];
  let source: string;
  const reference = exists(committed);
  if (reference) {
    list = ds.readSamplesMetadata(committed);
    source = `${committed} (sha256 ${sha256File(committed)})`;
  } else {
    if (o.samplesFile) throw new UsageError(`--samples ${o.samplesFile} does not exist`);
    const rng = new Rng(o.seed ?? 0);
    list = await ds.buildSamples(() => rng.next());
    source = `3 random frames per video drawn with seed ${o.seed ?? 0} (NOT the reference's committed sample list: give --samples jhmdb_sentences_samples_metadata_new.json for comparable numbers)`;
  }
  const samples = list.map((s, index): WindowSample => ({
    index,
    videoId: s.videoId,
    frame: s.frameIdx,
    query: cleanQuery(s.query),
    imageId: `v_${s.videoId}_f_${s.frameIdx}`,
    async load() {
      const { mask } = await ds.loadSample(s);
      const dir = dirname(s.framePath);
      const window = await Promise.all(windowIndices(s.frameIdx, windowSize(o), 1, s.videoTotalFrames).map((i) => loadRgbImage(join(dir, `${String(i).padStart(5, '0')}.png`))));
      return { window, gt: mask };
    },
  }));
  return { samples, source, reference };
}

function windowSize(o: A2dProtocolOptions): number {
  return o.windowFrames ?? A2D_WINDOW;
}

export async function openA2dProtocol(o: A2dProtocolOptions): Promise<Protocol<A2dRecord>> {
  const window = windowSize(o);
  const resize = o.resize ?? A2D_RESIZE;
  const { samples, source, reference } = o.dataset === 'a2d' ? await a2dSamples(o) : await jhmdbSamples(o);
  if (samples.length === 0) throw new UsageError(`${o.dataset} at ${o.root}: no test samples`);
  const byVideo = new Map<string, WindowSample[]>();
  for (const s of samples) byVideo.set(s.videoId, [...(byVideo.get(s.videoId) ?? []), s]);
  const centre = Math.floor(window / 2);
  return {
    command: 'eval',
    dataset: o.dataset,
    split: 'test',
    units: [...byVideo.keys()],
    settings: {
      protocol: 'trainer.evaluate_a2d_sentences',
      samples: source,
      window: `${window} frames centred on the annotated frame (edges repeated), only the centre decoded`,
      text: 'lowercased, whitespace collapsed',
      predictions: 'every query as a COCO result',
      resize: { shortSide: resize.shortSide, maxSize: resize.maxSize },
      deviations: [
        ...resizeDeviation(resize, A2D_RESIZE),
        ...(window === A2D_WINDOW ? [] : [`windows of ${window} frames instead of ${A2D_WINDOW}`]),
        ...(reference ? [] : ["random frames instead of the reference's committed sample list"]),
      ],
    },
    async runUnit(unit, ctx): Promise<A2dRecord> {
      const out: A2dSampleRecord[] = [];
      // samples of one annotated frame share the window: encode it once
      const byFrame = new Map<number, WindowSample[]>();
      for (const s of byVideo.get(unit)!) byFrame.set(s.frame, [...(byFrame.get(s.frame) ?? []), s]);
      for (const group of byFrame.values()) {
        const loaded = await Promise.all(group.map((s) => s.load()));
        const clip = preprocessVideo(loaded[0]!.window, resize);
        try {
          withFeatures(ctx.segmenter, clip, (features) => {
            group.forEach((s, i) => {
              const { gt, bbox } = loaded[i]!;
              const pred = a2dFramePredictions(ctx.segmenter, clip, features, s.query, centre, [gt.height, gt.width]);
              const rle = encode(gt.data, gt.height, gt.width);
              out.push({
                index: s.index,
                imageId: s.imageId,
                query: s.query,
                frame: s.frame,
                gt: { height: gt.height, width: gt.width, segmentation: toCompressed(rle), area: area(rle), ...(bbox ? { bbox } : {}) },
                scores: pred.scores,
                segmentations: pred.rles,
              });
            });
          });
        } finally {
          clip.video.dispose();
          clip.paddingMask.dispose();
        }
      }
      return { video: unit, samples: out.sort((a, b) => a.index - b.index) };
    },
  };
}

/** The reference's metric names (trainer.evaluate_a2d_sentences). */
export const A2D_AP_LABELS = ['mAP 0.5:0.95', 'AP 0.5', 'AP 0.75', 'AP 0.5:0.95 S', 'AP 0.5:0.95 M', 'AP 0.5:0.95 L'] as const;

/** The COCO ground truth and results lists of a set of records, in the reference's sample order. */
export function cocoInputs(records: readonly A2dRecord[]): { gt: { images: unknown[]; annotations: unknown[]; categories: unknown[] }; results: unknown[] } {
  const samples = records.flatMap((r) => r.samples).sort((a, b) => a.index - b.index);
  const images = samples.map((s) => ({ id: s.imageId, height: s.gt.height, width: s.gt.width }));
  const annotations = samples.map((s, k) => ({ id: k + 1, image_id: s.imageId, category_id: 1, segmentation: s.gt.segmentation, area: s.gt.area, ...(s.gt.bbox ? { bbox: s.gt.bbox } : {}), iscrowd: 0 }));
  const results = samples.flatMap((s) => s.scores.map((score, q) => ({ image_id: s.imageId, category_id: 1, segmentation: s.segmentations[q]!, score })));
  return { gt: { images, annotations, categories: [{ id: 1, name: 'dummy_class' }] }, results };
}

export const finalizeA2d: Finalizer = ({ manifest, units, record, outDir, partial }) => {
  const records = units.map((u) => record(u) as A2dRecord);
  const { gt, results } = cocoInputs(records);
  const source = `${manifest.dataset} ground truth`;
  const coco = cocoEval(gt, results, { iouType: 'segm', useCats: false, gtSource: source, resultsSource: 'predictions' });
  const iou = a2dMetricsFromCoco(gt, results, source, 'predictions');
  const metrics: Record<string, number> = {};
  A2D_AP_LABELS.forEach((l, i) => (metrics[l] = coco.stats[i]!));
  for (const [k, v] of Object.entries(iou.precisionAtK)) metrics[`P@${k}`] = v;
  metrics.overall_iou = iou.overallIou;
  metrics.mean_iou = iou.meanIou;
  const notes = resultNotes(manifest, units.length, partial);
  const json = {
    ...resultHeader(manifest, notes, partial),
    videos: records.length,
    samples: gt.images.length,
    ...metrics,
    coco_stats: coco.stats,
    coco_stat_labels: STAT_LABELS,
    per_sample: iou.perImage.map((p) => ({ image_id: p.imageId, score: p.score, iou: p.sample.iou })),
  };
  const prefix = partial ? 'partial-' : '';
  const files = [`${prefix}results.json`, `${prefix}results.csv`, `${prefix}per-sample.csv`];
  writeJsonAtomic(join(outDir, files[0]!), json);
  writeTextAtomic(join(outDir, files[1]!), toCsv(Object.keys(metrics), [Object.values(metrics)]));
  writeTextAtomic(join(outDir, files[2]!), toCsv(['image_id', 'top_score', 'iou', 'intersection', 'union'], iou.perImage.map((p) => [String(p.imageId), p.score, p.sample.iou, p.sample.intersection, p.sample.union])));
  const name = manifest.dataset === 'a2d' ? 'A2D-Sentences' : 'JHMDB-Sentences';
  const table = formatTable(
    ['metric', 'value'],
    Object.entries(metrics).map(([k, v]) => [k, cell(v)]),
  );
  const text = [...notes, `${name} test: ${records.length} videos, ${gt.images.length} samples, ${results.length} COCO results (all queries)`, ...coco.lines, '', table].join('\n');
  return { text, files };
};
