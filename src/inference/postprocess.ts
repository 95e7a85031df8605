// Post-processing of SOC outputs for each benchmark family (spec inference-and-eval.md §2):
// query selection, mask up-sampling and thresholding, and the A2D COCO-RLE predictions.
// These steps are data-dependent, so they live outside the model.

import * as F from '../nn/functional.js';
import { arange, cat, stack } from '../tensor/creation.js';
import { noGrad } from '../tensor/autograd.js';
import { tidy } from '../tensor/scope.js';
import type { Tensor } from '../tensor/tensor.js';
import { encode, toCompressed, type CompressedRle } from '../evaluation/coco/rle.js';

/** The tensors of SOC's output dict that post-processing reads. */
export interface SocPrediction {
  /** [T, B, Q, 1] referred logits */
  predCls: Tensor;
  /** [T, B, Q, h4, w4] mask logits at stride 4 of the padded input */
  predMasks: Tensor;
  /** [T, B, Q, 4] normalised cxcywh */
  predBoxes: Tensor;
}

export type Size = readonly [number, number];

/**
 * Per-query referring scores averaged over time, and the selected query (argmax) per video:
 * scores [B, Q], index [B] (int64).
 */
export function selectReferredQuery(predCls: Tensor): { scores: Tensor; index: Tensor } {
  return noGrad(() =>
    tidy(() => {
      const scores = predCls.sigmoid().mean(0).amax(-1); // [B, Q]
      return { scores, index: scores.argmax(-1) };
    }),
  );
}

/** The selected query's masks per video: [B, T, h4, w4] logits. */
function selectedMasks(predMasks: Tensor, index: Tensor): Tensor {
  const [, B] = predMasks.shape as [number, number];
  const perVideo = predMasks.permute(1, 0, 2, 3, 4); // [B, T, Q, h, w]
  return perVideo.index([arange(B), null, index]); // [B, T, h, w]
}

export interface YtvosVideoResult {
  /** [T, 1, H0, W0] uint8 {0, 1} */
  masks: Tensor;
  selectedQuery: number;
}

/**
 * The trainer's post-processor (ReferYoutubeVOSPostProcess, Ref-YouTube-VOS and MeViS): bilinear
 * up-sampling of the selected query's logits to the padded input size, sigmoid > 0.5, crop to
 * each video's resized size, nearest (legacy) resize to its original size.
 */
export function postprocessYtvos(
  out: Pick<SocPrediction, 'predCls' | 'predMasks'>,
  paddedSize: Size,
  videos: readonly { resizedSize: Size; originalSize: Size }[],
): { videos: YtvosVideoResult[]; upsampledLogits: Tensor; selected: Tensor } {
  return noGrad(() =>
    tidy(() => {
      const { index } = selectReferredQuery(out.predCls);
      const logits = F.interpolate(selectedMasks(out.predMasks, index), { size: paddedSize, mode: 'bilinear', alignCorners: false }); // [B, T, H, W]
      const binary = logits.sigmoid().gt(0.5);
      const selected = index.toNumbers();
      const results = videos.map((v, b) => {
        const cropped = binary.select(0, b).slice(1, 0, v.resizedSize[0]).slice(2, 0, v.resizedSize[1]).unsqueeze(1); // [T,1,h,w]
        const masks = F.interpolate(cropped.to('float32'), { size: v.originalSize, mode: 'nearest' }).to('uint8');
        return { masks, selectedQuery: selected[b]! };
      });
      return { videos: results, upsampledLogits: logits, selected: index };
    }),
  );
}

/**
 * The infer_*.py / demo post-processing (one video): the selected query's logits up-sampled
 * bilinearly straight to the original size, then sigmoid > threshold.
 */
