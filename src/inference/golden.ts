// Replays a golden fixture folder (the format of ../shared/golden/socpp_tiny): builds the model
// from config.json, loads its weights, runs every pass whose results outputs.safetensors holds
// (main with hooks, post-processing, A2D mode, batch of 2) from inputs.safetensors, and compares
// every stored tensor it can produce. Works for any folder of that format.

import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { FileFormatError, SocError } from '../errors.js';
import { loadSafetensors, loadStateDict } from '../io/checkpoint.js';
import { loadSocConfig } from '../models/soc/config.js';
import { SOC, type SocLayerOutput, type SocOutput } from '../models/soc/soc.js';
import type { DeformSampling } from '../models/transformer/deformable_transformer.js';
import * as F from '../nn/functional.js';
import { noGrad } from '../tensor/autograd.js';
import { arange, stack } from '../tensor/creation.js';
import { tidy } from '../tensor/scope.js';
import type { Tensor } from '../tensor/tensor.js';
import { postprocessA2D, postprocessInfer, postprocessYtvos, type Size } from './postprocess.js';

export interface GoldenRow {
  name: string;
  shape: number[];
  /** max |actual − expected| (for binary masks: over pixels not excused by a near-zero logit) */
  maxAbsErr: number;
  status: 'ok' | 'fail' | 'missing';
  note?: string;
}

export interface GoldenReport {
  rows: GoldenRow[];
  maxAbsErr: number;
  compared: number;
  failed: number;
  missing: number;
}

export interface GoldenOptions {
  /** absolute tolerance for float tensors (default 1e-4) */
  tol?: number;
  /** binary mask pixels may differ where the stored logit is within this of 0 (default 1e-3) */
  logitMargin?: number;
  /** deformable-attention sampling core (default: the reference's grid_sample path) */
  sampling?: DeformSampling;
  /** weights file (default DIR/weights.safetensors, else DIR/checkpoint.pth) */
  weights?: string;
  /** called after each pass, for progress output */
  onPass?: (name: string) => void;
}

type Produced = Map<string, Tensor>;

const OUTPUT_KEYS: [keyof SocLayerOutput, string][] = [
  ['predMasks', 'pred_masks'],
  ['predLogit', 'pred_logit'],
  ['predBoxes', 'pred_boxes'],
  ['textSentenceFeature', 'text_sentence_feature'],
  ['predCls', 'pred_cls'],
];

function addOutputs(into: Produced, prefix: string, out: SocOutput): void {
  for (const [k, name] of OUTPUT_KEYS) into.set(`${prefix}.${name}`, out[k]);
  out.auxOutputs.forEach((aux, i) => {
    for (const [k, name] of OUTPUT_KEYS) into.set(`${prefix}.aux_outputs.${i}.${name}`, aux[k]);
  });
}

function sizesOf(t: Tensor): Size[] {
  const v = t.toNumbers();
  const out: Size[] = [];
  for (let i = 0; i < v.length; i += 2) out.push([v[i]!, v[i + 1]!]);
  return out;
}

/** Pixels of a binary mask that may flip: |logit| < margin, with the logit map resized (legacy nearest) to the mask. */
function nearZero(logits: Tensor, maskShape: number[], margin: number): Tensor {
  return tidy(() => {
    const h = maskShape[maskShape.length - 2]!;
    const w = maskShape[maskShape.length - 1]!;
    let z = logits.abs().lt(margin).to('float32');
    const lead = z.shape.slice(0, -2);
    z = z.reshape(1, -1, z.shape[z.ndim - 2]!, z.shape[z.ndim - 1]!);
    z = F.interpolate(z, { size: [h, w], mode: 'nearest' }).reshape(...lead, h, w);
    return z.gt(0).expand(...maskShape);
  });
}

