// Loading a model from the files users have (official checkpoints, configs, the roberta-base
// folder) and segmenting a preprocessed clip for several sentences: the backbone runs once per
// clip and every sentence reuses its features, so no sentence changes another's result.

import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { SocError, UsageError } from '../errors.js';
import { loadStateDict } from '../io/checkpoint.js';
import type { PreprocessedVideo } from '../media/preprocess.js';
import { type SocConfig, loadSocConfig } from '../models/soc/config.js';
import { SOC, type SocOutput, type VideoFeatures } from '../models/soc/soc.js';
import { readRobertaConfig } from '../models/text/roberta_hf.js';
import { RobertaTokenizer } from '../models/text/tokenizer.js';
import type { DeformSampling } from '../models/transformer/deformable_transformer.js';
import { StateDictError } from '../nn/module.js';
import { noGrad } from '../tensor/autograd.js';
import { fromTypedArray, tensor } from '../tensor/creation.js';
import { tidy } from '../tensor/scope.js';
import type { Tensor } from '../tensor/tensor.js';
import { boxesToPixels, postprocessInfer } from './postprocess.js';

export interface ModelFiles {
  /** Official trainer checkpoint (.pth/.tar, `model_state_dict` inside), a raw state dict or .safetensors */
  checkpoint: string;
  /** Preset name, reference YAML or JSON config; default: config.json beside the checkpoint, else inferred from it */
  config?: string;
  /** The roberta-base folder (config.json, tokenizer.json or vocab.json + merges.txt) */
  textEncoder?: string;
  /** Tokenizer folder when it is not the text-encoder folder */
  tokenizer?: string;
  /** Dotted config overrides (`DeformTransformer.num_queries=10`) */
  overrides?: Record<string, unknown>;
}

export interface SentenceResult {
  text: string;
  /** The query chosen for the clip (argmax of its time-averaged score) */
  selectedQuery: number;
  /** Time-averaged referring score of every query */
  queryScores: number[];
  /** [T, H0, W0] uint8 0/1 masks at the original frame size */
  masks: Tensor;
  /** Per frame: sigmoid score of the selected query */
  frameScores: number[];
  /** Per frame: the selected query's box (x1, y1, x2, y2) in original-frame pixels */
  boxes: number[][];
}

/** Resolves which config describes a checkpoint. */
function resolveConfig(files: ModelFiles, state: Map<string, Tensor>): { config: SocConfig; source: string } {
  const base: Record<string, unknown> = {};
  const textDir = files.textEncoder;
  if (textDir && existsSync(join(textDir, 'config.json'))) base.text_encoder_config = readRobertaConfig(textDir);
  if (files.config) return { config: loadSocConfig(files.config, files.overrides, base), source: files.config };
  const beside = join(dirname(files.checkpoint), 'config.json');
  if (existsSync(beside)) return { config: loadSocConfig(beside, files.overrides, base), source: beside };
  return { config: loadSocConfig(inferPreset(state, files.checkpoint), files.overrides, { ...inferTextConfig(state, base), ...base }), source: 'inferred from the checkpoint' };
}

/** SOC++ or SOC, Swin-T or Swin-B, from the keys and shapes of an official checkpoint. */
function inferPreset(state: Map<string, Tensor>, file: string): string {
  const patch = state.get('backbone.0.body.patch_embed.proj.weight');
  if (!patch) throw new UsageError(`${file} has no 'backbone.0.body.patch_embed.proj.weight': is it a SOC / SOC++ checkpoint? Give --config explicitly.`);
  const variant = state.has('proxy_embed.weight') ? 'socpp' : 'soc';
  const width = patch.shape[0];
  const backbone = width === 128 ? 'swin-b' : width === 96 ? 'swin-t' : null;
  if (!backbone) throw new UsageError(`${file}: Video-Swin width ${width} matches no preset; give --config`);
  return `${variant}-${backbone}`;
}

/** The text-encoder dimensions a checkpoint implies, when no roberta folder config is given. */
function inferTextConfig(state: Map<string, Tensor>, base: Record<string, unknown>): Record<string, unknown> {
  if (base.text_encoder_config) return {};
  const words = state.get('text_encoder.embeddings.word_embeddings.weight');
  if (!words) return {};
  const layers = new Set([...state.keys()].map((k) => /^text_encoder\.encoder\.layer\.(\d+)\./.exec(k)?.[1]).filter(Boolean));
  const inter = state.get('text_encoder.encoder.layer.0.intermediate.dense.weight');
  const pos = state.get('text_encoder.embeddings.position_embeddings.weight');
  return {
    text_encoder_config: {
      vocab_size: words.shape[0],
      hidden_size: words.shape[1],
      num_hidden_layers: layers.size,
      num_attention_heads: words.shape[1] === 768 ? 12 : Math.max(1, words.shape[1]! / 64),
      intermediate_size: inter?.shape[0] ?? 4 * words.shape[1]!,
      max_position_embeddings: pos?.shape[0] ?? 514,
      type_vocab_size: 1,
      layer_norm_eps: 1e-5,
    },
  };
}

