// Replays a training fixture folder (the format of ../shared/golden/socpp_tiny_train, which
// builds on a forward fixture folder such as ../shared/golden/socpp_tiny): the targets of every
// case go through the model in train mode (with the fixture's dropouts neutralised), the
// matcher and the criterion; `step<k>` cases also back-propagate, clip and take an AdamW step, in
// order, after the loss-only cases ran on the pristine weights. Every stored tensor is compared:
// matcher indices and costs, losses, totals, gradients, norms, clipped gradients, parameters
// after each step, and the forward outputs. Works for any folder of this format.

import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { FileFormatError, SocError } from '../errors.js';
import { loadSafetensors, loadStateDict, readSafetensorsHeader } from '../io/checkpoint.js';
import { loadSocConfig } from '../models/soc/config.js';
import { SOC, type SocInputs, type SocLayerOutput, type SocOutput } from '../models/soc/soc.js';
import type { DeformSampling } from '../models/transformer/deformable_transformer.js';
import { noGrad } from '../tensor/autograd.js';
import { tensor } from '../tensor/creation.js';
import { tidy } from '../tensor/scope.js';
import type { Tensor } from '../tensor/tensor.js';
import { type CriterionOutput, LOSS_NAMES, SetCriterion, buildCriterion } from './criterion.js';
import { HungarianMatcher } from './matcher.js';
import { AdamW, type ClipResult, MultiStepLR, clipGradNorm, trainerParamGroups } from './optim.js';
import { disableStochasticModules } from './stochastic.js';
import type { ClipTargets, FrameTarget } from './targets.js';

export type TrainRowGroup = 'setup' | 'forward' | 'matcher' | 'loss' | 'grad' | 'clip' | 'param';

export interface TrainGoldenRow {
  name: string;
  group: TrainRowGroup;
  shape: number[];
  /** the row's error in its own metric (see `metric`) */
  err: number;
  /** ‖actual − expected‖₂ / max(‖expected‖₂, floor), or 0/1 for exact rows */
  relErr: number;
  /** what err measures and the bound it passed or failed */
  metric: string;
  status: 'ok' | 'fail' | 'missing';
  note?: string;
}

export interface TrainGoldenReport {
  rows: TrainGoldenRow[];
  maxRelErr: number;
  compared: number;
  failed: number;
  missing: number;
}

export interface TrainGoldenOptions {
  /** the forward fixture folder (config.json, weights, inputs.safetensors, outputs.safetensors) */
  modelDir: string;
  /** relative tolerance of losses, totals, norms, clip coefficients (default 1e-5) */
  lossTol?: number;
  /** relative L2 tolerance per gradient tensor (default 1e-4), also for forward outputs */
  gradTol?: number;
  /** absolute L2 floor for gradients whose true value is 0 (default 1e-6) */
  gradFloor?: number;
  /** absolute tolerance of matcher cost matrices (default 1e-5) */
  costTol?: number;
  /** parameters after a step: |Δ| ≤ paramLrFraction·lr + paramUlps·ulp (defaults 0.05, 2) */
  paramLrFraction?: number;
  paramUlps?: number;
  /** deformable-attention core (default: the reference's grid_sample path) */
  sampling?: DeformSampling;
  /** called after each case, for progress output */
  onCase?: (name: string) => void;
}

interface TrainJson {
  weight_dict?: Record<string, number>;
  matcher_costs?: { cost_con: number; cost_cls: number; cost_dice: number; cost_box: number; cost_giou: number };
  eos_coef?: number;
  dropout_disabled?: Record<string, [string, number][]>;
  optimizer: {
    lr: number;
    weight_decay: number;
    betas: [number, number];
    eps: number;
    clip_max_norm: number;
    groups: { lr: number; weight_decay: number; names: string[] }[];
  };
  trainable_parameter_names_in_clip_order?: string[];
  frozen_parameter_names?: string[];
  steps?: { step: number; optimizer_state_step?: number[]; lr_per_group?: number[] }[];
}

const OUTPUT_KEYS: [keyof SocLayerOutput, string][] = [
  ['predMasks', 'pred_masks'],
  ['predLogit', 'pred_logit'],
  ['predBoxes', 'pred_boxes'],
  ['textSentenceFeature', 'text_sentence_feature'],
  ['predCls', 'pred_cls'],
];

