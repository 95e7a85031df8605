// SOC / SOC++ configuration, in the reference's own vocabulary: the keys of its YAML configs
// (configs/mevis.yaml …, read with their {desc, value} layout) plus what its command line adds
// (backbone, use_proxymmf) and the text encoder's HF config. Presets are values of this schema.

import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { FileFormatError, UsageError } from '../../errors.js';
import { type SwinConfig, swinConfig } from '../backbone/video_swin.js';
import { ROBERTA_BASE_CONFIG, RobertaConfigSchema } from '../text/roberta.js';

const DeformTransformerSchema = z.object({
  enc_layers: z.number().int().min(0).default(3),
  dec_layers: z.number().int().positive().default(3),
  dim_feedforward: z.number().int().positive().default(2048),
  d_model: z.number().int().min(128, 'd_model must be at least 128 (input_proj uses GroupNorm(32, d_model), the FPN GroupNorm(8, d_model/16))').default(256),
  dropout: z.number().min(0).max(1).default(0.1),
  nheads: z.number().int().positive().default(8),
  num_queries: z.number().int().positive().default(20),
  num_feature_levels: z.literal(4).default(4),
  dec_n_points: z.number().int().positive().default(4),
  enc_n_points: z.number().int().positive().default(4),
  two_stage: z.literal(false, { message: 'two_stage is dead (and broken) in the reference; only false is supported' }).default(false),
});

const VOCSchema = z.object({
  input_dim: z.number().int().positive().default(256),
  window_size: z.literal(0, { message: 'VOC window_size must be 0 (the windowed encoder is broken in the reference)' }).default(0),
  num_frame_queries: z.number().int().positive().default(20),
  num_frames: z.number().int().positive().default(8),
  num_queries: z.number().int().positive().default(20),
  nheads: z.number().int().positive().default(8),
  dim_feedforward: z.number().int().positive().default(2048),
  enc_layers: z.number().int().min(0).default(3),
  dec_layers: z.number().int().positive().default(3),
  /**
   * soc-ts: give each batch element of a B > 1 forward what a B = 1 forward gives it. The reference
   * (false) mixes frames and batch elements in VOC; it only ever trains video datasets at B = 1.
   */
  separate_batch_elements: z.boolean().default(false),
});

/** Model hyper-parameters; other YAML keys (training, dataset) are kept as they are. */
export const SocConfigSchema = z
  .object({
    /** 'socpp' = SOC++ (yongliu20/MRVS_SOC), 'soc' = SOC (NeurIPS 2023). */
    variant: z.enum(['socpp', 'soc']).default('socpp'),
    backbone: z.string().default('video-swin-t'),
    /** Explicit Video-Swin hyper-parameters (reference snake_case names); when absent they come from `backbone`. */
    backbone_swin_config: z.record(z.string(), z.unknown()).optional(),
    /** The text encoder's Hugging Face config (config.json of the RoBERTa folder); default roberta-base. */
    text_encoder_config: RobertaConfigSchema.default(ROBERTA_BASE_CONFIG),
    DeformTransformer: DeformTransformerSchema.default(DeformTransformerSchema.parse({})),
    VOC: VOCSchema.default(VOCSchema.parse({})),
    use_proxymmf: z.boolean().default(true),
    num_proxy_query: z.number().int().positive().default(20),
    with_box_refine: z.literal(true, { message: 'with_box_refine must be true (the false path is dead in the reference)' }).default(true),
    num_classes: z.number().int().positive().default(1),
    mask_kernels_dim: z.number().int().positive().default(8),
    controller_layers: z.number().int().min(2).default(3),
    dynamic_mask_channels: z.number().int().positive().default(8),
    rel_coord: z.boolean().default(true),
    aux_loss: z.boolean().default(true),
    vl_loss: z.literal(true, { message: 'vl_loss must be true (false crashes the reference)' }).default(true),
    freeze_text_encoder: z.boolean().default(true),
    /** Heads of the MMF modules (vlf/lvf/v2p) and query_fusion: hard-coded to 8 in the reference. */
    mmf_nheads: z.number().int().positive().default(8),
  })
  .passthrough()
  .superRefine((c, ctx) => {
    if (c.VOC.input_dim !== c.DeformTransformer.d_model) {
      ctx.addIssue({ code: 'custom', path: ['VOC', 'input_dim'], message: `must equal DeformTransformer.d_model (${c.DeformTransformer.d_model})` });
    }
    if (c.VOC.num_queries !== c.DeformTransformer.num_queries || c.VOC.num_frame_queries !== c.DeformTransformer.num_queries) {
      ctx.addIssue({ code: 'custom', path: ['VOC', 'num_queries'], message: `VOC.num_queries and num_frame_queries must equal DeformTransformer.num_queries (${c.DeformTransformer.num_queries})` });
    }
    try {
      swinConfig(c.backbone_swin_config ?? c.backbone);
    } catch (e) {
      ctx.addIssue({ code: 'custom', path: [c.backbone_swin_config ? 'backbone_swin_config' : 'backbone'], message: (e as Error).message });
    }
    if (c.variant === 'socpp' && !c.use_proxymmf) {
      ctx.addIssue({ code: 'custom', path: ['use_proxymmf'], message: 'SOC++ needs use_proxymmf: true (the reference crashes without it)' });
    }
    if (c.variant === 'soc' && c.use_proxymmf) {
      ctx.addIssue({ code: 'custom', path: ['use_proxymmf'], message: 'SOC (NeurIPS 2023) has no ProxyMMF; use_proxymmf must be false' });
    }
  });
