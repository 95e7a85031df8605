// `soc train`: the reference Trainer's loop (trainer.py, spec training.md §2) on the soc-ts model,
// criterion and optimizer, fed by the worker-thread data pipelines of ./data.
//
// Per iteration: collate → tokenize → forward → criterion → finite check → zero_grad → backward →
// clip_grad_norm_(clip_max_norm) → AdamW step, all in one tidy scope. Per epoch: MultiStepLR.step,
// evaluation with the dataset's metric, a checkpoint `checkpoints/{epoch:02d}.pth.tar` in the
// reference trainer's format (torch.load reads it; its load_checkpoint resumes from it) and
// `best.pth.tar`, both written atomically, so a run killed at any moment loses at most the epoch in
// progress and never damages a finished checkpoint.
//
// Exact resume: a checkpoint also holds, under `soc_ts`, the state of the random generator the
// model's dropouts draw from, the seed and the global iteration. The data order and every
// augmentation depend only on (seed, epoch, sample index), so a resumed run trains on exactly the
// batches an uninterrupted one would, and (single-threaded) ends with bit-identical parameters.
//
// Best checkpoint: A2D / JHMDB by COCO mAP (`best_mAP`, as the reference); datasets whose validation
// split has ground truth by J&F (`soc_ts.best_metric`); otherwise by the summed epoch training loss
// (`best_loss`, as the reference, which cannot score Ref-YouTube-VOS / MeViS validation locally).