/** Replays every case of a training fixture folder and compares every stored tensor. */
export function replayGoldenTrain(trainDir: string, o: TrainGoldenOptions): TrainGoldenReport {
  const lossTol = o.lossTol ?? 1e-5;
  const gradTol = o.gradTol ?? 1e-4;
  const gradFloor = o.gradFloor ?? 1e-6;
  const costTol = o.costTol ?? 1e-5;
  const paramLrFraction = o.paramLrFraction ?? 0.05;
  const paramUlps = o.paramUlps ?? 2;
  for (const f of ['train.json', 'targets.safetensors', 'losses.safetensors']) {
    if (!existsSync(join(trainDir, f))) throw new SocError(`${trainDir}: not a training fixture folder (missing ${f})`);
  }
  for (const f of ['config.json', 'inputs.safetensors']) {
    if (!existsSync(join(o.modelDir, f))) throw new SocError(`${o.modelDir}: not a forward fixture folder (missing ${f}); pass the folder the training fixture builds on with --model-dir`);
  }
  const meta = JSON.parse(readFileSync(join(trainDir, 'train.json'), 'utf8')) as TrainJson;
  if (!meta.optimizer?.groups) throw new FileFormatError(join(trainDir, 'train.json'), "no 'optimizer' section with its parameter groups");
  const rows: TrainGoldenRow[] = [];
  const cmp = new Comparer(rows, { lossTol, gradTol, gradFloor, costTol });

  // ---- model in train mode, with the fixture's stochastic modules neutralised
  const config = loadSocConfig(join(o.modelDir, 'config.json'));
  const model = new SOC(config, { sampling: o.sampling ?? 'gridSample' });
  const weightsPath = existsSync(join(o.modelDir, 'weights.safetensors')) ? join(o.modelDir, 'weights.safetensors') : join(o.modelDir, 'checkpoint.pth');
  const weights = loadStateDict(weightsPath);
  model.loadStateDict(weights, { strict: true, source: weightsPath });
  for (const t of weights.values()) t.dispose();
  model.train();
  const disabled = Object.values(meta.dropout_disabled ?? {}).flatMap((list) => list.map(([path]) => path));
  const stillRandom = disableStochasticModules(model, disabled);
  cmp.exact('setup.stochastic_modules_left', 'setup', [], stillRandom.map((s) => s.path), []);

  const criterion = meta.weight_dict
    ? new SetCriterion(
        new HungarianMatcher(
          meta.matcher_costs
            ? { con: meta.matcher_costs.cost_con, cls: meta.matcher_costs.cost_cls, dice: meta.matcher_costs.cost_dice, box: meta.matcher_costs.cost_box, giou: meta.matcher_costs.cost_giou }
            : undefined,
          config.num_classes,
        ),
        new Map(Object.entries(meta.weight_dict)),
        { eosCoef: meta.eos_coef, numClasses: config.num_classes },
      )
    : buildCriterion(config);

  // ---- optimizer as the trainer builds it
  const og = meta.optimizer;
  const groups = trainerParamGroups(model, {
    lr: og.groups[0]?.lr ?? og.lr,
    lrBackbone: og.groups[1]?.lr ?? og.lr,
    textEncoderLr: og.groups[2]?.lr ?? og.lr,
    weightDecay: og.weight_decay,
    betas: og.betas,
    eps: og.eps,
  });
  og.groups.forEach((g, i) => cmp.exact(`setup.optimizer.groups.${i}.names`, 'setup', [g.names.length], groups[i]?.names ?? [], g.names));
  const optimizer = new AdamW(groups);
  const raw = config as Record<string, unknown>;
  const milestones = Array.isArray(raw.lr_drop) ? (raw.lr_drop as number[]) : [20];
  const scheduler = new MultiStepLR(optimizer, milestones, raw.dataset_name === 'a2d_sentences' ? 0.2 : 0.1);
  const named = [...model.namedParameters()];
  const nameOf = new Map(named.map(([n, p]) => [p, n]));
  if (meta.frozen_parameter_names) {
    cmp.exact('setup.frozen_parameter_names', 'setup', [meta.frozen_parameter_names.length], named.filter(([, p]) => !p.requiresGrad).map(([n]) => n), meta.frozen_parameter_names);
  }

  // ---- fixture tensors
  const targetsFile = loadSafetensors(join(trainDir, 'targets.safetensors'));
  const expected = loadSafetensors(join(trainDir, 'losses.safetensors'));
  const inputs = loadSafetensors(join(o.modelDir, 'inputs.safetensors'));
  const forwardOutputsPath = join(o.modelDir, 'outputs.safetensors');
  const forwardExpected = existsSync(forwardOutputsPath) ? loadSafetensors(forwardOutputsPath, { names: [...entryNames(forwardOutputsPath)].filter((k) => /(^|\.)outputs\./.test(k)) }) : new Map<string, Tensor>();
  const gradsPath = join(trainDir, 'grads.safetensors');
  const paramsPath = join(trainDir, 'params_after.safetensors');

  const cases = [...new Set([...expected.keys()].map((k) => k.split('.')[0]!))];
  const stepCases = cases.filter((c) => /^step\d+$/.test(c)).sort((a, b) => Number(a.slice(4)) - Number(b.slice(4)));
  const lossOnly = cases.filter((c) => !/^step\d+$/.test(c));

  const caseTargets = (c: string): ClipTargets => {
    const own = `${c}.targets.`;
    const prefix = [...targetsFile.keys()].some((k) => k.startsWith(own)) ? own : 'targets.';
    return targetsFrom(targetsFile, prefix, join(trainDir, 'targets.safetensors'));
  };
  const caseInputs = (c: string, targets: ClipTargets): { inputs: SocInputs; chainPrefix: string } => {
    const p = inputs.has(`${c}.video`) ? `${c}.` : '';
    const need = (k: string) => {
      const t = inputs.get(p + k);
      if (!t) throw new FileFormatError(join(o.modelDir, 'inputs.safetensors'), `missing input '${p + k}'`);
      return t;
    };
    const validIndices = targetsFile.get(`${c}.valid_indices`) ?? null;
    const targetSizes = tensor(targets[0]!.map((t) => t.size), { dtype: 'int64' });
    return {
      inputs: { video: need('video'), videoMask: need('video_mask'), inputIds: need('input_ids'), attentionMask: need('attention_mask'), targetSizes, validIndices },
      chainPrefix: p ? `${p}outputs.` : validIndices ? 'a2d_mode.outputs.' : 'outputs.',
    };
  };

  const compareCase = (c: string, out: SocOutput, crit: CriterionOutput) => {
    for (const lv of crit.levels) {
      const lvl = lv.suffix === '' ? 'main' : `aux${lv.suffix.slice(1)}`;
      const base = `${c}.${lvl}`;
      lv.match.indices.forEach((m, b) => {
        cmp.exactTensor(`${base}.matcher.indices.${b}.query`, 'matcher', m.query, expected);
        cmp.exactTensor(`${base}.matcher.indices.${b}.target`, 'matcher', m.target, expected);
      });
      const costs: [string, Tensor | null][] = [
        ['cost_cls', lv.match.costCls],
        ['cost_bbox', lv.match.costBbox],
        ['cost_giou', lv.match.costGiou],
        ['cost_dice', lv.match.costDice],
      ];
      for (const [k, v] of costs) if (v) cmp.absolute(`${base}.matcher.${k}`, 'matcher', v, expected, costTol);
      lv.match.C.forEach((cb, b) => cmp.absolute(`${base}.matcher.C.${b}`, 'matcher', cb, expected, costTol));
      for (const name of LOSS_NAMES) {
        const v = crit.losses.get(name + lv.suffix);
        if (!v) continue;
        cmp.relative(`${base}.loss.${name}`, 'loss', v, expected, lossTol);
        const w = crit.weighted.get(name + lv.suffix);
        if (w) cmp.relative(`${base}.loss_weighted.${name}`, 'loss', w, expected, lossTol);
      }
      if (lv.clsTarget) cmp.exactValues(`${base}.internals.cls_target`, 'loss', lv.clsTarget, expected);
      if (lv.maskLogits) cmp.l2(`${base}.internals.mask_logits_upsampled`, 'forward', lv.maskLogits, expected, gradTol, 0, true);
    }
    cmp.relative(`${c}.total_loss`, 'loss', crit.total, expected, lossTol);
    const fwd = outputMap(out);
    for (const [k, v] of fwd) if (expected.has(`${c}.forward.${k}`)) cmp.l2(`${c}.forward.${k}`, 'forward', v, expected, gradTol, 0);
  };
  const chain = (c: string, prefix: string, out: SocOutput) => {
    for (const [k, v] of outputMap(out)) {
      const want = forwardExpected.get(prefix + k);
      if (want) cmp.l2Against(`${c}.chain.${k}`, 'forward', v, want, gradTol, 0, `vs ${prefix}${k} of the forward fixture`);
    }
  };

  // ---- loss-only cases on the pristine weights
  for (const c of lossOnly) {
    noGrad(() =>
      tidy(() => {
        const targets = caseTargets(c);
        const { inputs: inp, chainPrefix } = caseInputs(c, targets);
        const out = model.forward(inp);
        chain(c, chainPrefix, out);
        compareCase(c, out, criterion.forward(out, targets));
        return null;
      }),
    );
    o.onCase?.(c);
  }

  // ---- training iterations: forward, losses, zero_grad, backward, clip, AdamW
  const maxNorm = og.clip_max_norm;
  stepCases.forEach((c, si) => {
    tidy(() => {
      const targets = caseTargets(c);
      const { inputs: inp, chainPrefix } = caseInputs(c, targets);
      const out = model.forward(inp);
      if (si === 0) chain(c, chainPrefix, out);
      const crit = criterion.forward(out, targets);
      compareCase(c, out, crit);
      optimizer.zeroGrad();
      crit.total.backward();

      const trainable = named.filter(([, p]) => p.requiresGrad);
      const gradNames = existsSync(gradsPath) && si === 0 ? entryNames(gradsPath) : new Set<string>();
      const gradsWanted = (kind: 'grad' | 'grad_clipped') =>
        gradNames.size ? loadSafetensors(gradsPath, { names: trainable.map(([n]) => `${kind}.${n}`).filter((k) => gradNames.has(k)) }) : new Map<string, Tensor>();
      const rawExpected = gradsWanted('grad');
      for (const [n, p] of trainable) {
        const want = rawExpected.get(`grad.${n}`);
        if (!want) continue;
        const g = p.grad;
        if (!g) cmp.missingActual(`grad.${n}`, 'grad', want.shape, 'no gradient reached this parameter');
        else cmp.l2Against(`grad.${n}`, 'grad', g, want, gradTol, gradFloor, undefined, true);
      }
      disposeMap(rawExpected);

      const clip: ClipResult = clipGradNorm(model.parameters(), maxNorm);
      const withGrad = model.parameters().filter((p) => p.grad !== null);
      if (meta.trainable_parameter_names_in_clip_order && si === 0) {
        cmp.exact(`${c}.clip_order`, 'setup', [meta.trainable_parameter_names_in_clip_order.length], withGrad.map((p) => nameOf.get(p)!), meta.trainable_parameter_names_in_clip_order);
      }
      cmp.relative(`${c}.grad_total_norm`, 'clip', clip.totalNorm, expected, lossTol);
      cmp.relative(`${c}.grad_clip_coef`, 'clip', clip.clipCoef, expected, lossTol);
      cmp.relative(`${c}.grad_clip_coef_clamped`, 'clip', clip.clipCoefClamped, expected, lossTol);
      if (expected.has(`${c}.grad_param_norms`)) cmp.l2(`${c}.grad_param_norms`, 'clip', clip.perTensorNorms, expected, gradTol, 0);

      const clippedExpected = gradsWanted('grad_clipped');
      for (const [n, p] of trainable) {
        const want = clippedExpected.get(`grad_clipped.${n}`);
        if (!want) continue;
        const g = p.grad;
        if (!g) cmp.missingActual(`grad_clipped.${n}`, 'grad', want.shape, 'no gradient reached this parameter');
        else cmp.l2Against(`grad_clipped.${n}`, 'grad', g, want, gradTol, gradFloor * clip.clipCoefClamped.item(), undefined, true);
      }
      disposeMap(clippedExpected);

      optimizer.step();
      const stepMeta = meta.steps?.[si];
      if (stepMeta?.lr_per_group) cmp.exact(`${c}.optimizer.lr_per_group`, 'setup', [stepMeta.lr_per_group.length], scheduler.lastLr, stepMeta.lr_per_group);
      if (stepMeta?.optimizer_state_step) {
        const steps = [...new Set([...optimizer.state.values()].map((s) => s.step.item()))];
        cmp.exact(`${c}.optimizer.state_step`, 'setup', [steps.length], steps, stepMeta.optimizer_state_step);
      }
      if (existsSync(paramsPath)) {
        const prefix = `${c}.param.`;
        const names = entryNames(paramsPath, prefix);
        const want = loadSafetensors(paramsPath, { names: trainable.map(([n]) => prefix + n).filter((k) => names.has(k)) });
        const lrOf = new Map<Tensor, number>();
        for (const g of optimizer.paramGroups) for (const p of g.params) lrOf.set(p, g.lr);
        for (const [n, p] of trainable) {
          const w = want.get(prefix + n);
          if (w) cmp.param(prefix + n, p, w, paramLrFraction * (lrOf.get(p) ?? og.lr), paramUlps, lrOf.get(p) ?? og.lr);
        }
        disposeMap(want);
      }
      return null;
    });
    o.onCase?.(c);
  });

  // stored tensors nothing produced
  const producedNames = new Set(rows.map((r) => r.name));
  const missing = (k: string, shape: number[]) => {
    if (!producedNames.has(k)) rows.push({ name: k, group: groupOf(k), shape, err: NaN, relErr: NaN, metric: '-', status: 'missing' });
  };
  for (const [k, v] of expected) missing(k, v.shape);
  for (const path of [gradsPath, paramsPath]) {
    if (existsSync(path)) for (const e of readSafetensorsHeader(path).entries) missing(e.name, e.shape);
  }
  disposeMap(targetsFile);
  disposeMap(expected);
  disposeMap(inputs);
  disposeMap(forwardExpected);
  optimizer.dispose();
  model.dispose();
  const compared = rows.filter((r) => r.status !== 'missing');
  return {
    rows,
    maxRelErr: compared.reduce((m, r) => Math.max(m, Number.isFinite(r.relErr) ? r.relErr : Infinity), 0),
    compared: compared.length,
    failed: rows.filter((r) => r.status === 'fail').length,
    missing: rows.filter((r) => r.status === 'missing').length,
  };
}