/** Replays every pass of a fixture folder and compares its tensors. */
export function replayGolden(dir: string, o: GoldenOptions = {}): GoldenReport {
  const tol = o.tol ?? 1e-4;
  const margin = o.logitMargin ?? 1e-3;
  for (const f of ['config.json', 'inputs.safetensors', 'outputs.safetensors']) {
    if (!existsSync(join(dir, f))) throw new SocError(`${dir}: not a golden fixture folder (missing ${f})`);
  }
  const weightsPath = o.weights ?? (existsSync(join(dir, 'weights.safetensors')) ? join(dir, 'weights.safetensors') : join(dir, 'checkpoint.pth'));
  const config = loadSocConfig(join(dir, 'config.json'));
  const model = new SOC(config, { sampling: o.sampling ?? 'gridSample' }).eval();
  const weights = loadStateDict(weightsPath);
  model.loadStateDict(weights, { strict: true, source: weightsPath });
  for (const t of weights.values()) t.dispose();
  const inputs = loadSafetensors(join(dir, 'inputs.safetensors'));
  const expected = loadSafetensors(join(dir, 'outputs.safetensors'));
  const need = (name: string): Tensor => {
    const t = inputs.get(name);
    if (!t) throw new FileFormatError(join(dir, 'inputs.safetensors'), `missing input '${name}'`);
    return t;
  };
  const has = (prefix: string) => [...expected.keys()].some((k) => k.startsWith(prefix));
  const produced: Produced = new Map();
  const keep = (k: string, v: Tensor) => {
    if (expected.has(k) && !produced.has(k)) produced.set(k, v.clone().keep());
  };
  const postJson = existsSync(join(dir, 'postprocess.json')) ? (JSON.parse(readFileSync(join(dir, 'postprocess.json'), 'utf8')) as Record<string, unknown>) : {};
  const extraRows: GoldenRow[] = [];

  noGrad(() => {
    // 1. main pass, with hooks, and its post-processing
    if (has('outputs.') || has('hooks') || has('post.')) {
      tidy(() => {
        const video = need('video');
        const out = model.forward(
          { video, videoMask: need('video_mask'), inputIds: need('input_ids'), attentionMask: need('attention_mask'), targetSizes: need('target_size') },
          { hook: keep },
        );
        const outs: Produced = new Map();
        addOutputs(outs, 'outputs', out);
        for (const [k, v] of outs) keep(k, v);
        const padded: Size = [video.shape[3]!, video.shape[4]!];
        const resized = sizesOf(need('target_size'));
        const original = sizesOf(need('orig_size'));
        if (has('post.ytvos.')) {
          const r = postprocessYtvos(out, padded, resized.map((rs, b) => ({ resizedSize: rs, originalSize: original[b]! })));
          keep('post.ytvos.pred_masks', r.videos[0]!.masks);
          keep('post.ytvos.selected_query', r.selected);
          keep('post.ytvos.upsampled_logits', r.upsampledLogits);
        }
        if (has('post.infer.')) {
          const r = postprocessInfer(out, original[0]!);
          keep('post.infer.upsampled_logits', r.logits);
          keep('post.infer.pred_masks', r.masks);
          keep('post.infer.max_ind', arange(r.selectedQuery, r.selectedQuery + 1).squeeze());
          keep('post.infer.pred_logits', r.predLogits);
          keep('post.infer.pred_boxes', r.predBoxes);
          keep('post.infer.query_scores', r.queryScores);
        }
        if (has('post.a2d_all_frames.')) {
          const T = out.predCls.shape[0]!;
          const B = out.predCls.shape[1]!;
          const frameSizes = Array.from({ length: T * B }, (_, i) => resized[i % B]!);
          const frameOrig = Array.from({ length: T * B }, (_, i) => original[i % B]!);
          const preds = postprocessA2D(out.predCls.flatten(0, 1), out.predMasks.flatten(0, 1), padded, frameSizes, frameOrig);
          keep('post.a2d_all_frames.scores', stack(preds.map((p) => p.scores)));
          produced.set('post.a2d_all_frames.masks', stack(preds.map((p) => p.masks)).keep());
          extraRows.push(compareRle('post.a2d_all_frames.rle_masks', preds.map((p) => p.rleMasks), (postJson.a2d_all_frames as { rle_masks?: unknown })?.rle_masks));
        }
        return null;
      });
      o.onPass?.('main');
    }

    // 2. A2D evaluation mode: only the annotated frame is decoded
    if (has('a2d_mode.')) {
      tidy(() => {
        const video = need('video');
        const out = model.forward({
          video,
          videoMask: need('video_mask'),
          inputIds: need('input_ids'),
          attentionMask: need('attention_mask'),
          targetSizes: need('target_size'),
          validIndices: need('a2d_valid_indices'),
        });
        const outs: Produced = new Map();
        addOutputs(outs, 'a2d_mode.outputs', out);
        for (const [k, v] of outs) keep(k, v);
        const padded: Size = [video.shape[3]!, video.shape[4]!];
        const n = out.predCls.shape[0]! * out.predCls.shape[1]!;
        const resized = sizesOf(need('target_size'));
        const original = sizesOf(need('orig_size'));
        const preds = postprocessA2D(out.predCls.flatten(0, 1), out.predMasks.flatten(0, 1), padded, Array.from({ length: n }, (_, i) => resized[i % resized.length]!), Array.from({ length: n }, (_, i) => original[i % original.length]!));
        keep('a2d_mode.post.scores', stack(preds.map((p) => p.scores)));
        produced.set('a2d_mode.post.masks', stack(preds.map((p) => p.masks)).keep());
        return null;
      });
      o.onPass?.('a2d_mode');
    }

    // 3. batch of 2 (padded video and padded text)
    if (has('batch2.')) {
      tidy(() => {
        const video = need('batch2.video');
        const out = model.forward({
          video,
          videoMask: need('batch2.video_mask'),
          inputIds: need('batch2.input_ids'),
          attentionMask: need('batch2.attention_mask'),
          targetSizes: need('batch2.target_size'),
        });
        const outs: Produced = new Map();
        addOutputs(outs, 'batch2.outputs', out);
        for (const [k, v] of outs) keep(k, v);
        const padded: Size = [video.shape[3]!, video.shape[4]!];
        const resized = sizesOf(need('batch2.target_size'));
        const original = sizesOf(need('batch2.orig_size'));
        const r = postprocessYtvos(out, padded, resized.map((rs, b) => ({ resizedSize: rs, originalSize: original[b]! })));
        r.videos.forEach((v, b) => keep(`batch2.post.ytvos.${b}.pred_masks`, v.masks));
        keep('batch2.post.ytvos.selected_query', r.selected);
        return null;
      });
      o.onPass?.('batch2');
    }
  });

  // compare
  const rows: GoldenRow[] = [];
  const logitsFor = (name: string): Tensor | null => {
    if (name === 'post.infer.pred_masks') return expected.get('post.infer.upsampled_logits') ?? null;
    if (name === 'post.ytvos.pred_masks') return cropTo(expected.get('post.ytvos.upsampled_logits'), sizesOf(need('target_size'))[0]!);
    return null;
  };
  for (const [name, want] of expected) {
    const got = produced.get(name);
    if (!got) {
      rows.push({ name, shape: want.shape, maxAbsErr: NaN, status: 'missing' });
      continue;
    }
    rows.push(compareTensor(name, got, want, tol, margin, logitsFor(name) ?? a2dLogits(name, expected, inputs)));
  }
  // RLE strings follow from the masks: a difference is only a failure if the masks failed.
  for (const r of extraRows) {
    const maskRow = rows.find((m) => m.name === r.name.replace(/\.rle_masks$/, '.masks'));
    if (r.status === 'fail' && maskRow?.status === 'ok') r.status = 'ok';
    rows.push(r);
  }
  for (const t of produced.values()) t.dispose();
  for (const t of [...inputs.values(), ...expected.values()]) t.dispose();
  model.dispose();
  const compared = rows.filter((r) => r.status !== 'missing');
  return {
    rows,
    maxAbsErr: compared.reduce((m, r) => Math.max(m, Number.isFinite(r.maxAbsErr) ? r.maxAbsErr : Infinity), 0),
    compared: compared.length,
    failed: rows.filter((r) => r.status === 'fail').length,
    missing: rows.filter((r) => r.status === 'missing').length,
  };
}