import { appendFileSync, copyFileSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import sharp from 'sharp';
import { SocError, UsageError } from '../errors.js';
import { SYNTH_VOCABULARY } from '../data/synth-scene.js';
import { PyFloat, loadStateDict, loadTorchFile, saveTorchFile } from '../io/checkpoint.js';
import { temporarySibling, writeFileAtomic } from '../media/output.js';
import { A2D_RESIZE, YTVOS_RESIZE } from '../media/preprocess.js';
import { loadKineticsSwin } from '../models/backbone/kinetics.js';
import { type SocConfig, loadSocConfig, parseSocConfig, presetNames, setDotted } from '../models/soc/config.js';
import { SOC } from '../models/soc/soc.js';
import { loadRobertaWeights, readRobertaConfig, robertaWeightFile } from '../models/text/roberta_hf.js';
import { RobertaTokenizer, buildSmallBpeTokenizerFiles } from '../models/text/tokenizer.js';
import type { DeformSampling } from '../models/transformer/deformable_transformer.js';
import { defaultGenerator, manualSeed } from '../tensor/random.js';
import { getNumThreads, setNumThreads } from '../tensor/runtime.js';
import { tidy } from '../tensor/scope.js';
import { type Tensor, isTensor } from '../tensor/tensor.js';
import { buildCriterion } from './criterion.js';
import { type AugmentConfig, evalAugment } from './data/augment.js';
import { batchModelInputs, collateClips } from './data/collate.js';
import { ClipLoader } from './data/loader.js';
import { ClipSource, type DataSpec, type DatasetKind, type TrainSample, isCentreFrameDataset, referenceDatasetName } from './data/sources.js';
import { WINDOW_SAMPLINGS, type WindowSampling } from './data/windows.js';
import { type ValidationResult, validateCentreFrames, validateVideos } from './data/validation.js';
import { AdamW, MultiStepLR, clipGradNorm, trainerParamGroups } from './optim.js';

/**
 * `--config synth-small`: a small SOC++ for the synthetic dataset (96×160 frames, a byte-level BPE
 * tokenizer of the synthetic vocabulary). Video-Swin at width 16, a 2-layer RoBERTa of width 64
 * trained from scratch (not frozen: there are no pretrained weights for its vocabulary), d_model
 * 128, 5 queries. The training keys follow the reference's names. Unlike the official configs
 * (pretrained backbone and text encoder, lr 1e-4 / 1e-5), everything here learns from scratch, so
 * all groups share one lr, 2e-4: 5e-4 without dropout led for ~2,000 iterations, then its loss
 * stalled at ~13.7 where 2e-4 went on to ~10 (4-frame clips); 1e-3 stalled from the start.
 */
export const SYNTH_SMALL_CONFIG: Record<string, unknown> = {
  variant: 'socpp',
  backbone: 'video-swin-t',
  backbone_swin_config: {
    patch_size: [1, 4, 4],
    embed_dim: 16,
    depths: [2, 2, 2, 2],
    num_heads: [1, 2, 4, 8],
    window_size: [2, 7, 7],
    mlp_ratio: 4.0,
    qkv_bias: true,
    qk_scale: null,
    drop_rate: 0.0,
    attn_drop_rate: 0.0,
    drop_path_rate: 0.1,
    patch_norm: true,
    use_checkpoint: false,
  },
  text_encoder_config: {
    vocab_size: 64,
    hidden_size: 64,
    num_hidden_layers: 2,
    num_attention_heads: 4,
    intermediate_size: 128,
    hidden_dropout_prob: 0.1,
    attention_probs_dropout_prob: 0.1,
    max_position_embeddings: 40,
    type_vocab_size: 1,
    layer_norm_eps: 1e-5,
    pad_token_id: 1,
    bos_token_id: 0,
    eos_token_id: 2,
  },
  DeformTransformer: { enc_layers: 2, dec_layers: 2, dim_feedforward: 256, d_model: 128, dropout: 0.1, nheads: 4, num_queries: 5, num_feature_levels: 4, dec_n_points: 4, enc_n_points: 4, two_stage: false },
  VOC: { input_dim: 128, window_size: 0, num_frame_queries: 5, num_frames: 8, num_queries: 5, nheads: 4, dim_feedforward: 256, enc_layers: 1, dec_layers: 2 },
  use_proxymmf: true,
  num_proxy_query: 5,
  freeze_text_encoder: false,
  dataset_name: 'mevis',
  lr: 2e-4,
  lr_backbone: 2e-4,
  text_encoder_lr: 2e-4,
  weight_decay: 1e-4,
  clip_max_norm: 0.1,
  lr_drop: [12],
  epochs: 16,
  train_short_size: 96,
  train_max_size: 160,
  eval_short_size: 96,
  eval_max_size: 160,
  horizontal_flip_augmentations: true,
  random_color: false,
  seed: 42,
};

export const TRAIN_CONFIG_PRESETS = ['synth-small'] as const;

export type TrainEvent =
  | { type: 'info'; message: string }
  | { type: 'epoch-start'; epoch: number; epochs: number; batches: number }
  | { type: 'iteration'; epoch: number; batch: number; batches: number; loss: number; lr: number; dataSeconds: number; stepSeconds: number }
  | { type: 'epoch-end'; epoch: number; loss: number; meanLoss: number; iterations: number; seconds: number }
  | { type: 'eval-start'; epoch: number }
  | { type: 'eval'; epoch: number; result: ValidationResult | null; note?: string }
  | { type: 'checkpoint'; epoch: number; path: string; best: boolean };

export interface TrainOptions {
  /** Preset (socpp-swin-t …, synth-small), reference YAML or JSON config. Default with --resume: the run's config.json. */
  config?: string;
  /** Dotted `--set` overrides, applied last. */
  overrides?: Record<string, unknown>;
  dataset: DatasetKind;
  dataRoot: string;
  /** Run folder: config.json, tokenizer/, checkpoints/, log.jsonl, loss.png. Default with --resume: the checkpoint's run folder. */
  out?: string;
  /** Kinetics Video-Swin checkpoint for the backbone (the reference's backbone_pretrained_path). */
  pretrainedBackbone?: string;
  /** roberta-base folder: its config, weights and (unless --tokenizer) tokenizer. */
  textEncoder?: string;
  tokenizer?: string;
  /** Model weights to start from: class_embed dropped, loaded non-strictly (the reference's -pw). */
  init?: string;
  /** A checkpoint written by `soc train` (or the reference trainer) to continue. */
  resume?: string;
  epochs?: number;
  lrDrop?: number[];
  batchSize?: number;
  window?: number;
  seed?: number;
  /** One intra-op thread (bit-identical reruns and resumes). */
  deterministic?: boolean;
  threads?: number;
  /** At most this many iterations per epoch (quick runs); evaluation and the checkpoint follow. */
  maxIters?: number;
  /** Data-loading worker threads (default 1; 0 = main thread) and batches prepared ahead (default 2). */
  workers?: number;
  prefetch?: number;
  /** A train_samples_metadata JSON to use instead of generating the sample list. */
  samplesMetadata?: string;
  /** Evaluate after each epoch (default true). */
  evaluate?: boolean;
  /** Evaluate on the first N validation videos / samples only. */
  evalLimit?: number;
  sampling?: DeformSampling;
  /** Stops the run before the next iteration (the epoch in progress is not saved). */
  signal?: AbortSignal;
  onEvent?: (e: TrainEvent) => void;
}

export interface TrainSummary {
  out: string;
  epochsRun: number;
  lastEpoch: number;
  iterations: number;
  interrupted: boolean;
  lastCheckpoint: string | null;
  best: { name: string; value: number } | null;
  secondsPerIteration: number;
  dataSecondsPerIteration: number;
}

/** Training hyper-parameters read from the config (the reference YAML's names), with its defaults. */
interface Hyper {
  lr: number;
  lrBackbone: number;
  textEncoderLr: number;
  weightDecay: number;
  clipMaxNorm: number;
  lrDrop: number[];
  gamma: number;
  epochs: number;
  augment: AugmentConfig;
  evalShort: number;
  evalMax: number | null;
  /** soc-ts options (config keys `window_sampling`, `expressions_per_clip`); the reference: consecutive, 1. */
  windowSampling: WindowSampling;
  expressionsPerClip: number;
}

const CHECKPOINT_FORMAT = 1;

function num(raw: Record<string, unknown>, key: string, fallback: number): number {
  const v = raw[key];
  if (v === undefined || v === null) return fallback;
  const n = typeof v === 'string' ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isFinite(n)) throw new UsageError(`config key '${key}' must be a number, got ${JSON.stringify(v)}`);
  return n;
}

function windowSamplingOf(v: unknown): WindowSampling {
  if (v === undefined || v === null) return 'consecutive';
  if (!(WINDOW_SAMPLINGS as readonly unknown[]).includes(v)) throw new UsageError(`config key 'window_sampling' must be one of ${WINDOW_SAMPLINGS.join(', ')}, got ${JSON.stringify(v)}`);
  return v as WindowSampling;
}

function positiveIntOf(raw: Record<string, unknown>, key: string, fallback: number): number {
  const n = num(raw, key, fallback);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`config key '${key}' must be a positive integer, got ${JSON.stringify(raw[key])}`);
  return n;
}