export type SocConfig = z.infer<typeof SocConfigSchema>;

/** Video-Swin hyper-parameters of a config. */
export function swinConfigOf(c: SocConfig): SwinConfig {
  return swinConfig(c.backbone_swin_config ?? c.backbone);
}

/** Validates a plain object as a SocConfig, with errors naming the offending keys. */
export function parseSocConfig(raw: unknown, source = 'config'): SocConfig {
  // SOC has no ProxyMMF: its default differs from SOC++'s.
  if (raw && typeof raw === 'object' && (raw as Record<string, unknown>).variant === 'soc' && (raw as Record<string, unknown>).use_proxymmf === undefined) {
    raw = { ...(raw as object), use_proxymmf: false };
  }
  const r = SocConfigSchema.safeParse(raw);
  if (!r.success) {
    const lines = r.error.issues.map((i) => `  ${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new UsageError(`invalid model configuration in ${source}:\n${lines.join('\n')}`);
  }
  return r.data;
}

/** Unwraps the reference YAML layout `key: {desc?, value}` (nested sections hold their own value). */
export function unwrapReferenceYaml(doc: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(doc)) {
    out[k] = v !== null && typeof v === 'object' && !Array.isArray(v) && 'value' in (v as object) ? (v as { value: unknown }).value : v;
  }
  return out;
}

/** The reference's SOC++ defaults per dataset (configs/*.yaml model keys are identical; these differ in training values). */
const PRESETS: Record<string, Record<string, unknown>> = {
  'socpp-swin-t': { variant: 'socpp', backbone: 'video-swin-t' },
  'socpp-swin-b': { variant: 'socpp', backbone: 'video-swin-b' },
  'soc-swin-t': { variant: 'soc', backbone: 'video-swin-t', use_proxymmf: false },
  'soc-swin-b': { variant: 'soc', backbone: 'video-swin-b', use_proxymmf: false },
};

export function presetNames(): string[] {
  return Object.keys(PRESETS);
}

/**
 * A config from a preset name (socpp-swin-t …), a reference YAML file ({desc, value} layout) or a
 * JSON file (plain keys, e.g. a fixture's config.json). `overrides` are dotted keys
 * (`DeformTransformer.num_queries=10`) applied last.
 */
export function loadSocConfig(spec: string, overrides: Record<string, unknown> = {}, base: Record<string, unknown> = {}): SocConfig {
  let raw: Record<string, unknown>;
  if (PRESETS[spec]) {
    raw = { ...PRESETS[spec] };
  } else {
    let text: string;
    try {
      text = readFileSync(spec, 'utf8');
    } catch {
      throw new UsageError(`config '${spec}' is neither a preset (${presetNames().join(', ')}) nor a readable file`);
    }
    try {
      const doc = /\.json$/i.test(spec) ? JSON.parse(text) : parseYaml(text);
      if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) throw new Error('top level is not a mapping');
      raw = fromFixtureConfig(unwrapReferenceYaml(doc as Record<string, unknown>));
    } catch (e) {
      if (e instanceof UsageError) throw e;
      throw new FileFormatError(spec, `cannot parse the configuration (${(e as Error).message})`);
    }
  }
  const merged = { ...base, ...raw };
  for (const [key, value] of Object.entries(overrides)) setDotted(merged, key, value);
  return parseSocConfig(merged, PRESETS[spec] ? `preset ${spec}` : basename(spec));
}

/** Golden fixture configs name a few things differently from the YAML; map them. */
function fromFixtureConfig(c: Record<string, unknown>): Record<string, unknown> {
  const out = { ...c };
  if (typeof c.backbone_name === 'string' && out.backbone === undefined) out.backbone = c.backbone_name;
  if (typeof c.repo === 'string' && out.variant === undefined) out.variant = /MRVS_SOC|SOC\+\+/.test(c.repo) ? 'socpp' : 'soc';
  if (typeof c.mmf_nhead_hardcoded === 'number') out.mmf_nheads = c.mmf_nhead_hardcoded;
  return out;
}

/** Sets `a.b.c = value` in a nested object, parsing JSON-looking strings (numbers, booleans, arrays). */
export function setDotted(target: Record<string, unknown>, key: string, value: unknown): void {
  const parts = key.split('.');
  let cur = target;
  for (const p of parts.slice(0, -1)) {
    const next = cur[p];
    if (next === undefined || next === null || typeof next !== 'object') cur[p] = {};
    else cur[p] = { ...(next as Record<string, unknown>) };
    cur = cur[p] as Record<string, unknown>;
  }
  let v = value;
  if (typeof v === 'string') {
    try {
      v = JSON.parse(v);
    } catch {
      /* keep the string */
    }
  }
  cur[parts[parts.length - 1]!] = v;
}