export function postprocessInfer(
  out: SocPrediction,
  originalSize: Size,
  threshold = 0.5,
): { masks: Tensor; logits: Tensor; selectedQuery: number; queryScores: Tensor; predLogits: Tensor; predBoxes: Tensor } {
  return noGrad(() =>
    tidy(() => {
      const { scores, index } = selectReferredQuery(out.predCls);
      const q = index.toNumbers()[0]!;
      const logits = F.interpolate(out.predMasks.select(1, 0).select(1, q).unsqueeze(0), { size: originalSize, mode: 'bilinear', alignCorners: false }).squeeze(0); // [T, H0, W0]
      const masks = logits.sigmoid().gt(threshold).to('uint8');
      return {
        masks,
        logits,
        selectedQuery: q,
        queryScores: scores.select(0, 0),
        predLogits: out.predCls.select(1, 0).select(1, q), // [T, 1]
        predBoxes: out.predBoxes.select(1, 0).select(1, q), // [T, 4]
      };
    }),
  );
}

export interface A2DFramePrediction {
  /** [Q] sigmoid scores */
  scores: Tensor;
  /** [Q, 1, H0, W0] uint8 */
  masks: Tensor;
  /** COCO compressed RLE per query */
  rleMasks: CompressedRle[];
}

/**
 * A2D-Sentences / JHMDB-Sentences post-processor (A2DSentencesPostProcess) on outputs whose
 * time and batch dims are flattened ([N, Q, …], N = T·B): every query of every frame, with scores,
 * binary masks at the original size and their COCO RLE.
 */
export function postprocessA2D(
  predCls: Tensor,
  predMasks: Tensor,
  paddedSize: Size,
  resizedSizes: readonly Size[],
  originalSizes: readonly Size[],
): A2DFramePrediction[] {
  return noGrad(() => {
    const scoresAll = tidy(() => predCls.select(-1, 0).sigmoid()); // [N, Q]
    const binary = tidy(() => F.interpolate(predMasks, { size: paddedSize, mode: 'bilinear', alignCorners: false }).sigmoid().gt(0.5));
    const out = resizedSizes.map((rs, i) =>
      tidy(() => {
        const cropped = binary.select(0, i).slice(1, 0, rs[0]).slice(2, 0, rs[1]).unsqueeze(1); // [Q,1,h,w]
        const masks = F.interpolate(cropped.to('float32'), { size: originalSizes[i]!, mode: 'nearest' }).to('uint8');
        const [H, W] = originalSizes[i]!;
        const rleMasks = masks.unbind(0).map((m) => toCompressed(encode(m.toTypedArray() as Uint8Array, H, W)));
        return { scores: scoresAll.select(0, i), masks, rleMasks };
      }),
    );
    scoresAll.dispose();
    binary.dispose();
    return out;
  });
}

/**
 * Ref-DAVIS merge of per-object probability volumes [n_obj, T, H, W] into a label map [T, H, W]
 * (uint8): probabilities below 0.5 are zeroed, a constant 0.1 background plane is prepended and
 * the argmax taken (ties go to the lower index).
 */
export function mergeDavisObjects(probabilities: Tensor): Tensor {
  return noGrad(() =>
    tidy(() => {
      const p = probabilities.where(probabilities.ge(0.5), 0);
      const background = p.select(0, 0).unsqueeze(0).mul(0).add(0.1);
      return cat([background, p], 0).argmax(0).to('uint8');
    }),
  );
}

/** Stacks per-frame boxes of one query, in pixels of `size` (h, w), as xyxy: [T, 4]. */
export function boxesToPixels(cxcywh: Tensor, size: Size): Tensor {
  return tidy(() => {
    const [cx, cy, w, h] = cxcywh.unbind(-1) as [Tensor, Tensor, Tensor, Tensor];
    const [H, W] = size;
    return stack([cx.sub(w.mul(0.5)).mul(W), cy.sub(h.mul(0.5)).mul(H), cx.add(w.mul(0.5)).mul(W), cy.add(h.mul(0.5)).mul(H)], -1);
  });
}