export class ReferringSegmenter {
  private constructor(
    readonly model: SOC,
    readonly tokenizer: RobertaTokenizer,
    readonly configSource: string,
    readonly warnings: string[],
  ) {}

  get config(): SocConfig {
    return this.model.config;
  }

  /** Builds the model described by `files`, loads the checkpoint strictly and the tokenizer. */
  static load(files: ModelFiles, o: { sampling?: DeformSampling } = {}): ReferringSegmenter {
    const warnings: string[] = [];
    const state = loadStateDict(files.checkpoint);
    try {
      const { config, source } = resolveConfig(files, state);
      const model = new SOC(config, { sampling: o.sampling }).eval();
      try {
        model.loadStateDict(state, { strict: true, source: files.checkpoint });
      } catch (e) {
        model.dispose();
        if (e instanceof StateDictError) {
          throw new SocError(`${e.message}\nThe checkpoint does not match the model built from ${source}: check --config (preset, backbone) against the checkpoint.`);
        }
        throw e;
      }
      const tokDir = files.tokenizer ?? files.textEncoder;
      if (!tokDir) {
        model.dispose();
        throw new UsageError('no tokenizer: give --text-encoder DIR (the roberta-base folder with tokenizer.json, or vocab.json + merges.txt) or --tokenizer DIR');
      }
      const tokenizer = RobertaTokenizer.fromFolder(tokDir, { maxLength: config.text_encoder_config.max_position_embeddings - config.text_encoder_config.pad_token_id - 1 });
      if (tokenizer.vocabSize > config.text_encoder_config.vocab_size) {
        warnings.push(`the tokenizer in ${tokDir} has ${tokenizer.vocabSize} tokens but the text encoder only ${config.text_encoder_config.vocab_size}; ids beyond it will fail`);
      }
      return new ReferringSegmenter(model, tokenizer, source, warnings);
    } finally {
      for (const t of state.values()) t.dispose();
    }
  }

  /** Wraps an already built model (tests, training). */
  static fromModel(model: SOC, tokenizer: RobertaTokenizer): ReferringSegmenter {
    return new ReferringSegmenter(model, tokenizer, 'given model', []);
  }

  /** The backbone pass of a clip, shared by every sentence. */
  encode(clip: PreprocessedVideo): VideoFeatures {
    return noGrad(() => this.model.encodeVideo(clip.video, clip.paddingMask));
  }

  /**
   * Segments one clip for each sentence (the infer scripts' post-processing: the chosen query's
   * logits resized bilinearly to the original size, then sigmoid > threshold). Empty sentences
   * are refused. The returned masks belong to the caller (dispose them).
   */
  segment(clip: PreprocessedVideo, sentences: readonly string[], o: { threshold?: number; features?: VideoFeatures } = {}): SentenceResult[] {
    for (const s of sentences) if (!s.trim()) throw new UsageError('empty sentence: every --text must contain words');
    const features = o.features ?? this.encode(clip);
    try {
      return sentences.map((text) => this.segmentOne(clip, features, text, o.threshold ?? 0.5));
    } finally {
      if (!o.features) disposeFeatures(features);
    }
  }

  /**
   * The model's raw outputs for one sentence (batch of one) on encoded clip features; with
   * `validIndices` (A2D mode) only those frames are decoded. Call inside `tidy`.
   */
  decodeSentence(clip: PreprocessedVideo, features: VideoFeatures, text: string, validIndices?: readonly number[]): SocOutput {
    const batch = this.tokenizer.encodeBatch([text]);
    for (const w of batch.warnings) this.warnings.push(w);
    const ids = batch.inputIds[0]!;
    const int64 = (v: readonly number[]) => fromTypedArray(BigInt64Array.from(v, (x) => BigInt(x)), [v.length]);
    return noGrad(() =>
      this.model.decode(features, {
        inputIds: int64(ids).view(1, ids.length),
        attentionMask: int64(batch.attentionMask[0]!).view(1, ids.length),
        targetSizes: tensor([[clip.resizedSize[0], clip.resizedSize[1]]]),
        validIndices: validIndices ? int64(validIndices) : null,
      }),
    );
  }

  private segmentOne(clip: PreprocessedVideo, features: VideoFeatures, text: string, threshold: number): SentenceResult {
    return noGrad(() =>
      tidy(() => {
        const out = this.decodeSentence(clip, features, text);
        const post = postprocessInfer(out, clip.originalSize, threshold);
        const frameScores = post.predLogits.sigmoid().flatten().toNumbers();
        const boxes = boxesToPixels(post.predBoxes, clip.originalSize).toNumbers();
        return {
          text,
          selectedQuery: post.selectedQuery,
          queryScores: post.queryScores.toNumbers(),
          masks: post.masks.keep(),
          frameScores,
          boxes: Array.from({ length: boxes.length / 4 }, (_, i) => boxes.slice(4 * i, 4 * i + 4)),
        };
      }),
    );
  }

  dispose(): void {
    this.model.dispose();
  }
}

export function disposeFeatures(f: VideoFeatures): void {
  for (const x of f.features) {
    x.tensors.dispose();
    x.mask.dispose();
  }
  for (const p of f.pos) p.dispose();
  f.mask.dispose();
}
