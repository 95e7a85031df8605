// Dataset readers for the five SOC++ benchmarks and the synthetic dataset generator.

export type { Clip, Mask, ReferringExpression, RgbImage, VideoRecord } from './types.js';
export { VideoDataset, PngMaskStore, type MaskStore } from './video-dataset.js';
export { RefYoutubeVos, YTVOS_CATEGORIES, type RefYoutubeVosOptions } from './ref-youtube-vos.js';
export { Mevis, RleMaskStore, type MevisMaskSource, type MevisOptions } from './mevis.js';
export type { MevisExpression, MevisVideoRecord } from './meta-expressions.js';
export { RefDavis17, DAVIS_ANNOTATION_SETS, readDavisTextAnnotations, type DavisExpression, type RefDavisLayout, type RefDavisOptions } from './ref-davis.js';
export {
  A2dSentences,
  type A2dFrameAnnotation,
  type A2dOptions,
  type A2dSample,
  type A2dSubset,
  type A2dTextAnnotation,
  type A2dVideo,
} from './a2d-sentences.js';
export { JhmdbSentences, readPuppetMasks, type JhmdbExpression, type JhmdbSample, type JhmdbVideo, type PuppetMasks } from './jhmdb-sentences.js';
export { loadRgbImage, loadLabelPng, encodeLabelPng, readImageSize, vocPalette } from './image.js';
export { readMatVariable, type MatArray } from './mat.js';
export { decodeVideoWithFfmpeg, type VideoDecoder } from './video.js';
export { decodeRle, encodeRle, type CocoRle } from './rle.js';
export { Rng, mixSeed } from './prng.js';
export { generateSynthDataset, synthClip, splitOf, videoId as synthVideoId, frameName as synthFrameName, SYNTH_DEFAULTS, type SynthFormat, type SynthOptions, type SynthSummary } from './synth.js';
export {
  generateClip,
  parseExpression as parseSynthExpression,
  SYNTH_COLOURS,
  SYNTH_DIRECTIONS,
  SYNTH_SHAPES,
  SYNTH_SIZES,
  SYNTH_VOCABULARY,
  type SynthClip,
  type SynthExpression,
  type SynthObject,
} from './synth-scene.js';