function groupOf(name: string): TrainRowGroup {
  if (name.startsWith('grad')) return 'grad';
  if (name.includes('.param.')) return 'param';
  if (name.includes('.matcher.')) return 'matcher';
  if (name.includes('.forward.')) return 'forward';
  if (name.includes('grad_')) return 'clip';
  return 'loss';
}

function outputMap(out: SocOutput): Map<string, Tensor> {
  const m = new Map<string, Tensor>();
  for (const [k, n] of OUTPUT_KEYS) m.set(n, out[k]);
  out.auxOutputs.forEach((aux, i) => {
    for (const [k, n] of OUTPUT_KEYS) m.set(`aux_outputs.${i}.${n}`, aux[k]);
  });
  return m;
}

/** Names of the entries of a safetensors file (optionally under a prefix), without reading any data. */
function entryNames(path: string, prefix = ''): Set<string> {
  return new Set(readSafetensorsHeader(path).entries.map((e) => e.name).filter((k) => k.startsWith(prefix)));
}

function disposeMap(m: Map<string, Tensor>): void {
  for (const t of m.values()) t.dispose();
}

/**
 * The collated targets stored under `<prefix><t>.<b>.<key>` (masks, boxes, referred_instance_idx,
 * is_ref_inst_visible, size, orig_size, and optionally iscrowd, area, labels).
 */