function hyperOf(config: SocConfig, dataset: DatasetKind, o: TrainOptions): Hyper {
  const raw = config as Record<string, unknown>;
  const rule = isCentreFrameDataset(dataset) ? A2D_RESIZE : YTVOS_RESIZE;
  const trainShort = num(raw, 'train_short_size', rule.shortSide);
  const scales = Array.isArray(raw.train_scales) ? (raw.train_scales as unknown[]).map(Number) : [trainShort];
  const crop = raw.random_crop as { min_size?: number; max_size?: number; probability?: number } | undefined;
  const lrDrop = o.lrDrop ?? (Array.isArray(raw.lr_drop) ? (raw.lr_drop as unknown[]).map(Number) : [20]);
  return {
    lr: num(raw, 'lr', 1e-4),
    lrBackbone: num(raw, 'lr_backbone', 1e-5),
    textEncoderLr: num(raw, 'text_encoder_lr', 1e-5),
    weightDecay: num(raw, 'weight_decay', 1e-4),
    clipMaxNorm: num(raw, 'clip_max_norm', 0.1),
    lrDrop,
    // the reference's only per-dataset schedule difference
    gamma: dataset === 'a2d' ? 0.2 : 0.1,
    epochs: o.epochs ?? num(raw, 'epochs', 30),
    augment: {
      hflip: raw.horizontal_flip_augmentations !== false,
      colorJitter: raw.random_color === true,
      scales,
      maxSize: raw.train_max_size === null ? null : num(raw, 'train_max_size', rule.maxSize ?? 640),
      crop: crop ? { minSize: Number(crop.min_size ?? 284), maxSize: Number(crop.max_size ?? 400), probability: Number(crop.probability ?? 0.5) } : null,
    },
    evalShort: num(raw, 'eval_short_size', rule.shortSide),
    evalMax: raw.eval_max_size === null ? null : num(raw, 'eval_max_size', rule.maxSize ?? 640),
    windowSampling: windowSamplingOf(raw.window_sampling),
    expressionsPerClip: positiveIntOf(raw, 'expressions_per_clip', 1),
  };
}

/** The run's model configuration: preset / file / synth-small, the text encoder's config, overrides. */
export function resolveTrainConfig(spec: string, overrides: Record<string, unknown>, textEncoder?: string): SocConfig {
  const base: Record<string, unknown> = {};
  if (textEncoder && existsSync(join(textEncoder, 'config.json'))) base.text_encoder_config = readRobertaConfig(textEncoder);
  if (spec === 'synth-small') {
    const merged: Record<string, unknown> = structuredClone(SYNTH_SMALL_CONFIG);
    if (base.text_encoder_config) merged.text_encoder_config = base.text_encoder_config;
    for (const [k, v] of Object.entries(overrides)) setDotted(merged, k, v);
    return parseSocConfig(merged, 'synth-small');
  }
  if (!presetNames().includes(spec) && !existsSync(spec)) {
    throw new UsageError(`--config '${spec}' is neither a preset (${[...presetNames(), ...TRAIN_CONFIG_PRESETS].join(', ')}) nor a file`);
  }
  return loadSocConfig(spec, overrides, base);
}

/** Files of a tokenizer folder worth copying beside the checkpoints (never the weights). */
const TOKENIZER_FILES = ['tokenizer.json', 'vocab.json', 'merges.txt', 'tokenizer_config.json', 'special_tokens_map.json', 'added_tokens.json'];

/**
 * The run's tokenizer, copied into `<out>/tokenizer`: --tokenizer, else the --text-encoder folder,
 * else (synthetic data) a byte-level BPE learnt from the synthetic vocabulary.
 */
function prepareTokenizer(o: TrainOptions, out: string, config: SocConfig): { tokenizer: RobertaTokenizer; dir: string; note: string } {
  const dir = join(out, 'tokenizer');
  mkdirSync(dir, { recursive: true });
  const from = o.tokenizer ?? o.textEncoder;
  let note: string;
  if (from && resolve(from) === resolve(dir)) {
    note = `tokenizer from ${dir}`;
  } else if (from) {
    let copied = 0;
    for (const f of TOKENIZER_FILES) {
      if (existsSync(join(from, f))) {
        copyFileSync(join(from, f), join(dir, f));
        copied++;
      }
    }
    if (copied === 0) throw new UsageError(`${from} holds no tokenizer files (tokenizer.json, or vocab.json + merges.txt)`);
    note = `tokenizer from ${from}`;
  } else if (o.dataset === 'synth') {
    const files = buildSmallBpeTokenizerFiles(SYNTH_VOCABULARY);
    for (const [name, content] of Object.entries(files.files)) writeFileSync(join(dir, name), content);
    note = `tokenizer: byte-level BPE of the synthetic vocabulary (${files.vocabSize} ids)`;
  } else {
    throw new UsageError('no tokenizer: give --text-encoder DIR (the roberta-base folder) or --tokenizer DIR');
  }
  const maxLength = config.text_encoder_config.max_position_embeddings - config.text_encoder_config.pad_token_id - 1;
  return { tokenizer: RobertaTokenizer.fromFolder(dir, { maxLength }), dir, note };
}

