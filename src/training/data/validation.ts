// Evaluation of a model during training, with each dataset's metric computed directly (no files):
//  * video datasets whose validation split has ground truth (the synthetic data, MeViS valid_u,
//    Ref-YouTube-VOS subsets): region J and boundary F per frame (DAVIS toolkit), averaged over the
//    frames of each expression, then over expressions; J&F = (J + F) / 2. Videos longer than
//    `chunkFrames` are processed in consecutive chunks, as the reference's MeViS validation list
//    cuts them;
//  * A2D-Sentences / JHMDB-Sentences: the annotated middle frame of each window through the model
//    with valid indices, every query's mask and score as a COCO result (A2DSentencesPostProcess),
//    then COCO mask mAP with categories pooled, precision@K, overall and mean IoU.

import type { VideoDataset } from '../../data/video-dataset.js';
import { a2dMetricsFromCoco } from '../../evaluation/a2d.js';
import { encode, toCompressed } from '../../evaluation/coco/rle.js';
import { cocoEval } from '../../evaluation/coco/cocoeval.js';
import { boundaryF, jaccard } from '../../evaluation/jf.js';
import { postprocessA2D } from '../../inference/postprocess.js';
import { ReferringSegmenter } from '../../inference/predictor.js';
import { preprocessVideo } from '../../media/preprocess.js';
import type { SOC } from '../../models/soc/soc.js';
import type { RobertaTokenizer } from '../../models/text/tokenizer.js';
import { noGrad } from '../../tensor/autograd.js';
import { tidy } from '../../tensor/scope.js';
import { Rng } from '../../data/prng.js';
import { augmentClip, evalAugment } from './augment.js';
import { batchModelInputs, collateClips } from './collate.js';
import type { ClipSource, TrainSample } from './sources.js';
import { normaliseText } from './text.js';

export interface ValidationResult {
  /** The value that picks the best checkpoint, with its name ('J&F', 'mAP 0.5:0.95'). */
  metric: { name: string; value: number } | null;
  /** Every number computed (J, F, J&F, or the COCO / P@K values). */
  values: Record<string, number>;
  /** Expressions (video datasets) or samples (A2D / JHMDB) evaluated. */
  count: number;
  seconds: number;
}

export interface VideoValidationOptions {
  shortSide: number;
  maxSize: number | null;
  /** Frames per forward pass (longer videos are cut into chunks); default 40. */
  chunkFrames?: number;
  /** Evaluate only the first N videos (quick checks). */
  maxVideos?: number;
  threshold?: number;
  onProgress?: (done: number, total: number) => void;
}

/** J, F and J&F of the model on a video split with ground truth. The model is left in eval mode. */
export async function validateVideos(model: SOC, tokenizer: RobertaTokenizer, dataset: VideoDataset, o: VideoValidationOptions): Promise<ValidationResult> {
  const t0 = performance.now();
  model.eval();
  // fromModel only wraps: the segmenter must not be disposed (it would free the model being trained)
  const segmenter = ReferringSegmenter.fromModel(model, tokenizer);
  const chunk = o.chunkFrames ?? 40;
  const videos = dataset.videos.slice(0, o.maxVideos ?? dataset.videos.length);
  let sumJ = 0;
  let sumF = 0;
  let count = 0;
  for (const [vi, video] of videos.entries()) {
    const expressions = video.expressions.filter((e) => e.objIds && e.objIds.length > 0);
    if (expressions.length === 0) continue;
    const texts = expressions.map((e) => normaliseText(e.text));
    const j = expressions.map(() => [] as number[]);
    const f = expressions.map(() => [] as number[]);
    for (let start = 0; start < video.frames.length; start += chunk) {
      const names = video.frames.slice(start, start + chunk);
      const frames = await Promise.all(names.map((n) => dataset.loadFrame(video.id, n)));
      const clip = preprocessVideo(frames, { shortSide: o.shortSide, maxSize: o.maxSize });
      try {
        const results = segmenter.segment(clip, texts, { threshold: o.threshold });
        for (const [k, r] of results.entries()) {
          const [T, H, W] = r.masks.shape as [number, number, number];
          const data = r.masks.contiguous().toTypedArray() as Uint8Array;
          r.masks.dispose();
          for (let t = 0; t < T; t++) {
            const gt = await dataset.loadExpressionMask(video.id, expressions[k]!.id, names[t]!);
            const pred = { data: data.subarray(t * H * W, (t + 1) * H * W), height: H, width: W };
            const g = { data: gt.data, height: gt.height, width: gt.width };
            j[k]!.push(jaccard(g, pred));
            f[k]!.push(boundaryF(g, pred));
          }
        }
      } finally {
        clip.video.dispose();
        clip.paddingMask.dispose();
      }
    }
    for (let k = 0; k < expressions.length; k++) {
      sumJ += mean(j[k]!);
      sumF += mean(f[k]!);
      count++;
    }
    o.onProgress?.(vi + 1, videos.length);
  }
  const J = count ? sumJ / count : NaN;
  const F = count ? sumF / count : NaN;
  const jf = (J + F) / 2;
  return { metric: count ? { name: 'J&F', value: jf } : null, values: { J, F, 'J&F': jf }, count, seconds: (performance.now() - t0) / 1000 };
}

