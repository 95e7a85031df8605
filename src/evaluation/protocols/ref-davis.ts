// Ref-DAVIS17 (inference-and-eval.md §2, §6: infer_davis.py + eval_davis.py): for each of the four
// annotator sets and each object, the object's expression is segmented in consecutive clips of 36
// frames (raw text, query chosen per clip, probabilities = sigmoid of the logits bilinearly at the
// original size); the objects of a set are merged into one label map (values < 0.5 zeroed, a 0.1
// background plane, argmax), and each set's label maps are scored with the unsupervised DAVIS
// evaluation against Annotations_unsupervised (255 = void): proposals matched to ground-truth
// objects by Hungarian assignment on mean (J + F) / 2, then per-object statistics.
//
// The reference evaluates the four annotator folders separately; how the paper combines them is
// not in the code. The results list each set and their mean (the usual practice), labelled so.

import { join } from 'node:path';
import { vocPalette } from '../../data/image.js';
import { DAVIS_ANNOTATION_SETS, RefDavis17 } from '../../data/ref-davis.js';
import { FileFormatError, UsageError } from '../../errors.js';
import { disposeFeatures } from '../../inference/predictor.js';
import { mergeDavisObjects } from '../../inference/postprocess.js';
import { StagedDirectory, writeMaskPng } from '../../media/output.js';
import { type ResizeRule, YTVOS_RESIZE, preprocessVideo } from '../../media/preprocess.js';
import { stack } from '../../tensor/creation.js';
import { tidy } from '../../tensor/scope.js';
import type { Tensor } from '../../tensor/tensor.js';
import { type DavisSummary, type MaskStack, evaluateUnsupervised, summarizeObjects } from '../davis.js';
import { inferClipProbabilities } from './model-run.js';
import { type Finalizer, type Protocol, resizeDeviation, resultHeader, resultNotes } from './protocol.js';
import { JF_COLUMNS, cell, formatTable, jfCsvRows, jfMetrics, perObjectJson, toCsv, writeJsonAtomic, writeTextAtomic } from './report.js';

/** infer_davis.py's clip length. */
export const DAVIS_CLIP_FRAMES = 36;

export interface RefDavisProtocolOptions {
  root: string;
  split?: 'valid' | 'train';
  clipFrames?: number;
  resize?: ResizeRule;
  /** Also write each set's label maps as `<out>/anno_<k>/<video>/<t:05d>.png` (infer_davis.py's layout). */
  saveMasks?: boolean;
}

/** Per-video record: for each annotator set, the matched ground-truth objects' per-frame J and F. */
export interface RefDavisRecord {
  video: string;
  frames: number;
  gtObjects: number;
  sets: { proposals: number; objects: { name: string; j: number[]; f: number[] }[] }[];
}

function labelStack(labels: Uint8Array, frames: number, height: number, width: number, value: number): MaskStack {
  const data = new Uint8Array(labels.length);
  for (let i = 0; i < data.length; i++) data[i] = labels[i] === value ? 1 : 0;
  return { data, frames, height, width };
}

