// Inference: loading official checkpoints, segmenting clips for sentences, post-processing, the
// fixture replay.
export { ReferringSegmenter, disposeFeatures, type ModelFiles, type SentenceResult } from './predictor.js';
export { segmentVideo, checkOutputFolder, estimateBytesPerFrame, sentenceFolder, type SegmentOptions, type SegmentSummary, type OutputPart } from './segment.js';
export { selectReferredQuery, postprocessYtvos, postprocessInfer, postprocessA2D, mergeDavisObjects, boxesToPixels, type SocPrediction, type A2DFramePrediction } from './postprocess.js';
export { replayGolden, type GoldenReport, type GoldenRow, type GoldenOptions } from './golden.js';