/** Loads model weights to fine-tune from: the reference's pre_trained_model_to_finetune (class_embed dropped, strict = false). */
export function loadInitWeights(model: SOC, path: string): string[] {
  const state = loadStateDict(path);
  try {
    const dropped: string[] = [];
    for (let l = 0; l < model.config.DeformTransformer.dec_layers; l++) {
      for (const k of [`class_embed.${l}.weight`, `class_embed.${l}.bias`]) {
        const t = state.get(k);
        if (!t) continue;
        t.dispose();
        state.delete(k);
        dropped.push(k);
      }
    }
    const r = model.loadStateDict(state, { strict: false, source: path });
    const notes = [`--init ${path}: dropped ${dropped.length ? dropped.join(', ') : 'nothing'} (class_embed is re-learnt, as the reference fine-tunes)`];
    const missing = r.missingKeys.filter((k) => !k.startsWith('class_embed.'));
    if (missing.length) notes.push(`--init: ${missing.length} model key(s) not in the checkpoint keep their initialisation: ${missing.slice(0, 8).join(', ')}${missing.length > 8 ? ', …' : ''}`);
    if (r.unexpectedKeys.length) notes.push(`--init: ignored ${r.unexpectedKeys.length} checkpoint key(s) the model does not have: ${r.unexpectedKeys.slice(0, 8).join(', ')}${r.unexpectedKeys.length > 8 ? ', …' : ''}`);
    return notes;
  } finally {
    for (const t of state.values()) t.dispose();
  }
}

interface LogEntry {
  type: string;
  epoch?: number;
  loss?: number;
  mean_loss?: number;
  [k: string]: unknown;
}

/** What a checkpoint restores besides the model, optimizer and scheduler. */
interface ResumeState {
  epoch: number;
  totalEpochs: number;
  bestLoss: number;
  bestMap: number;
  bestMetric: { name: string; value: number } | null;
  iteration: number;
  seed: number | null;
  rngState: Tensor | null;
  data: { dataset?: string; window?: number; batch_size?: number; max_iters?: number; window_sampling?: string; expressions_per_clip?: number } | null;
}

