// The SOC / SOC++ model family and its parts.
export { SOC, type SocInputs, type SocOutput, type SocLayerOutput, type VideoFeatures, type SocHook } from './soc/soc.js';
export { loadSocConfig, parseSocConfig, presetNames, swinConfigOf, SocConfigSchema, type SocConfig } from './soc/config.js';
export { VOC, type VOCConfig } from './soc/voc.js';
export { FPNSpatialDecoder, bmrw, dynamicMaskWithCoords } from './soc/heads.js';
export { SwinTransformer3D, Joiner, swinConfig, SWIN_PRESETS, type SwinConfig } from './backbone/video_swin.js';
export { loadKineticsSwin, convertKineticsSwinState } from './backbone/kinetics.js';
export { RobertaModel, RobertaConfigSchema, ROBERTA_BASE_CONFIG, type RobertaConfig } from './text/roberta.js';
export { loadRobertaFromFolder, loadRobertaWeights, readRobertaConfig } from './text/roberta_hf.js';
export { RobertaTokenizer, loadRobertaTokenizer, buildSmallBpeTokenizerFiles } from './text/tokenizer.js';
export { DeformableTransformer, MSDeformAttn, type DeformSampling } from './transformer/deformable_transformer.js';
