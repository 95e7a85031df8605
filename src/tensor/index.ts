// The tensor API: `import * as torch from '../tensor/index.js'` gives torch.zeros, torch.cat …
export { Tensor, isTensor, type Shape, type TensorOrScalar } from './tensor.js';
export * from './creation.js';
export { type DType, DTYPES, ITEM_SIZE, isFloating } from './dtype.js';
export { tidy, keep, disposeAll, scopeDepth } from './scope.js';
export { noGrad, enableGrad, isGradEnabled, setGradEnabled, backward, grad } from './autograd.js';
export { Generator, manualSeed, defaultGenerator } from './random.js';
export { op, opSchema, asFloat } from './dispatch.js';
export { setNumThreads, getNumThreads, libtorchVersion } from './runtime.js';
