// soc-ts: SOC++ / SOC referring video object segmentation on libtorch.
//   import { torch, nn, models, inference, evaluation, training, io } from 'soc-ts';
export * as torch from './tensor/index.js';
export * as nn from './nn/index.js';
export * as models from './models/index.js';
export * as inference from './inference/index.js';
export * as evaluation from './evaluation/index.js';
export * as training from './training/index.js';
export * as io from './io/checkpoint.js';
export * as data from './data/index.js';
export * as media from './media/index.js';
export { cocoEval } from './evaluation/index.js';
export { SocError, UsageError, FileFormatError } from './errors.js';