/** Runs `soc train`. */
export async function train(o: TrainOptions): Promise<TrainSummary> {
  const emit = (e: TrainEvent) => o.onEvent?.(e);
  const info = (message: string) => emit({ type: 'info', message });

  // ---- resume state first: it decides the run folder, the seed and the epochs
  let resumeState: ResumeState | null = null;
  let resumeCheckpoint: Map<string, unknown> | null = null;
  if (o.resume) {
    const loaded = loadTorchFile(o.resume);
    if (!(loaded instanceof Map) || !loaded.has('model_state_dict')) throw new UsageError(`--resume ${o.resume}: not a trainer checkpoint (no model_state_dict)`);
    resumeCheckpoint = loaded as Map<string, unknown>;
    resumeState = readResumeState(resumeCheckpoint, o.resume);
  }
  const runDir = o.resume ? dirname(dirname(resolve(o.resume))) : null;
  const out = resolve(o.out ?? runDir ?? '');
  if (!o.out && !o.resume) throw new UsageError('give --out DIR (the run folder)');
  // a resumed run takes the run folder's resolved config (overrides included) and tokenizer by default
  const configSpec = o.config ?? (runDir && existsSync(join(runDir, 'config.json')) ? join(runDir, 'config.json') : undefined);
  if (!configSpec) throw new UsageError(o.resume ? `give --config: there is no config.json in the run folder ${runDir}` : 'give --config');
  const runTokenizer = runDir && !o.tokenizer && !o.textEncoder && existsSync(join(runDir, 'tokenizer')) ? join(runDir, 'tokenizer') : undefined;
  mkdirSync(join(out, 'checkpoints'), { recursive: true });

  if (o.deterministic) setNumThreads(o.threads ?? 1);
  else if (o.threads) setNumThreads(o.threads);

  // ---- configuration and tokenizer
  let config = resolveTrainConfig(configSpec, o.overrides ?? {}, o.textEncoder);
  const hasTextWeights = !!o.textEncoder && existsSync(o.textEncoder) && (() => {
    try {
      robertaWeightFile(o.textEncoder!);
      return true;
    } catch {
      return false;
    }
  })();
  const { tokenizer, note: tokNote } = prepareTokenizer({ ...o, tokenizer: o.tokenizer ?? runTokenizer }, out, config);
  info(tokNote);
  if (!hasTextWeights && tokenizer.vocabSize !== config.text_encoder_config.vocab_size && !o.init && !o.resume) {
    // a text encoder trained from scratch gets exactly the tokenizer's vocabulary
    info(`text encoder vocabulary sized to the tokenizer: ${tokenizer.vocabSize} ids (config said ${config.text_encoder_config.vocab_size})`);
    config = parseSocConfig({ ...config, text_encoder_config: { ...config.text_encoder_config, vocab_size: tokenizer.vocabSize } }, 'train config');
  }
  if (tokenizer.vocabSize > config.text_encoder_config.vocab_size) {
    throw new UsageError(`the tokenizer has ${tokenizer.vocabSize} ids but the text encoder only ${config.text_encoder_config.vocab_size}; give a matching --tokenizer / --text-encoder or --set text_encoder_config.vocab_size=${tokenizer.vocabSize}`);
  }
  config = parseSocConfig({ ...config, dataset_name: referenceDatasetName(o.dataset) }, 'train config');
  // the reference seeds torch with config.seed (+ rank) before building the model
  const configSeed = (config as Record<string, unknown>).seed;
  const seed = o.seed ?? resumeState?.seed ?? (typeof configSeed === 'number' && Number.isInteger(configSeed) && configSeed >= 0 ? configSeed : 42);
  manualSeed(seed);
  writeFileAtomic(join(out, 'config.json'), new TextEncoder().encode(`${JSON.stringify(config, null, 2)}\n`));
  const hyper = hyperOf(config, o.dataset, o);
  const epochs = o.epochs ?? resumeState?.totalEpochs ?? hyper.epochs;
  const window = o.window ?? resumeState?.data?.window ?? 8;
  const batchSize = o.batchSize ?? resumeState?.data?.batch_size ?? 1;
  // (A2D / JHMDB decode one frame per clip, T = 1, where the reshape cannot mix anything)
  if ((hyper.expressionsPerClip > 1 || batchSize > 1) && !isCentreFrameDataset(o.dataset) && !config.VOC.separate_batch_elements) {
    info(
      `note: a batch holds several sentences; VOC mixes their frame queries as the reference does when B > 1 ` +
        `(--set VOC.separate_batch_elements=true trains each as if alone)`,
    );
  }
  const maxIters = o.maxIters ?? resumeState?.data?.max_iters;
  if (resumeState?.data) {
    const d = resumeState.data;
    const sampled = (d.window_sampling && d.window_sampling !== hyper.windowSampling) || (d.expressions_per_clip && d.expressions_per_clip !== hyper.expressionsPerClip);
    if ((d.dataset && d.dataset !== o.dataset) || (d.window && d.window !== window) || (d.batch_size && d.batch_size !== batchSize) || (d.max_iters ?? null) !== (maxIters ?? null) || sampled) {
      info(
        `warning: the checkpoint was trained with dataset ${d.dataset}, window ${d.window}, batch ${d.batch_size}, max-iters ${d.max_iters ?? '-'}` +
          `${d.window_sampling ? `, ${d.window_sampling} windows, ${d.expressions_per_clip ?? 1} expression(s) per clip` : ''}; ` +
          `this run uses ${o.dataset}, ${window}, ${batchSize}, ${maxIters ?? '-'}, ${hyper.windowSampling} windows, ${hyper.expressionsPerClip} expression(s) per clip: ` +
          'it will not continue exactly as the uninterrupted run would',
      );
    }
  }

  // ---- model, criterion, optimizer, scheduler
  const model = new SOC(config, { sampling: o.sampling ?? 'gather' });
  let loader: ClipLoader | null = null;
  const optimizerBox: { optimizer: AdamW | null } = { optimizer: null };
  try {
    if (o.pretrainedBackbone && !o.resume) {
      loadKineticsSwin(o.pretrainedBackbone, model.backbone.backbone.body);
      info(`backbone: Kinetics Video-Swin weights from ${o.pretrainedBackbone}`);
    }
    if (hasTextWeights && !o.resume) for (const n of loadRobertaWeights(model.textEncoder, o.textEncoder!)) info(n);
    if (o.init && !o.resume) for (const n of loadInitWeights(model, o.init)) info(n);
    const criterion = buildCriterion(config);
    const optimizer = new AdamW(trainerParamGroups(model, { lr: hyper.lr, lrBackbone: hyper.lrBackbone, textEncoderLr: hyper.textEncoderLr, weightDecay: hyper.weightDecay }));
    optimizerBox.optimizer = optimizer;
    const scheduler = new MultiStepLR(optimizer, hyper.lrDrop, hyper.gamma);
    let startEpoch = 0;
    let iteration = 0;
    let bestLoss = Infinity;
    let bestMap = 0;
    let bestMetric: { name: string; value: number } | null = null;
    if (resumeCheckpoint && resumeState) {
      const state = resumeCheckpoint.get('model_state_dict') as Map<string, Tensor>;
      model.loadStateDict(state, { strict: true, source: o.resume });
      optimizer.loadStateDict(resumeCheckpoint.get('optimizer_state_dict'));
      scheduler.loadStateDict(resumeCheckpoint.get('scheduler_state_dict'));
      // The checkpoint's milestones win (as torch's load_state_dict does) unless --lr-drop is given.
      const saved = [...scheduler.milestones].flatMap(([m, times]) => Array<number>(times).fill(m)).sort((a, b) => a - b);
      const wanted = [...(o.lrDrop ?? [])].sort((a, b) => a - b);
      if (o.lrDrop && wanted.join(',') !== saved.join(',')) {
        scheduler.setMilestones(wanted);
        info(`warning: --lr-drop ${wanted.join(',')} replaces the checkpoint's milestones (${saved.join(',') || 'none'}); lr now ${optimizer.paramGroups.map((g) => g.lr.toExponential(2)).join(' / ')}: it will not continue exactly as the uninterrupted run would`);
      }
      startEpoch = resumeState.epoch + 1;
      iteration = resumeState.iteration;
      bestLoss = resumeState.bestLoss;
      bestMap = resumeState.bestMap;
      bestMetric = resumeState.bestMetric;
      if (resumeState.rngState) defaultGenerator().setState(resumeState.rngState);
      disposeDeep(resumeCheckpoint);
      resumeCheckpoint = null;
      info(`resumed from ${o.resume}: epoch ${startEpoch} of ${epochs}, lr ${optimizer.paramGroups.map((g) => g.lr.toExponential(2)).join(' / ')}`);
    }

    // ---- data
    const spec: DataSpec = { dataset: o.dataset, root: o.dataRoot, split: 'train', window, windowSampling: hyper.windowSampling };
    if (hyper.expressionsPerClip > 1 && isCentreFrameDataset(o.dataset)) throw new UsageError(`expressions_per_clip ${hyper.expressionsPerClip}: several expressions per clip need a window dataset (mevis, ref-youtube-vos, synth), not ${o.dataset}`);
    const source = await ClipSource.open(spec);
    const samples = await source.samples({ metadataFile: o.samplesMetadata, writeMetadataDir: out, seed });
    loader = await ClipLoader.create({ spec, samples, augment: hyper.augment, seed, workers: o.workers, prefetch: o.prefetch, expressionsPerClip: hyper.expressionsPerClip });
    const batchesPerEpoch = Math.min(loader.numBatches(batchSize), maxIters ?? Infinity);
    const extras = [
      ...(hyper.windowSampling !== 'consecutive' ? [`${hyper.windowSampling} windows`] : []),
      ...(hyper.expressionsPerClip > 1 ? [`up to ${hyper.expressionsPerClip} expressions per clip`] : []),
    ];
    info(
      `${samples.length} training samples (${o.dataset}, window ${window}${extras.map((e) => `, ${e}`).join('')}), ${batchesPerEpoch} iterations per epoch of batch ${batchSize}, ` +
        `${loader.workerCount} loader worker(s), ${getNumThreads()} libtorch thread(s)`,
    );
    const validation = o.evaluate === false ? null : await openValidation(o, window, hyper);
    if (validation?.note) info(validation.note);

    const logPath = join(out, 'log.jsonl');
    const history = readHistory(logPath, startEpoch);
    const log = (entry: LogEntry) => {
      appendFileSync(logPath, `${JSON.stringify(entry)}\n`);
      history.push(entry);
    };
    log({ type: o.resume ? 'resume' : 'start', epoch: startEpoch, time: new Date().toISOString(), dataset: o.dataset, data_root: o.dataRoot, config: configSpec, seed, window, batch_size: batchSize, epochs, samples: samples.length, threads: getNumThreads() });

    let lastCheckpoint: string | null = null;
    let interrupted = false;
    let stepTotal = 0;
    let dataTotal = 0;
    let stepCount = 0;
    let epoch = startEpoch;
    for (; epoch < epochs; epoch++) {
      model.train();
      emit({ type: 'epoch-start', epoch, epochs, batches: batchesPerEpoch });
      const t0 = performance.now();
      let epochLoss = 0;
      let epochIters = 0;
      for await (const { clips, waitSeconds } of loader.batches(epoch, batchSize, { limit: batchesPerEpoch })) {
        // one event-loop turn per step: when the next batch is already there, awaiting it is a
        // microtask, and without this turn worker results and signals (Ctrl-C) would wait
        const y0 = performance.now();
        await new Promise<void>((r) => setImmediate(r));
        // time off the step: waiting for the batch, plus main-thread loading done during that turn
        const dataSeconds = waitSeconds + (performance.now() - y0) / 1000;
        if (o.signal?.aborted) {
          interrupted = true;
          break;
        }
        const s0 = performance.now();
        const r = tidy(() => {
          const batch = collateClips(clips);
          const outputs = model.forward(batchModelInputs(batch, tokenizer));
          const crit = criterion.forward(outputs, batch.targets);
          const loss = crit.total.item();
          if (!Number.isFinite(loss)) {
            const parts = [...crit.weighted].map(([k, v]) => `${k}=${v.item()}`).join(' ');
            throw new SocError(`loss is ${loss} at epoch ${epoch}, iteration ${epochIters}, stopping training (${parts})`);
          }
          optimizer.zeroGrad();
          crit.total.backward();
          if (hyper.clipMaxNorm > 0) clipGradNorm(model.parameters(), hyper.clipMaxNorm);
          optimizer.step();
          const terms: Record<string, number> = {};
          for (const [k, v] of crit.weighted) terms[k] = v.item();
          return { loss, terms };
        });
        const stepSeconds = (performance.now() - s0) / 1000;
        epochLoss += r.loss;
        epochIters++;
        iteration++;
        stepTotal += stepSeconds;
        dataTotal += dataSeconds;
        stepCount++;
        const lr = optimizer.paramGroups[0]!.lr;
        log({ type: 'iter', epoch, iter: epochIters - 1, global_iter: iteration, loss: r.loss, lr, data_s: round(dataSeconds), step_s: round(stepSeconds), ...r.terms });
        emit({ type: 'iteration', epoch, batch: epochIters - 1, batches: batchesPerEpoch, loss: r.loss, lr, dataSeconds, stepSeconds });
      }
      if (interrupted || o.signal?.aborted) {
        interrupted = true;
        break;
      }
      // MultiStepLR steps once per epoch, after the training loop (before the evaluation and the checkpoint)
      scheduler.step();
      const seconds = (performance.now() - t0) / 1000;
      emit({ type: 'epoch-end', epoch, loss: epochLoss, meanLoss: epochLoss / Math.max(epochIters, 1), iterations: epochIters, seconds });

      let result: ValidationResult | null = null;
      if (validation) {
        emit({ type: 'eval-start', epoch });
        result = await validation.run(model, tokenizer);
        emit({ type: 'eval', epoch, result });
      }
      // best: the dataset's metric when there is one (mAP for A2D as the reference, J&F where the
      // validation split has ground truth), else the reference's lowest summed training loss
      let isBest: boolean;
      const isA2d = isCentreFrameDataset(o.dataset);
      if (result?.metric) {
        isBest = !bestMetric || result.metric.value > bestMetric.value;
        if (isBest) bestMetric = { ...result.metric };
        if (isA2d && result.metric.value > bestMap) bestMap = result.metric.value;
      } else {
        isBest = epochLoss < bestLoss;
      }
      if (epochLoss < bestLoss) bestLoss = epochLoss;
      log({ type: 'epoch', epoch, loss: epochLoss, mean_loss: epochLoss / Math.max(epochIters, 1), iterations: epochIters, seconds: round(seconds), lr: scheduler.lastLr, eval: result?.values ?? null, eval_count: result?.count ?? 0, best: isBest });

      const path = join(out, 'checkpoints', `${String(epoch).padStart(2, '0')}.pth.tar`);
      const ckpt: Record<string, unknown> = {
        epoch,
        total_epochs: epochs,
        model_state_dict: model.stateDict(),
        optimizer_state_dict: optimizer.stateDict(),
        scheduler_state_dict: scheduler.stateDict(),
        grad_scaler_state_dict: {},
      };
      if (isA2d) ckpt.best_mAP = new PyFloat(bestMap);
      else ckpt.best_loss = new PyFloat(bestLoss);
      ckpt.soc_ts = {
        format: CHECKPOINT_FORMAT,
        seed,
        iteration,
        rng_state: defaultGenerator().getState(),
        dataset: o.dataset,
        window,
        batch_size: batchSize,
        max_iters: maxIters ?? null,
        window_sampling: hyper.windowSampling,
        expressions_per_clip: hyper.expressionsPerClip,
        best_metric_name: bestMetric?.name ?? null,
        best_metric: bestMetric ? new PyFloat(bestMetric.value) : null,
        best_loss: new PyFloat(bestLoss),
      };
      saveTorchFile(path, ckpt);
      (ckpt.soc_ts as { rng_state: Tensor }).rng_state.dispose();
      lastCheckpoint = path;
      if (isBest) copyAtomically(path, join(out, 'checkpoints', 'best.pth.tar'));
      emit({ type: 'checkpoint', epoch, path, best: isBest });
      await writeLossCurve(join(out, 'loss.png'), history).catch((e: Error) => info(`warning: could not draw loss.png: ${e.message}`));
    }
    return {
      out,
      epochsRun: Math.max(0, epoch - startEpoch),
      lastEpoch: epoch - 1,
      iterations: iteration,
      interrupted,
      lastCheckpoint,
      best: bestMetric ?? (Number.isFinite(bestLoss) ? { name: 'loss', value: bestLoss } : null),
      secondsPerIteration: stepCount ? stepTotal / stepCount : NaN,
      dataSecondsPerIteration: stepCount ? dataTotal / stepCount : NaN,
    };
  } finally {
    await loader?.close();
    optimizerBox.optimizer?.dispose();
    model.dispose();
  }
}