function cropTo(logits: Tensor | undefined, size: Size): Tensor | null {
  if (!logits) return null;
  // [B, T, Hp, Wp] → crop → [T, 1, h, w] like the stored mask layout
  return logits.select(0, 0).slice(1, 0, size[0]).slice(2, 0, size[1]).unsqueeze(1);
}

/** A2D masks have no stored up-sampled logits: derive them from the stored mask logits. */
function a2dLogits(name: string, expected: Map<string, Tensor>, inputs: Map<string, Tensor>): Tensor | null {
  const src = name === 'post.a2d_all_frames.masks' ? 'outputs.pred_masks' : name === 'a2d_mode.post.masks' ? 'a2d_mode.outputs.pred_masks' : null;
  if (!src || !expected.get(src)) return null;
  const video = inputs.get('video')!;
  const size = inputs.get('target_size')!.toNumbers();
  return tidy(() => {
    const m = expected.get(src)!.flatten(0, 1); // [N, Q, h4, w4]
    const up = F.interpolate(m, { size: [video.shape[3]!, video.shape[4]!], mode: 'bilinear', alignCorners: false });
    return up.slice(2, 0, size[0]).slice(3, 0, size[1]).unsqueeze(2); // [N, Q, 1, h, w]
  }).keep();
}

function compareTensor(name: string, got: Tensor, want: Tensor, tol: number, margin: number, logits: Tensor | null): GoldenRow {
  const shape = want.shape;
  if (got.shape.join() !== shape.join()) {
    return { name, shape, maxAbsErr: Infinity, status: 'fail', note: `shape [${got.shape}] vs stored [${shape}]` };
  }
  if (want.dtype === 'bool' || want.dtype === 'int64' || want.dtype === 'uint8') {
    const diff = tidy(() => got.to('int64').ne(want.to('int64')));
    let differing = tidy(() => diff.sum().item());
    let excused = 0;
    if (differing > 0 && logits && want.dtype === 'uint8') {
      excused = tidy(() => diff.logicalAnd(nearZero(logits, shape, margin)).sum().item());
    }
    diff.dispose();
    differing -= excused;
    const note = excused > 0 ? `${excused} pixel(s) flipped where |logit| < ${margin}` : differing > 0 ? `${differing} element(s) differ` : undefined;
    return { name, shape, maxAbsErr: differing > 0 ? 1 : 0, status: differing > 0 ? 'fail' : 'ok', note };
  }
  const err = tidy(() => got.to('float64').sub(want.to('float64')).abs().max().item());
  return { name, shape, maxAbsErr: err, status: err <= tol ? 'ok' : 'fail' };
}

function compareRle(name: string, got: { counts: string }[][], want: unknown): GoldenRow {
  if (!Array.isArray(want)) return { name, shape: [], maxAbsErr: NaN, status: 'missing' };
  const flatGot = got.flat().map((r) => r.counts);
  const flatWant = (want as { counts: string }[][]).flat().map((r) => r.counts);
  const same = flatGot.length === flatWant.length && flatGot.every((c, i) => c === flatWant[i]);
  const differing = flatGot.filter((c, i) => c !== flatWant[i]).length;
  return { name, shape: [flatWant.length], maxAbsErr: same ? 0 : 1, status: same ? 'ok' : 'fail', note: same ? 'RLE strings equal' : `${differing} RLE string(s) differ` };
}