export async function openRefDavisProtocol(o: RefDavisProtocolOptions): Promise<Protocol<RefDavisRecord>> {
  const split = o.split ?? 'valid';
  const ds = await RefDavis17.open(o.root, split);
  if (!ds.hasMasks) throw new UsageError(`Ref-DAVIS17 split ${split} of ${o.root} has no annotations (Annotations_unsupervised / ${split}/Annotations) to score against`);
  const clipFrames = o.clipFrames ?? DAVIS_CLIP_FRAMES;
  const resize = o.resize ?? YTVOS_RESIZE;
  return {
    command: 'eval',
    dataset: 'ref-davis',
    split,
    units: ds.videos.map((v) => v.id),
    settings: {
      protocol: 'infer_davis.py + eval_davis.py (unsupervised)',
      text: 'raw',
      clips: `chunks of ${clipFrames} frames`,
      merge: 'probabilities < 0.5 zeroed, background 0.1, argmax',
      resize: { shortSide: resize.shortSide, maxSize: resize.maxSize },
      saveMasks: !!o.saveMasks,
      deviations: [...resizeDeviation(resize, YTVOS_RESIZE), ...(clipFrames === DAVIS_CLIP_FRAMES ? [] : [`clips of ${clipFrames} frames instead of infer_davis.py's ${DAVIS_CLIP_FRAMES}`])],
    },
    async runUnit(unit, ctx): Promise<RefDavisRecord> {
      const video = ds.video(unit);
      const numObj = Math.floor(video.expressions.length / 4);
      if (numObj === 0) throw new UsageError(`video ${unit} has ${video.expressions.length} expressions; Ref-DAVIS needs 4 per object (2 annotators × first-frame / full-video)`);
      const T = video.frames.length;
      const sets: Uint8Array[] = [];
      let size: readonly [number, number] | null = null;
      for (let start = 0; start < T; start += clipFrames) {
        const names = video.frames.slice(start, start + clipFrames);
        const clip = preprocessVideo(await Promise.all(names.map((f) => ds.loadFrame(unit, f))), resize);
        const features = ctx.segmenter.encode(clip);
        try {
          size = clip.originalSize;
          const plane = size[0] * size[1];
          for (let k = 0; k < 4; k++) {
            // object i's expression for this set is expression 4·i + k, in file order
            const probs: Tensor[] = [];
            try {
              for (let i = 0; i < numObj; i++) probs.push(inferClipProbabilities(ctx.segmenter, clip, features, video.expressions[4 * i + k]!.text).probabilities);
              const labels = tidy(() => new Uint8Array(mergeDavisObjects(stack(probs, 0)).contiguous().toBytes()));
              sets[k] ??= new Uint8Array(T * plane);
              sets[k]!.set(labels, start * plane);
            } finally {
              for (const p of probs) p.dispose();
            }
          }
        } finally {
          disposeFeatures(features);
          clip.video.dispose();
          clip.paddingMask.dispose();
        }
      }
      const [H, W] = size!;
      const plane = H * W;

      // ground truth: eval_davis.py's get_all_masks (255 = void; objects 1..max of the first frame)
      const gtLabels = new Uint8Array(T * plane);
      video.frames.forEach((f, t) => {
        const m = ds.loadAnnotation(unit, f);
        if (m.height !== H || m.width !== W) {
          throw new FileFormatError(ds.masks!.source(video, f), `annotation is ${m.height}x${m.width} (HxW) but the frame ${ds.framePath(unit, f)} is ${H}x${W}`);
        }
        gtLabels.set(m.data, t * plane);
      });
      const voidMasks = labelStack(gtLabels, T, H, W, 255);
      let gtCount = 0;
      for (let i = 0; i < plane; i++) if (gtLabels[i] !== 255) gtCount = Math.max(gtCount, gtLabels[i]!);
      const gtObjects = Array.from({ length: gtCount }, (_, i) => labelStack(gtLabels, T, H, W, i + 1));

      if (o.saveMasks) {
        sets.forEach((labels, k) => {
          const staged = new StagedDirectory(join(ctx.folder.dir, `anno_${k}`, unit));
          try {
            for (let t = 0; t < T; t++) writeMaskPng(join(staged.path, `${String(t).padStart(5, '0')}.png`), { width: W, height: H, data: labels.subarray(t * plane, (t + 1) * plane) }, vocPalette());
            staged.commit();
          } catch (e) {
            staged.abort();
            throw e;
          }
        });
      }
      return {
        video: unit,
        frames: T,
        gtObjects: gtCount,
        sets: sets.map((labels) => {
          // results.read_masks: one proposal per value 1..max over the video
          let max = 0;
          for (let i = 0; i < labels.length; i++) max = Math.max(max, labels[i]!);
          const proposals = Array.from({ length: max }, (_, p) => labelStack(labels, T, H, W, p + 1));
          const matched = evaluateUnsupervised(gtObjects, proposals, voidMasks);
          return { proposals: max, objects: matched.map((m, ii) => ({ name: `${unit}_${ii + 1}`, j: Array.from(m.j), f: Array.from(m.f) })) };
        }),
      };
    },
  };
}

/** The seven columns averaged over the four annotator sets. */
function meanOfSets(summaries: DavisSummary[]): Record<(typeof JF_COLUMNS)[number], number> {
  const out = {} as Record<(typeof JF_COLUMNS)[number], number>;
  for (const c of JF_COLUMNS) out[c] = summaries.reduce((s, x) => s + x[c], 0) / summaries.length;
  return out;
}

export const MEAN_OF_SETS_NOTE = 'mean = average of the 4 annotator sets (how the paper combines them is not in the reference code; averaging is the usual practice)';

export const finalizeRefDavis: Finalizer = ({ manifest, units, record, outDir, partial }) => {
  const records = units.map((u) => record(u) as RefDavisRecord);
  const summaries = DAVIS_ANNOTATION_SETS.map((_, k) => summarizeObjects(records.flatMap((r) => r.sets[k]!.objects)));
  const mean = meanOfSets(summaries);
  const notes = resultNotes(manifest, units.length, partial);
  const setName = (k: number) => `anno_${k}`;
  const json = {
    ...resultHeader(manifest, [...notes, MEAN_OF_SETS_NOTE], partial),
    videos: records.length,
    ...mean,
    sets: summaries.map((s, k) => ({ name: setName(k), expressions: DAVIS_ANNOTATION_SETS[k], ...jfMetrics(s), per_object: perObjectJson(s) })),
  };
  const prefix = partial ? 'partial-' : '';
  const files = [`${prefix}results.json`, `${prefix}results.csv`, `${prefix}per-object.csv`];
  writeJsonAtomic(join(outDir, files[0]!), json);
  const globalRows = summaries.map((s, k) => [setName(k), ...JF_COLUMNS.map((c) => s[c])]);
  globalRows.push(['mean', ...JF_COLUMNS.map((c) => mean[c])]);
  writeTextAtomic(join(outDir, files[1]!), toCsv(['Set', ...JF_COLUMNS], globalRows));
  writeTextAtomic(join(outDir, files[2]!), toCsv(['Set', 'Sequence', ...JF_COLUMNS], summaries.flatMap((s, k) => jfCsvRows(s, [setName(k)]))));
  const rows = summaries.map((s, k) => [`${setName(k)} (${DAVIS_ANNOTATION_SETS[k]})`, ...JF_COLUMNS.map((c) => cell(s[c]))]);
  rows.push(['mean', ...JF_COLUMNS.map((c) => cell(mean[c]))]);
  const text = [...notes, `Ref-DAVIS17 ${manifest.split}: ${records.length} videos, ${summaries[0]!.perObject.length} objects`, formatTable(['Set', ...JF_COLUMNS], rows), MEAN_OF_SETS_NOTE].join('\n');
  return { text, files };
};