export function targetsFrom(map: Map<string, Tensor>, prefix: string, file = 'targets'): ClipTargets {
  const frames = new Map<string, Map<string, Tensor>>();
  for (const [k, v] of map) {
    if (!k.startsWith(prefix)) continue;
    const m = /^(\d+)\.(\d+)\.(\w+)$/.exec(k.slice(prefix.length));
    if (!m) continue;
    const key = `${m[1]}.${m[2]}`;
    if (!frames.has(key)) frames.set(key, new Map());
    frames.get(key)!.set(m[3]!, v);
  }
  if (frames.size === 0) throw new FileFormatError(file, `no targets under '${prefix}'`);
  const T = Math.max(...[...frames.keys()].map((k) => Number(k.split('.')[0]))) + 1;
  const B = Math.max(...[...frames.keys()].map((k) => Number(k.split('.')[1]))) + 1;
  const out: ClipTargets = [];
  for (let t = 0; t < T; t++) {
    const step: FrameTarget[] = [];
    for (let b = 0; b < B; b++) {
      const f = frames.get(`${t}.${b}`);
      if (!f) throw new FileFormatError(file, `targets '${prefix}' have no frame ${t} of clip ${b}`);
      const need = (k: string) => {
        const v = f.get(k);
        if (!v) throw new FileFormatError(file, `target '${prefix}${t}.${b}' has no '${k}'`);
        return v;
      };
      const pair = (v: Tensor) => v.toNumbers() as [number, number];
      step.push({
        masks: need('masks'),
        boxes: need('boxes'),
        referredInstanceIdx: need('referred_instance_idx').item(),
        isRefInstVisible: need('is_ref_inst_visible').item() !== 0,
        size: pair(need('size')),
        origSize: pair(need('orig_size')),
        labels: f.get('labels')?.toNumbers(),
        iscrowd: f.get('iscrowd'),
        area: f.get('area'),
      });
    }
    out.push(step);
  }
  return out;
}

