// One forward of the model per (clip, sentence) as the evaluation protocols need it, on backbone
// features computed once per clip and shared by every sentence of that clip (the backbone does not
// see the text, so this equals the reference's one full forward per sample). Each helper returns
// plain arrays; tensors stay inside.

import { disposeFeatures, type ReferringSegmenter } from '../../inference/predictor.js';
import { postprocessA2D, postprocessInfer, postprocessYtvos } from '../../inference/postprocess.js';
import type { PreprocessedVideo } from '../../media/preprocess.js';
import type { SocOutput, VideoFeatures } from '../../models/soc/soc.js';
import { noGrad } from '../../tensor/autograd.js';
import { fromTypedArray, tensor } from '../../tensor/creation.js';
import { tidy } from '../../tensor/scope.js';
import type { Tensor } from '../../tensor/tensor.js';
import type { CompressedRle } from '../coco/rle.js';

/** The trainer's text clean-up: lowercase, whitespace runs collapsed (`" ".join(t.lower().split())`). */
export function cleanQuery(text: string): string {
  return text.toLowerCase().split(/\s+/).filter((w) => w.length > 0).join(' ');
}

/** Encodes a clip, runs `fn` on its features and frees them. */
export function withFeatures<T>(segmenter: ReferringSegmenter, clip: PreprocessedVideo, fn: (features: VideoFeatures) => T): T {
  const features = segmenter.encode(clip);
  try {
    return fn(features);
  } finally {
    disposeFeatures(features);
  }
}

/** Binary masks of one sentence over a clip: [T, H0, W0] uint8 {0, 1} at the original frame size. */
export interface ClipMasks {
  masks: Uint8Array;
  frames: number;
  height: number;
  width: number;
  selectedQuery: number;
}

/**
 * Masks by the trainer's post-processor (ReferYoutubeVOSPostProcess: Ref-YouTube-VOS / MeViS
 * evaluation through main.py): logits → input size, sigmoid > 0.5, nearest → original size.
 */
export function trainerClipMasks(segmenter: ReferringSegmenter, clip: PreprocessedVideo, features: VideoFeatures, text: string): ClipMasks {
  return noGrad(() =>
    tidy(() => {
      const out = segmenter.decodeSentence(clip, features, text);
      // batch of one: the padded size is the resized size
      const post = postprocessYtvos(out, clip.resizedSize, [{ resizedSize: clip.resizedSize, originalSize: clip.originalSize }]);
      const v = post.videos[0]!;
      const [T, , H, W] = v.masks.shape as [number, number, number, number];
      return { masks: new Uint8Array(v.masks.contiguous().toBytes()), frames: T, height: H, width: W, selectedQuery: v.selectedQuery };
    }),
  );
}

/** Masks by the infer scripts' post-processing (logits bilinearly to the original size, sigmoid > threshold). */
export function inferClipMasks(segmenter: ReferringSegmenter, clip: PreprocessedVideo, features: VideoFeatures, text: string, threshold = 0.5): ClipMasks {
  const [r] = segmenter.segment(clip, [text], { threshold, features });
  try {
    const [T, H, W] = r!.masks.shape as [number, number, number];
    return { masks: new Uint8Array(r!.masks.contiguous().toBytes()), frames: T, height: H, width: W, selectedQuery: r!.selectedQuery };
  } finally {
    r!.masks.dispose();
  }
}

/**
 * infer_davis.py's per-clip probabilities: sigmoid of the selected query's logits bilinearly
 * resized to the original size, [T, H0, W0] float32 (not thresholded). The caller disposes it.
 */
export function inferClipProbabilities(segmenter: ReferringSegmenter, clip: PreprocessedVideo, features: VideoFeatures, text: string): { probabilities: Tensor; selectedQuery: number } {
  return noGrad(() =>
    tidy(() => {
      const post = postprocessInfer(segmenter.decodeSentence(clip, features, text), clip.originalSize);
      return { probabilities: post.logits.sigmoid(), selectedQuery: post.selectedQuery };
    }),
  );
}

/**
 * A2D / JHMDB: the annotated frame `centre` of a window decoded alone (valid_indices), and every
 * query's score and mask (COCO RLE at `originalSize`), as A2DSentencesPostProcess gives them.
 */
export function a2dFramePredictions(
  segmenter: ReferringSegmenter,
  clip: PreprocessedVideo,
  features: VideoFeatures,
  text: string,
  centre: number,
  originalSize: readonly [number, number],
): { scores: number[]; rles: CompressedRle[] } {
  return noGrad(() =>
    tidy(() => {
      const out = segmenter.decodeSentence(clip, features, text, [centre]);
      // flatten_temporal_batch_dims: [T=1, B=1, Q, …] → [1, Q, …]
      const predCls = out.predCls.flatten(0, 1);
      const predMasks = out.predMasks.flatten(0, 1);
      const [frame] = postprocessA2D(predCls, predMasks, clip.resizedSize, [clip.resizedSize], [originalSize]);
      return { scores: frame!.scores.toNumbers(), rles: frame!.rleMasks };
    }),
  );
}