export interface CentreFrameValidationOptions {
  shortSide: number;
  maxSize: number | null;
  /** Evaluate only the first N samples. */
  maxSamples?: number;
  onProgress?: (done: number, total: number) => void;
}

/** COCO mask mAP (categories pooled), precision@K and IoUs on A2D / JHMDB samples. The model is left in eval mode. */
export async function validateCentreFrames(model: SOC, tokenizer: RobertaTokenizer, source: ClipSource, samples: readonly TrainSample[], o: CentreFrameValidationOptions): Promise<ValidationResult> {
  const t0 = performance.now();
  model.eval();
  const list = samples.slice(0, o.maxSamples ?? samples.length);
  const images: { id: string; height: number; width: number }[] = [];
  const annotations: Record<string, unknown>[] = [];
  const results: Record<string, unknown>[] = [];
  const seen = new Set<string>();
  const augment = evalAugment(o.shortSide, o.maxSize);
  for (const [i, sample] of list.entries()) {
    const raw = await source.load(sample);
    const target = raw.targets.find((t) => t !== null)!;
    const imageId = target.imageId ?? `sample_${i}`;
    if (seen.has(imageId)) continue; // an image id is evaluated once (the reference asserts uniqueness)
    seen.add(imageId);
    const { height: H, width: W } = target.mask;
    images.push({ id: imageId, height: H, width: W });
    const [x1, y1, x2, y2] = target.box;
    annotations.push({
      id: annotations.length + 1,
      image_id: imageId,
      category_id: 1,
      segmentation: toCompressed(encode(target.mask.data, H, W)),
      area: target.mask.data.reduce((s, v) => s + (v ? 1 : 0), 0),
      bbox: [x1, y1, x2 - x1, y2 - y1],
      iscrowd: 0,
    });
    const clip = augmentClip(raw, augment, new Rng(0), i);
    const frames = noGrad(() =>
      tidy(() => {
        const batch = collateClips([clip]);
        const out = model.forward(batchModelInputs(batch, tokenizer));
        const [T, B, Q] = out.predCls.shape as [number, number, number];
        const [h4, w4] = out.predMasks.shape.slice(-2) as [number, number];
        const flat = batch.targets.flat();
        const padded = batch.video.shape.slice(-2) as [number, number];
        const preds = postprocessA2D(out.predCls.reshape(T * B, Q, 1), out.predMasks.reshape(T * B, Q, h4, w4), padded, flat.map((t) => t.size), flat.map((t) => t.origSize));
        return preds.map((p) => ({ scores: p.scores.toNumbers(), rles: p.rleMasks }));
      }),
    );
    for (const p of frames) p.scores.forEach((score, q) => results.push({ image_id: imageId, category_id: 1, segmentation: p.rles[q], score }));
    o.onProgress?.(i + 1, list.length);
  }
  const gt = { images, annotations, categories: [{ id: 1, name: 'dummy_class' }] };
  const coco = cocoEval(gt, results, { useCats: 0 });
  const labels = ['mAP 0.5:0.95', 'AP 0.5', 'AP 0.75', 'AP 0.5:0.95 S', 'AP 0.5:0.95 M', 'AP 0.5:0.95 L'];
  const values: Record<string, number> = {};
  labels.forEach((l, k) => (values[l] = coco.stats[k]!));
  const pk = a2dMetricsFromCoco(gt, results);
  for (const [k, v] of Object.entries(pk.precisionAtK)) values[`P@${k}`] = v;
  values.overall_iou = pk.overallIou;
  values.mean_iou = pk.meanIou;
  return { metric: { name: 'mAP 0.5:0.95', value: values['mAP 0.5:0.95']! }, values, count: images.length, seconds: (performance.now() - t0) / 1000 };
}

function mean(v: readonly number[]): number {
  return v.length ? v.reduce((a, b) => a + b, 0) / v.length : NaN;
}
