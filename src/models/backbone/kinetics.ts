// Loading the Kinetics-pretrained Video-Swin checkpoints the SOC README tells users to download
// (swin_{tiny,base}_patch244_window877_kinetics400_{1k,22k}.pth; spec parameters.md §4), exactly
// as the reference's VideoSwinTransformerBackbone does:
//   1. read the mmaction2 dict's `state_dict`; keep the `backbone.*` keys without that prefix
//      (this drops the classifier `cls_head.*`);
//   2. sum the patch-embedding weight over its temporal kernel axis ([C0,3,2,4,4] → [C0,3,1,4,4],
//      keepdim; a sum, not a mean);
//   3. check it against the full SwinTransformer3D the way a strict load_state_dict would: every
//      key present (including each relative_position_index, the per-stage `downsample` and the final
//      `norm`), nothing extra, every shape equal;
//   4. rename `layers.{i}.downsample.*` → `downsamples.{i}.*` and drop `norm.*`.
// The relative position tables are used as stored (window 8×7×7 matches; no interpolation).

import { FileFormatError } from '../../errors.js';
import { loadStateDict as readStateDict } from '../../io/checkpoint.js';
import { StateDictError, type StateDict } from '../../nn/index.js';
import * as torch from '../../tensor/index.js';
import type { Tensor } from '../../tensor/index.js';
import type { SwinTransformer3D } from './video_swin.js';

const DOWNSAMPLE = /^layers\.(\d+)\.downsample\.(.+)$/;

/** Our key for a key of the reference's SwinTransformer3D, or null for the dropped final norm. */
function socKey(key: string): string | null {
  if (key.startsWith('norm.')) return null;
  const m = DOWNSAMPLE.exec(key);
  return m ? `downsamples.${m[1]}.${m[2]}` : key;
}

/**
 * Keys and shapes the reference's strict load expects for `model`'s configuration: our keys with
 * `downsamples.{i}` named `layers.{i}.downsample`, plus the final `norm.{weight,bias}`.
 */
export function kineticsExpectedShapes(model: SwinTransformer3D): Map<string, number[]> {
  const out = new Map<string, number[]>();
  for (const [k, t] of model.stateDict()) {
    out.set(k.replace(/^downsamples\.(\d+)\./, 'layers.$1.downsample.'), t.shape);
  }
  const last = model.numChannels[model.numChannels.length - 1]!;
  out.set('norm.weight', [last]);
  out.set('norm.bias', [last]);
  return out;
}

function describeBackbone(model: SwinTransformer3D): string {
  const c = model.config;
  return `embed_dim ${c.embedDim}, depths [${c.depths}], heads [${c.numHeads}], window [${c.windowSize}]`;
}

/**
 * The SOC-named backbone state dict (`patch_embed.*`, `layers.*`, `downsamples.*`) from the
 * `state_dict` of a Kinetics Video-Swin checkpoint, validated against `model`'s configuration.
 * New tensors are made only for the summed patch-embedding weight; the others are shared with
 * `raw` (which stays the caller's). `source` names the file in errors.
 */
export function convertKineticsSwinState(raw: ReadonlyMap<string, Tensor>, model: SwinTransformer3D, source = 'the Kinetics checkpoint'): StateDict {
  const stripped = new Map<string, Tensor>();
  for (const [k, v] of raw) if (k.startsWith('backbone.')) stripped.set(k.slice('backbone.'.length), v);
  if (stripped.size === 0) {
    const shown = [...raw.keys()].slice(0, 8).join(', ');
    throw new FileFormatError(source, `no 'backbone.*' weights in its state_dict (keys: ${shown}${raw.size > 8 ? ', …' : ''}); expected an mmaction2 Video-Swin Kinetics checkpoint`);
  }
  const expected = kineticsExpectedShapes(model);
  const patch = stripped.get('patch_embed.proj.weight');
  let summed: Tensor | null = null;
  if (patch && patch.ndim === 5) {
    // temporal kernel 2 in the checkpoint, 1 in SOC: fold the taps together
    summed = torch.noGrad(() => patch.sum(2, { keepdim: true }));
    stripped.set('patch_embed.proj.weight', summed);
  }

  const missing = [...expected.keys()].filter((k) => !stripped.has(k));
  const unexpected = [...stripped.keys()].filter((k) => !expected.has(k));
  const mismatched: { key: string; expected: number[]; got: number[] }[] = [];
  for (const [k, shape] of expected) {
    const t = stripped.get(k);
    if (t && (t.ndim !== shape.length || t.shape.some((v, i) => v !== shape[i]))) mismatched.push({ key: k, expected: shape, got: t.shape });
  }
  if (missing.length || unexpected.length || mismatched.length) {
    summed?.dispose();
    const detail = StateDictError.describe('SwinTransformer3D', missing, unexpected, mismatched);
    throw new FileFormatError(
      source,
      `does not fit the Video-Swin backbone being built (${describeBackbone(model)}); ` +
        `a swin_base_* checkpoint needs video-swin-b, a swin_tiny_* one video-swin-t.\n${detail}`,
    );
  }

  const out: StateDict = new Map();
  for (const [k, v] of stripped) {
    const name = socKey(k);
    if (name !== null) out.set(name, v);
  }
  return out;
}

/**
 * Reads a Kinetics Video-Swin checkpoint (either PyTorch file format; only its `state_dict` is
 * read) and loads it into `model` strictly, as the reference backbone builder does.
 */
export function loadKineticsSwin(path: string, model: SwinTransformer3D): void {
  const raw = readStateDict(path, { key: 'state_dict' });
  try {
    const sd = convertKineticsSwinState(raw, model, path);
    try {
      model.loadStateDict(sd, { source: path });
    } finally {
      const summed = sd.get('patch_embed.proj.weight');
      if (summed && summed !== raw.get('backbone.patch_embed.proj.weight')) summed.dispose();
    }
  } finally {
    torch.disposeAll([...raw.values()]);
  }
}