/** The validation split of the run's dataset (A2D / JHMDB: the test samples), and how to score it. */
async function openValidation(o: TrainOptions, window: number, hyper: Hyper): Promise<{ run: (model: SOC, tok: RobertaTokenizer) => Promise<ValidationResult>; note?: string } | null> {
  if (isCentreFrameDataset(o.dataset)) {
    const source = await ClipSource.open({ dataset: o.dataset, root: o.dataRoot, split: 'test', window });
    const samples: TrainSample[] = await source.samples({ seed: o.seed ?? 42 });
    return { run: (model, tok) => validateCentreFrames(model, tok, source, samples, { shortSide: hyper.evalShort, maxSize: hyper.evalMax, maxSamples: o.evalLimit }) };
  }
  const noGroundTruth = (why: string) => ({ run: async () => noValidation(), note: `${why}: epochs are not evaluated, the best checkpoint is the lowest training loss (as the reference)` });
  if (!existsSync(join(o.dataRoot, 'valid'))) return noGroundTruth(`no valid split in ${o.dataRoot}`);
  const source = await ClipSource.open({ dataset: o.dataset, root: o.dataRoot, split: 'valid', window });
  const videos = source.videoDataset!;
  if (!videos.hasMasks) return noGroundTruth(`the valid split of ${o.dataRoot} has no ground truth (the benchmark's server scores it)`);
  return { run: (model, tok) => validateVideos(model, tok, videos, { shortSide: hyper.evalShort, maxSize: hyper.evalMax, maxVideos: o.evalLimit }) };
}

