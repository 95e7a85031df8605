// torch.nn for soc-ts: Module, layers, init and functional.
export { Module, ModuleList, Sequential, StateDictError, type StateDict, type LoadResult, type TensorModule } from './module.js';
export * from './layers.js';
export * as init from './init.js';
export * as F from './functional.js';
