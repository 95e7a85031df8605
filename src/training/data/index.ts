// Training data pipelines: sample lists, ground truth, augmentations, collation and the
// worker-thread loader for Ref-YouTube-VOS, MeViS, A2D-Sentences, JHMDB-Sentences and `soc synth`.
export { normaliseText, swapLeftRight } from './text.js';
export { type BoxXyxy, type RawFrameTarget, maskBox, labelMask, objectLabels, unionTarget, windowTargetsFromLabels } from './annotations.js';
export {
  type ObjIdStyle,
  type WindowSample,
  type WindowSampling,
  WINDOW_SAMPLINGS,
  cutWindows,
  stridedWindows,
  windowsOf,
  generateWindowSamples,
  labelOfObject,
  readSamplesMetadata,
  samplesMetadataName,
  samplesToJson,
  writeSamplesMetadata,
} from './windows.js';
export {
  type AugmentConfig,
  type PreparedClip,
  type PreparedFrameTarget,
  type RawClip,
  augmentClip,
  evalAugment,
  flipBox,
  flipImage,
  flipMask,
  photometricDistort,
  standardNormal,
} from './augment.js';
export {
  ClipSource,
  DATASET_KINDS,
  type DataSpec,
  type DatasetKind,
  type TrainSample,
  centreWindow,
  isCentreFrameDataset,
  objIdStyleOf,
  referenceDatasetName,
} from './sources.js';
export { type TrainBatch, collateClips, frameTargetTensors } from './collate.js';
export { ClipLoader, type LoaderOptions, type LoadedBatch, companionsOf, prepareSample, sampleSeed } from './loader.js';
export { type ValidationResult, validateVideos, validateCentreFrames } from './validation.js';
