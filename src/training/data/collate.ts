// Collation of prepared clips into the model's inputs and the criterion's targets (spec training.md
// §3.4): videos zero-padded to the batch's largest T, H, W with a padding mask (true = padded),
// time-major [T, B, …]; targets as a list over time of lists over the batch. For datasets with a
// target on the middle frame only (A2D, JHMDB) the trainer's filtering is applied here: the
// annotated frames become `validIndices` (i + b·T, clip by clip) and the targets one time step.

import { SocError } from '../../errors.js';
import { nestedTensorFromVideosList } from '../../media/preprocess.js';
import { fromTypedArray, tensor, zeros } from '../../tensor/creation.js';
import { tidy } from '../../tensor/scope.js';
import type { Tensor } from '../../tensor/tensor.js';
import type { ClipTargets, FrameTarget } from '../targets.js';
import type { SocInputs } from '../../models/soc/soc.js';
import { type RobertaTokenizer, tokenBatchToInt64 } from '../../models/text/tokenizer.js';
import type { PreparedClip, PreparedFrameTarget } from './augment.js';

export interface TrainBatch {
  /** [T, B, 3, H, W] float32, zero padding */
  video: Tensor;
  /** [T, B, H, W] bool, true = padded pixel */
  videoMask: Tensor;
  /** targets[t][b] (A2D / JHMDB: one time step holding the annotated frames) */
  targets: ClipTargets;
  /** the annotated frames among the (b t)-flattened frames (A2D / JHMDB), else null */
  validIndices: Tensor | null;
  /** clips with companion expressions: for every expression's frame, its clip's (g t) frame index (SocInputs.frameIndex), else null */
  frameIndex: Tensor | null;
  /** [B, 2] int64: targets[0][b].size, which the dynamic mask head reads */
  targetSizes: Tensor;
  /** The normalised (and possibly flipped) expressions: one per clip, then its companions, clip by clip. */
  texts: string[];
  sampleIndices: number[];
}

/** One frame target as the criterion takes it. */
export function frameTargetTensors(t: PreparedFrameTarget): FrameTarget {
  const [h, w] = t.size;
  return {
    masks: fromTypedArray(t.mask, [1, h, w], 'bool'),
    boxes: fromTypedArray(Float32Array.from(t.box), [1, 4]),
    referredInstanceIdx: 0,
    isRefInstVisible: t.visible,
    size: t.size,
    origSize: t.origSize,
    ...(t.labels ? { labels: t.labels } : {}),
    iscrowd: zeros([t.numObjects]),
    ...(t.area ? { area: fromTypedArray(Float64Array.from(t.area)) } : {}),
    ...(t.imageId !== undefined ? { imageId: t.imageId } : {}),
    ...(t.caption !== undefined ? { caption: t.caption } : {}),
  };
}

/** Batches prepared clips. The tensors belong to the enclosing scope. */
export function collateClips(clips: readonly PreparedClip[]): TrainBatch {
  if (clips.length === 0) throw new SocError('cannot collate an empty batch');
  const { tensors: video, mask: videoMask } = tidy(() => nestedTensorFromVideosList(clips.map((c) => fromTypedArray(c.video, [c.numFrames, 3, c.height, c.width]))));
  const T = Math.max(...clips.map((c) => c.numFrames));
  // every expression of the batch: each clip's own, then its companions (which share its frames)
  const entries = clips.flatMap((c, g) => [{ g, text: c.text, targets: c.targets }, ...(c.companions ?? []).map((e) => ({ g, ...e }))]);
  const shared = entries.length > clips.length;
  const partial = entries.some((e) => e.targets.some((t) => t === null));
  if (shared && partial) throw new SocError('companion expressions need targets on every frame (window datasets)');
  let targets: ClipTargets;
  let validIndices: Tensor | null = null;
  if (partial) {
    // keep only the annotated frames, clip by clip (the trainer's loop over b, then t)
    const indices: number[] = [];
    const kept: FrameTarget[] = [];
    clips.forEach((c, b) =>
      c.targets.forEach((t, i) => {
        if (!t) return;
        indices.push(i + b * T);
        kept.push(frameTargetTensors(t));
      }),
    );
    if (kept.length === 0) throw new SocError('no annotated frame in the batch');
    validIndices = tensor(indices, { dtype: 'int64' });
    targets = [kept];
  } else {
    if (clips.some((c) => c.numFrames !== T)) throw new SocError('every clip of a batch needs the same number of frames (targets[t][b])');
    targets = Array.from({ length: T }, (_, t) => entries.map((e) => frameTargetTensors(e.targets[t]!)));
  }
  const frameIndex = shared ? tensor(entries.flatMap((e) => Array.from({ length: T }, (_, t) => e.g * T + t)), { dtype: 'int64' }) : null;
  const targetSizes = tensor(
    targets[0]!.map((t) => [t.size[0], t.size[1]]),
    { dtype: 'int64' },
  );
  return { video, videoMask, targets, validIndices, frameIndex, targetSizes, texts: entries.map((e) => e.text), sampleIndices: clips.map((c) => c.sampleIndex) };
}

/** The model inputs of a collated batch, its texts tokenised (call inside `tidy`). */
export function batchModelInputs(batch: TrainBatch, tokenizer: RobertaTokenizer): SocInputs {
  const tokens = tokenBatchToInt64(tokenizer.encodeBatch(batch.texts));
  return {
    video: batch.video,
    videoMask: batch.videoMask,
    inputIds: fromTypedArray(tokens.inputIds, tokens.shape),
    attentionMask: fromTypedArray(tokens.attentionMask, tokens.shape),
    targetSizes: batch.targetSizes,
    validIndices: batch.validIndices,
    frameIndex: batch.frameIndex,
  };
}