function noValidation(): ValidationResult {
  return { metric: null, values: {}, count: 0, seconds: 0 };
}

function readResumeState(ckpt: Map<string, unknown>, file: string): ResumeState {
  const get = (m: unknown, k: string): unknown => (m instanceof Map ? m.get(k) : undefined);
  const number = (v: unknown): number | null => (v instanceof PyFloat ? v.value : typeof v === 'number' ? v : typeof v === 'bigint' ? Number(v) : null);
  const epoch = number(ckpt.get('epoch'));
  if (epoch === null) throw new UsageError(`--resume ${file}: no 'epoch' in the checkpoint`);
  const extra = ckpt.get('soc_ts');
  const metricName = get(extra, 'best_metric_name');
  const metricValue = number(get(extra, 'best_metric'));
  const rng = get(extra, 'rng_state');
  return {
    epoch,
    totalEpochs: number(ckpt.get('total_epochs')) ?? epoch + 1,
    bestLoss: number(ckpt.get('best_loss')) ?? number(get(extra, 'best_loss')) ?? Infinity,
    bestMap: number(ckpt.get('best_mAP')) ?? 0,
    bestMetric: typeof metricName === 'string' && metricValue !== null ? { name: metricName, value: metricValue } : null,
    iteration: number(get(extra, 'iteration')) ?? 0,
    seed: number(get(extra, 'seed')),
    rngState: isTensor(rng) ? rng : null,
    data:
      extra instanceof Map
        ? {
            dataset: get(extra, 'dataset') as string,
            window: number(get(extra, 'window')) ?? undefined,
            batch_size: number(get(extra, 'batch_size')) ?? undefined,
            max_iters: number(get(extra, 'max_iters')) ?? undefined,
            // absent from checkpoints written before these options existed
            window_sampling: (get(extra, 'window_sampling') as string | undefined) ?? undefined,
            expressions_per_clip: number(get(extra, 'expressions_per_clip')) ?? undefined,
          }
        : null,
  };
}