// ---------------------------------------------------------------------------------- comparisons

interface Tolerances {
  lossTol: number;
  gradTol: number;
  gradFloor: number;
  costTol: number;
}

function l2(a: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * a[i]!;
  return Math.sqrt(s);
}

function values(t: Tensor): Float64Array {
  return Float64Array.from(noGrad(() => tidy(() => t.detach().to('float64').contiguous().toTypedArray() as Float64Array)));
}

/** One ulp of a float32 value (spacing to the next float32 of larger magnitude). */
function ulp32(v: number): number {
  const a = Math.abs(v);
  if (a < 2 ** -126) return 2 ** -149;
  return 2 ** (Math.floor(Math.log2(a)) - 23);
}

class Comparer {
  constructor(
    readonly rows: TrainGoldenRow[],
    readonly tol: Tolerances,
  ) {}

  private push(r: TrainGoldenRow): void {
    this.rows.push(r);
  }

  private shapeMismatch(name: string, group: TrainRowGroup, got: number[], want: number[]): boolean {
    if (got.join() === want.join()) return false;
    this.push({ name, group, shape: want, err: Infinity, relErr: Infinity, metric: 'shape', status: 'fail', note: `shape [${got}] vs stored [${want}]` });
    return true;
  }

  missingActual(name: string, group: TrainRowGroup, shape: number[], note: string): void {
    this.push({ name, group, shape, err: Infinity, relErr: Infinity, metric: '-', status: 'fail', note });
  }

