// Loading a Hugging Face RoBERTa folder as `RobertaModel.from_pretrained(dir)` does for SOC
// (spec parameters.md §5): `config.json` plus the weights in `model.safetensors` or
// `pytorch_model.bin` (either torch.save format). HF key names are mapped onto ours: the
// `roberta.` prefix of RobertaFor* checkpoints is dropped, heads (`lm_head.*`, …) are ignored,
// old TensorFlow-style `LayerNorm.gamma/beta` become `weight/bias`. Weights the file lacks that
// transformers would initialise randomly (roberta-base ships no pooler) keep the model's random
// init, with a note; any other missing weight is an error.

import { join } from 'node:path';
import { z } from 'zod';
import { SocError } from '../../errors.js';
import { exists, readJsonAs } from '../../data/files.js';
import { loadStateDict as readStateDict } from '../../io/checkpoint.js';
import { StateDictError, type StateDict } from '../../nn/index.js';
import * as torch from '../../tensor/index.js';
import { ROBERTA_OPTIONAL_KEYS, RobertaConfigSchema, RobertaModel, type RobertaConfig } from './roberta.js';

/** Files the user has to provide; soc-ts never downloads anything. */
export class MissingPretrainedFilesError extends SocError {
  constructor(
    readonly dir: string,
    readonly missing: string[],
  ) {
    super(
      `${missing.join(' and ')} not found in ${dir}: download roberta-base's config.json and pytorch_model.bin ` +
        `from the Hugging Face Hub into ${dir}; soc-ts never downloads.`,
    );
  }
}

const WEIGHT_FILES = ['model.safetensors', 'pytorch_model.bin'] as const;

/** Keys the file may lack: transformers initialises them (pooler) or they are constant buffers. */
const MAY_BE_ABSENT = [/^pooler\./, ...ROBERTA_OPTIONAL_KEYS.map((k) => new RegExp(`^${k.replace('.', '\\.')}$`))];

const HfConfigSchema = RobertaConfigSchema.extend({
  model_type: z
    .string()
    .refine((t) => t === 'roberta' || t === 'xlm-roberta', { message: 'model_type must be roberta (or xlm-roberta)' })
    .optional(),
});

/** config.json of an HF RoBERTa folder, validated (HF defaults for absent fields). */
export function readRobertaConfig(dir: string): RobertaConfig {
  const path = join(dir, 'config.json');
  if (!exists(path)) throw new MissingPretrainedFilesError(dir, ['config.json']);
  const { model_type: _ignored, ...config } = readJsonAs(path, HfConfigSchema, 'a Hugging Face RoBERTa config.json');
  return config;
}

/** The weight file HF would read: model.safetensors when present, else pytorch_model.bin. */
export function robertaWeightFile(dir: string): string {
  for (const f of WEIGHT_FILES) {
    const p = join(dir, f);
    if (exists(p)) return p;
  }
  throw new MissingPretrainedFilesError(dir, ['pytorch_model.bin (or model.safetensors)']);
}

/**
 * Our name for an HF RoBERTa key, or null for a key that belongs to a head (dropped).
 * `roberta.` prefixes go; `LayerNorm.gamma/beta` become `LayerNorm.weight/bias`.
 */
export function hfRobertaKey(key: string): string | null {
  let k = key.startsWith('roberta.') ? key.slice('roberta.'.length) : key;
  if (!/^(embeddings|encoder|pooler)\./.test(k)) return null;
  k = k.replace(/LayerNorm\.gamma$/, 'LayerNorm.weight').replace(/LayerNorm\.beta$/, 'LayerNorm.bias');
  return k;
}

export interface RobertaWeights {
  /** Our key names (no `text_encoder.` prefix). */
  stateDict: StateDict;
  /** The file read. */
  file: string;
  /** Keys of the file that were dropped (heads such as lm_head.*). */
  ignored: string[];
}

/** Reads the folder's weight file and maps its keys (tensors belong to the caller). */
export function readRobertaWeights(dir: string): RobertaWeights {
  const file = robertaWeightFile(dir);
  const raw = readStateDict(file);
  const stateDict: StateDict = new Map();
  const ignored: string[] = [];
  for (const [k, v] of raw) {
    const name = hfRobertaKey(k);
    if (name === null || stateDict.has(name)) {
      ignored.push(k);
      v.dispose();
    } else {
      stateDict.set(name, v);
    }
  }
  return { stateDict, file, ignored };
}

/**
 * Loads the folder's weights into `model` (built from the same config.json). Returns notes for
 * the user: weights kept at their random init (the pooler of roberta-base) and ignored head keys.
 */
export function loadRobertaWeights(model: RobertaModel, dir: string): string[] {
  const { stateDict, file, ignored } = readRobertaWeights(dir);
  try {
    const own = model.stateDict();
    const notes: string[] = [];
    // Like from_pretrained, keys this architecture does not have are reported, not fatal.
    for (const k of [...stateDict.keys()]) {
      if (!own.has(k)) {
        ignored.push(k);
        stateDict.get(k)!.dispose();
        stateDict.delete(k);
      }
    }
    const missing = [...own.keys()].filter((k) => !stateDict.has(k));
    const required = missing.filter((k) => !MAY_BE_ABSENT.some((re) => re.test(k)));
    if (required.length) throw new IncompleteRobertaWeightsError(file, required);
    const kept = missing.filter((k) => k.startsWith('pooler.'));
    if (kept.length) {
      notes.push(
        `${file} has no pooler weights (${kept.join(', ')}); they keep their random initialisation, as transformers does. ` +
          'SOC++ never uses the pooler output; a SOC/SOC++ model checkpoint restores them.',
      );
    }
    if (ignored.length) notes.push(`ignored ${ignored.length} key(s) of ${file} that RobertaModel does not use: ${ignored.slice(0, 5).join(', ')}${ignored.length > 5 ? ', …' : ''}`);
    const full = new Map(stateDict);
    for (const k of missing) full.set(k, own.get(k)!); // the model's own tensors: copying them is a no-op
    model.loadStateDict(full, { source: file });
    return notes;
  } finally {
    torch.disposeAll([...stateDict.values()]);
  }
}

/** A weight file that lacks weights RoBERTa needs (another model, or a config.json that does not match it). */
export class IncompleteRobertaWeightsError extends SocError {
  constructor(
    readonly file: string,
    readonly missingKeys: string[],
  ) {
    super(
      `${file} is not a RoBERTa checkpoint matching the folder's config.json:\n` + StateDictError.describe('RobertaModel', missingKeys, [], []),
    );
  }
}

/** Builds a RobertaModel from an HF folder (config.json + weights) in eval mode, like from_pretrained. */
export function loadRobertaFromFolder(dir: string): { model: RobertaModel; config: RobertaConfig; notes: string[] } {
  const config = readRobertaConfig(dir);
  robertaWeightFile(dir); // fail on a missing weight file before allocating the model
  const model = new RobertaModel(config);
  try {
    const notes = loadRobertaWeights(model, dir);
    return { model: model.eval(), config, notes };
  } catch (e) {
    model.dispose();
    throw e;
  }
}

