// Training: the Hungarian matcher, the criterion, AdamW / MultiStepLR / clipping as the reference
// trainer uses them, and the replay of training fixtures.
export { type FrameTarget, type ClipTargets, targetDims, padMasks } from './targets.js';
export { boxCxcywhToXyxy, boxArea, boxIou, generalizedBoxIou } from './box-ops.js';
export { HungarianMatcher, DEFAULT_MATCHER_COSTS, type MatcherCosts, type ClipMatch, type MatchResult, assignQueries, diceCoefficient, referredClassCost } from './matcher.js';
export {
  SetCriterion,
  buildCriterion,
  weightDictOf,
  LossConfigSchema,
  type LossConfig,
  LOSS_NAMES,
  type LossName,
  type CriterionOutput,
  type CriterionLevel,
  sigmoidFocalLoss,
  diceLoss,
} from './criterion.js';
export { AdamW, MultiStepLR, clipGradNorm, trainerParamGroups, type ParamGroup, type TrainerLrs, type ClipResult } from './optim.js';
export { stochasticModules, disableStochasticModules, type StochasticModule } from './stochastic.js';
export { replayGoldenTrain, targetsFrom, type TrainGoldenReport, type TrainGoldenRow, type TrainGoldenOptions } from './golden-train.js';
export * from './data/index.js';
export { train, resolveTrainConfig, loadInitWeights, writeLossCurve, SYNTH_SMALL_CONFIG, TRAIN_CONFIG_PRESETS, type TrainEvent, type TrainOptions, type TrainSummary } from './trainer.js';