  /** Lists (names, numbers) that must be equal. */
  exact(name: string, group: TrainRowGroup, shape: number[], got: readonly (string | number)[], want: readonly (string | number)[]): void {
    const same = got.length === want.length && got.every((v, i) => v === want[i]);
    let note: string | undefined;
    if (!same) {
      const i = got.findIndex((v, k) => v !== want[k]);
      note = `differ at ${i < 0 ? Math.min(got.length, want.length) : i}: ${JSON.stringify(got[i] ?? null)} vs ${JSON.stringify(want[i] ?? null)} (${got.length} vs ${want.length} entries)`;
    }
    this.push({ name, group, shape, err: same ? 0 : 1, relErr: same ? 0 : 1, metric: 'exact', status: same ? 'ok' : 'fail', note });
  }

  exactTensor(name: string, group: TrainRowGroup, got: number[], expected: Map<string, Tensor>): void {
    const want = expected.get(name);
    if (!want) return;
    this.exact(name, group, want.shape, got, want.toNumbers());
  }

  exactValues(name: string, group: TrainRowGroup, got: Tensor, expected: Map<string, Tensor>): void {
    const want = expected.get(name);
    if (!want || this.shapeMismatch(name, group, got.shape, want.shape)) return;
    this.exact(name, group, want.shape, Array.from(values(got)), Array.from(values(want)));
  }