/** The log entries of the epochs before `startEpoch` (a resumed run redraws its loss curve from them). */
function readHistory(path: string, startEpoch: number): LogEntry[] {
  if (!existsSync(path)) return [];
  const out: LogEntry[] = [];
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    if (!line.trim()) continue;
    try {
      const e = JSON.parse(line) as LogEntry;
      if ((e.type === 'iter' || e.type === 'epoch') && (e.epoch ?? Infinity) < startEpoch) out.push(e);
    } catch {
      // a line cut by a kill
    }
  }
  return out;
}

function copyAtomically(from: string, to: string): void {
  const tmp = temporarySibling(to);
  copyFileSync(from, tmp);
  renameSync(tmp, to);
}

function disposeDeep(v: unknown): void {
  if (isTensor(v)) v.dispose();
  else if (v instanceof Map) for (const x of v.values()) disposeDeep(x);
  else if (Array.isArray(v)) for (const x of v) disposeDeep(x);
}

function round(x: number): number {
  return Math.round(x * 1e4) / 1e4;
}

/**
 * Draws loss.png: every iteration's loss (light) and each epoch's mean (dark, at the epoch's end),
 * on a log scale when the losses span more than a decade.
 */
export async function writeLossCurve(path: string, history: readonly LogEntry[]): Promise<void> {
  const iters = history.filter((e) => e.type === 'iter' && Number.isFinite(e.loss)).map((e) => e.loss!);
  const epochs = history.filter((e) => e.type === 'epoch' && Number.isFinite(e.mean_loss));
  if (iters.length === 0) return;
  const W = 720;
  const H = 360;
  const m = { l: 64, r: 16, t: 24, b: 40 };
  const lo = Math.min(...iters);
  const hi = Math.max(...iters);
  const logScale = lo > 0 && hi / lo > 10;
  const f = (v: number) => (logScale ? Math.log10(v) : v);
  const [ylo, yhi] = [f(lo), f(hi) === f(lo) ? f(lo) + 1 : f(hi)];
  const x = (i: number) => m.l + ((W - m.l - m.r) * i) / Math.max(iters.length - 1, 1);
  const y = (v: number) => H - m.b - ((H - m.t - m.b) * (f(v) - ylo)) / (yhi - ylo);
  const line = iters.map((v, i) => `${x(i).toFixed(1)},${y(v).toFixed(1)}`).join(' ');
  let count = 0;
  const epochPoints = epochs.map((e) => {
    count += Number(e.iterations ?? 0);
    return `${x(Math.max(count - 1, 0)).toFixed(1)},${y(e.mean_loss!).toFixed(1)}`;
  });
  const ticks = [ylo, (ylo + yhi) / 2, yhi].map((t) => {
    const v = logScale ? 10 ** t : t;
    const py = H - m.b - ((H - m.t - m.b) * (t - ylo)) / (yhi - ylo);
    return `<text x="${m.l - 6}" y="${py + 4}" text-anchor="end" font-size="11" fill="#333">${v.toPrecision(3)}</text><line x1="${m.l}" x2="${W - m.r}" y1="${py}" y2="${py}" stroke="#ddd"/>`;
  });
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}">
<rect width="100%" height="100%" fill="white"/>
${ticks.join('\n')}
<polyline points="${line}" fill="none" stroke="#9ab8e0" stroke-width="1"/>
${epochPoints.length > 1 ? `<polyline points="${epochPoints.join(' ')}" fill="none" stroke="#1f4e99" stroke-width="2"/>` : ''}
${epochPoints.map((p) => `<circle cx="${p.split(',')[0]}" cy="${p.split(',')[1]}" r="3" fill="#1f4e99"/>`).join('')}
<line x1="${m.l}" y1="${H - m.b}" x2="${W - m.r}" y2="${H - m.b}" stroke="#333"/>
<line x1="${m.l}" y1="${m.t}" x2="${m.l}" y2="${H - m.b}" stroke="#333"/>
<text x="${W / 2}" y="${H - 10}" text-anchor="middle" font-size="12" fill="#333">iteration (${iters.length})</text>
<text x="${m.l}" y="16" font-size="12" fill="#333">training loss${logScale ? ' (log scale)' : ''}: iterations, epoch means</text>
</svg>`;
  const png = await sharp(Buffer.from(svg)).png().toBuffer();
  writeFileAtomic(path, new Uint8Array(png.buffer, png.byteOffset, png.length));
}