  absolute(name: string, group: TrainRowGroup, got: Tensor, expected: Map<string, Tensor>, tol: number): void {
    const want = expected.get(name);
    if (!want || this.shapeMismatch(name, group, got.shape, want.shape)) return;
    const a = values(got);
    const b = values(want);
    let err = 0;
    const d = new Float64Array(a.length);
    for (let i = 0; i < a.length; i++) {
      d[i] = a[i]! - b[i]!;
      err = Math.max(err, Math.abs(d[i]!));
    }
    const rel = l2(d) / Math.max(l2(b), Number.MIN_VALUE);
    this.push({ name, group, shape: want.shape, err, relErr: rel, metric: `max|Δ| ≤ ${tol}`, status: err <= tol ? 'ok' : 'fail' });
  }

  relative(name: string, group: TrainRowGroup, got: Tensor, expected: Map<string, Tensor>, tol: number): void {
    const want = expected.get(name);
    if (!want || this.shapeMismatch(name, group, got.shape, want.shape)) return;
    const a = values(got);
    const b = values(want);
    const d = Float64Array.from(a, (v, i) => v - b[i]!);
    const rel = l2(d) / Math.max(l2(b), Number.MIN_VALUE);
    this.push({ name, group, shape: want.shape, err: rel, relErr: rel, metric: `rel ≤ ${tol}`, status: rel <= tol ? 'ok' : 'fail' });
  }

  l2(name: string, group: TrainRowGroup, got: Tensor, expected: Map<string, Tensor>, tol: number, floor: number, zeros = false): void {
    const want = expected.get(name);
    if (want) this.l2Against(name, group, got, want, tol, floor, undefined, zeros);
  }

  /** ‖Δ‖₂ ≤ tol·‖expected‖₂ + floor; `zeros` also counts elements where exactly one side is exactly 0. */
  l2Against(name: string, group: TrainRowGroup, got: Tensor, want: Tensor, tol: number, floor: number, note?: string, zeros = false): void {
    if (this.shapeMismatch(name, group, got.shape, want.shape)) return;
    const a = values(got);
    const b = values(want);
    const d = Float64Array.from(a, (v, i) => v - b[i]!);
    const nd = l2(d);
    const nb = l2(b);
    const rel = nd / Math.max(nb, floor, Number.MIN_VALUE);
    const ok = nd <= tol * nb + floor;
    let zeroNote = '';
    if (zeros) {
      let onlyWant = 0;
      let onlyGot = 0;
      for (let i = 0; i < a.length; i++) {
        if (b[i] === 0 && a[i] !== 0) onlyWant++;
        else if (a[i] === 0 && b[i] !== 0) onlyGot++;
      }
      if (onlyWant || onlyGot) zeroNote = `exact zeros differ: ${onlyWant} stored-only, ${onlyGot} ours-only`;
    }
    const notes = [note, zeroNote].filter(Boolean).join('; ');
    this.push({ name, group, shape: want.shape, err: rel, relErr: rel, metric: `rel L2 ≤ ${tol}${floor ? ` (+${floor.toExponential(0)} abs)` : ''}`, status: ok ? 'ok' : 'fail', note: notes || undefined });
  }

  /** Parameters after a step: per element |Δ| ≤ lrTol + ulps·ulp(expected); err in units of lr. */
  param(name: string, got: Tensor, want: Tensor, lrTol: number, ulps: number, lr: number): void {
    if (this.shapeMismatch(name, 'param', got.shape, want.shape)) return;
    const a = values(got);
    const b = values(want);
    let worst = 0;
    let bad = 0;
    const d = new Float64Array(a.length);
    for (let i = 0; i < a.length; i++) {
      d[i] = a[i]! - b[i]!;
      const err = Math.abs(d[i]!);
      if (!(err <= lrTol + ulps * ulp32(b[i]!))) bad++;
      worst = Math.max(worst, err);
    }
    const rel = l2(d) / Math.max(l2(b), Number.MIN_VALUE);
    this.push({
      name,
      group: 'param',
      shape: want.shape,
      err: worst / lr,
      relErr: rel,
      metric: `max|Δ|/lr, bound ${(lrTol / lr).toFixed(2)}·lr + ${ulps} ulp`,
      status: bad === 0 ? 'ok' : 'fail',
      note: bad ? `${bad} element(s) outside the bound` : undefined,
    });
  }
}
