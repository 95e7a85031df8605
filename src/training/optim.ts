// Optimisation as the reference trainer does it with torch 1.13 (spec training.md §2): AdamW over
// three parameter groups, MultiStepLR stepped once per epoch, and gradient clipping by the total
// L2 norm. State dicts use PyTorch's layout (optimizer: `state` keyed by the parameter's integer
// index across groups, `param_groups` with `params` index lists; scheduler: its __dict__), so a
// checkpoint written here resumes in PyTorch and the other way round.

import { UsageError } from '../errors.js';
import { PyFloat, PyTuple, tuple } from '../io/checkpoint.js';
import type { Module } from '../nn/module.js';
import { noGrad } from '../tensor/autograd.js';
import { scalarTensor, stack, zerosLike } from '../tensor/creation.js';
import { tidy } from '../tensor/scope.js';
import { op } from '../tensor/dispatch.js';
import { type Tensor, isTensor, wrap } from '../tensor/tensor.js';

// ------------------------------------------------------------------------------ parameter groups

export interface ParamGroup {
  params: Tensor[];
  /** parameter names, for reports (not saved) */
  names: string[];
  lr: number;
  betas: [number, number];
  eps: number;
  weightDecay: number;
  /** set by the scheduler: the lr the schedule is relative to */
  initialLr?: number;
}

export interface TrainerLrs {
  /** everything except the backbone and the text encoder */
  lr: number;
  lrBackbone: number;
  textEncoderLr: number;
  weightDecay: number;
  betas?: [number, number];
  eps?: number;
}

/**
 * The trainer's three groups, from named_parameters() (each tensor once, registration order)
 * filtered by requires_grad: names containing neither 'backbone' nor 'text_encoder' (lr), names
 * containing 'backbone' (lr_backbone), names containing 'text_encoder' (text_encoder_lr; empty
 * when the text encoder is frozen). A name containing both words falls in both groups, as in the
 * reference (torch then refuses the optimizer; none of the model's names does).
 */
export function trainerParamGroups(model: Module, o: TrainerLrs): ParamGroup[] {
  const named = [...model.namedParameters()].filter(([, p]) => p.requiresGrad);
  const group = (keep: (n: string) => boolean, lr: number): ParamGroup => {
    const sel = named.filter(([n]) => keep(n));
    return { params: sel.map(([, p]) => p), names: sel.map(([n]) => n), lr, betas: o.betas ?? [0.9, 0.999], eps: o.eps ?? 1e-8, weightDecay: o.weightDecay };
  };
  return [
    group((n) => !n.includes('backbone') && !n.includes('text_encoder'), o.lr),
    group((n) => n.includes('backbone'), o.lrBackbone),
    group((n) => n.includes('text_encoder'), o.textEncoderLr),
  ];
}

// ------------------------------------------------------------------------------ AdamW

interface AdamState {
  /** 0-dim float32, as torch 1.13 keeps it */
  step: Tensor;
  /** the same count as a JS number (read every step without a round trip to the tensor) */
  count: number;
  expAvg: Tensor;
  expAvgSq: Tensor;
}

// The _foreach_ operators apply one elementwise op to a list of tensors in a single call. On the
// CPU, libtorch runs them as a loop of the per-tensor ops (same kernels, same rounding), so they
// only remove the per-call overhead of ~10 ops × hundreds of parameters.
const FOREACH = {
  mulScalar: op('_foreach_mul_', 'Scalar'),
  addList: op('_foreach_add_', 'List'),
  addScalar: op('_foreach_add_', 'Scalar'),
  addcmulScalar: op('_foreach_addcmul_', 'Scalar'),
  sqrt: op('_foreach_sqrt'),
  divScalar: op('_foreach_div_', 'Scalar'),
  addcdivScalar: op('_foreach_addcdiv_', 'Scalar'),
  norm: op('_foreach_norm', 'Scalar'),
};
const handles = (ts: readonly Tensor[]) => ts.map((t) => t.h);

/**
 * torch.optim.AdamW of torch 1.13 (single-tensor path, amsgrad off, not maximising), per
 * parameter: step += 1; p ·= 1 − lr·wd; m = β1·m + (1 − β1)·g; v = β2·v + (1 − β2)·g²;
 * p −= (lr / (1 − β1^step)) · m / (√v / √(1 − β2^step) + eps). The decay comes before the moments
 * and eps is added after dividing √v by the bias correction, in float32 with these exact ops.
 * Parameters without a gradient are skipped (no decay).
 */
export class AdamW {
  readonly paramGroups: ParamGroup[];
  /** per parameter, created at its first step */
  readonly state = new Map<Tensor, AdamState>();

  constructor(groups: ParamGroup[]) {
    const seen = new Set<Tensor>();
    for (const g of groups) {
      for (const p of g.params) {
        if (seen.has(p)) throw new UsageError('AdamW: a parameter appears in more than one group');
        seen.add(p);
      }
    }
    this.paramGroups = groups;
  }

  /** Every parameter in group order (the index space of the state dict). */
  get params(): Tensor[] {
    return this.paramGroups.flatMap((g) => g.params);
  }

  step(): void {
    noGrad(() =>
      tidy(() => {
        for (const g of this.paramGroups) {
          const [beta1, beta2] = g.betas;
          // parameters sharing a step count share their bias corrections: the whole group,
          // unless a resumed state or a parameter that missed a gradient says otherwise
          const byCount = new Map<number, { params: Tensor[]; grads: Tensor[]; states: AdamState[] }>();
          for (const p of g.params) {
            const grad = p.grad;
            if (!grad) continue;
            let s = this.state.get(p);
            if (!s) {
              s = { step: scalarTensor(0).keep(), count: 0, expAvg: zerosLike(p).keep(), expAvgSq: zerosLike(p).keep() };
              this.state.set(p, s);
            }
            s.count += 1;
            let part = byCount.get(s.count);
            if (!part) byCount.set(s.count, (part = { params: [], grads: [], states: [] }));
            part.params.push(p);
            part.grads.push(grad);
            part.states.push(s);
          }
          for (const [step, part] of byCount) {
            const params = handles(part.params);
            const grads = handles(part.grads);
            const expAvg = handles(part.states.map((s) => s.expAvg));
            const expAvgSq = handles(part.states.map((s) => s.expAvgSq));
            FOREACH.addScalar(handles(part.states.map((s) => s.step)), 1);
            FOREACH.mulScalar(params, 1 - g.lr * g.weightDecay);
            FOREACH.mulScalar(expAvg, beta1);
            FOREACH.addList(expAvg, grads, 1 - beta1);
            FOREACH.mulScalar(expAvgSq, beta2);
            FOREACH.addcmulScalar(expAvgSq, grads, grads, 1 - beta2);
            const biasCorrection1 = 1 - beta1 ** step;
            const biasCorrection2 = 1 - beta2 ** step;
            const stepSize = g.lr / biasCorrection1;
            const denom = (FOREACH.sqrt(expAvgSq) as unknown[]).map(wrap);
            FOREACH.divScalar(handles(denom), Math.sqrt(biasCorrection2));
            FOREACH.addScalar(handles(denom), g.eps);
            FOREACH.addcdivScalar(params, expAvg, handles(denom), -stepSize);
          }
        }
        return null;
      }),
    );
  }

  /**
   * torch 1.13's zero_grad(): with setToNone false (its default) gradients are zero-filled in
   * place, so a parameter that gets no gradient in a later iteration is still decayed.
   */
  zeroGrad(setToNone = false): void {
    for (const p of this.params) {
      const g = p.grad;
      if (!g) continue;
      if (setToNone) p.grad = null;
      else g.zero_();
      g.dispose();
    }
  }

  /** PyTorch's Optimizer.state_dict(): { state: {index: {step, exp_avg, exp_avg_sq}}, param_groups }. The tensors are the live ones. */
  stateDict(): { state: Map<number, Record<string, Tensor>>; param_groups: Record<string, unknown>[] } {
    const index = new Map<Tensor, number>();
    let next = 0;
    const groups = this.paramGroups.map((g) => {
      const ids = g.params.map((p) => {
        if (!index.has(p)) index.set(p, next++);
        return index.get(p)!;
      });
      const packed: Record<string, unknown> = {
        lr: new PyFloat(g.lr),
        betas: tuple(new PyFloat(g.betas[0]), new PyFloat(g.betas[1])),
        eps: new PyFloat(g.eps),
        weight_decay: new PyFloat(g.weightDecay),
        amsgrad: false,
        foreach: null,
        maximize: false,
        capturable: false,
      };
      if (g.initialLr !== undefined) packed.initial_lr = new PyFloat(g.initialLr);
      packed.params = ids;
      return packed;
    });
    const state = new Map<number, Record<string, Tensor>>();
    for (const [p, s] of this.state) state.set(index.get(p)!, { step: s.step, exp_avg: s.expAvg, exp_avg_sq: s.expAvgSq });
    return { state, param_groups: groups };
  }

  /**
   * Loads a state dict written by stateDict() or by PyTorch (as loadTorchFile returns it: Maps and
   * arrays). The groups must have the same sizes; hyper-parameters come from the dict, the state
   * tensors are copied (cast to each parameter's dtype, like PyTorch).
   */
  loadStateDict(sd: unknown): void {
    const groups = field(sd, 'param_groups', 'optimizer state dict');
    if (!Array.isArray(groups) || groups.length !== this.paramGroups.length) {
      throw new UsageError(`optimizer state dict has ${Array.isArray(groups) ? groups.length : 'no'} parameter groups, this optimizer ${this.paramGroups.length}`);
    }
    const byIndex = new Map<number, Tensor>();
    groups.forEach((saved, gi) => {
      const g = this.paramGroups[gi]!;
      const ids = field(saved, 'params', `param_groups[${gi}]`);
      if (!Array.isArray(ids) || ids.length !== g.params.length) {
        throw new UsageError(`optimizer state dict group ${gi} has ${Array.isArray(ids) ? ids.length : 'no'} parameters, this optimizer's has ${g.params.length}`);
      }
      ids.forEach((id, k) => byIndex.set(Number(id), g.params[k]!));
    });
    groups.forEach((saved, gi) => {
      const g = this.paramGroups[gi]!;
      g.lr = num(field(saved, 'lr', 'param group'));
      const betas = field(saved, 'betas', 'param group');
      const b = betas instanceof PyTuple ? betas.items : (betas as unknown[]);
      g.betas = [num(b[0]), num(b[1])];
      g.eps = num(field(saved, 'eps', 'param group'));
      g.weightDecay = num(field(saved, 'weight_decay', 'param group'));
      if (truthy(optionalField(saved, 'amsgrad')) || truthy(optionalField(saved, 'maximize'))) throw new UsageError('optimizer state dict uses amsgrad or maximize, which soc-ts does not implement');
      const initial = optionalField(saved, 'initial_lr');
      g.initialLr = initial === undefined ? undefined : num(initial);
    });
    for (const s of this.state.values()) for (const t of [s.step, s.expAvg, s.expAvgSq]) t.dispose();
    this.state.clear();
    const state = field(sd, 'state', 'optimizer state dict');
    for (const [key, value] of entries(state)) {
      const p = byIndex.get(Number(key));
      if (!p) throw new UsageError(`optimizer state dict has state for parameter ${String(key)}, which no group lists`);
      const get = (k: string) => {
        const t = field(value, k, `state[${String(key)}]`);
        if (!isTensor(t)) throw new UsageError(`optimizer state[${String(key)}].${k} is not a tensor`);
        return t;
      };
      const step = field(value, 'step', `state[${String(key)}]`);
      noGrad(() => {
        const expAvg = get('exp_avg');
        const expAvgSq = get('exp_avg_sq');
        if (expAvg.shape.join() !== p.shape.join() || expAvgSq.shape.join() !== p.shape.join()) {
          throw new UsageError(`optimizer state[${String(key)}] has shape [${expAvg.shape}], the parameter [${p.shape}]`);
        }
        const count = isTensor(step) ? step.item() : num(step);
        this.state.set(p, {
          step: scalarTensor(count).keep(),
          count,
          expAvg: expAvg.to(p.dtype, { copy: true }).contiguous().keep(),
          expAvgSq: expAvgSq.to(p.dtype, { copy: true }).contiguous().keep(),
        });
      });
    }
  }

  /** Frees the state tensors. */
  dispose(): void {
    for (const s of this.state.values()) for (const t of [s.step, s.expAvg, s.expAvgSq]) t.dispose();
    this.state.clear();
  }
}

// ------------------------------------------------------------------------------ clipping

export interface ClipResult {
  /** 0-dim: the L2 norm of the per-tensor L2 norms (before clipping) */
  totalNorm: Tensor;
  /** 0-dim: maxNorm / (totalNorm + 1e-6) */
  clipCoef: Tensor;
  /** 0-dim: min(clipCoef, 1), the factor every gradient was multiplied by */
  clipCoefClamped: Tensor;
  /** [n] per-tensor norms, in parameter order (of those with a gradient) */
  perTensorNorms: Tensor;
}

/**
 * torch 1.13's clip_grad_norm_ (L2, non-finite allowed): total = ‖(‖g_i‖)_i‖, coef =
 * maxNorm / (total + 1e-6) clamped to ≤ 1, every gradient multiplied in place by it.
 */
export function clipGradNorm(params: Iterable<Tensor>, maxNorm: number): ClipResult {
  return noGrad(() =>
    tidy(() => {
      const grads = [...params].map((p) => p.grad).filter((g): g is Tensor => g !== null);
      if (grads.length === 0) {
        const z = scalarTensor(0);
        return { totalNorm: z, clipCoef: z.clone(), clipCoefClamped: z.clone(), perTensorNorms: z.reshape(0) };
      }
      const perTensorNorms = stack((FOREACH.norm(handles(grads), 2) as unknown[]).map(wrap));
      const totalNorm = perTensorNorms.norm(2);
      // Python's `max_norm / tensor` is reciprocal(tensor)·max_norm: the same rounding here.
      const clipCoef = totalNorm.add(1e-6).reciprocal().mul(maxNorm);
      const clipCoefClamped = clipCoef.clamp(null, 1);
      // × the float32 coefficient as a Scalar: the same product as × the 0-dim tensor
      FOREACH.mulScalar(handles(grads), clipCoefClamped.item());
      return { totalNorm, clipCoef, clipCoefClamped, perTensorNorms };
    }),
  );
}

// ------------------------------------------------------------------------------ MultiStepLR

/**
 * torch.optim.lr_scheduler.MultiStepLR (torch 1.13): step() once per epoch; when the new epoch
 * is a milestone, every group's lr is multiplied by gamma^(times it is listed). Construction
 * performs the initial step (last_epoch 0) and records each group's initial_lr.
 */
export class MultiStepLR {
  /** milestone epoch → multiplicity (a Python Counter) */
  milestones: Map<number, number>;
  gamma: number;
  baseLrs: number[];
  lastEpoch = -1;
  stepCount = 0;
  lastLr: number[];
  verbose: boolean;

  constructor(
    readonly optimizer: AdamW,
    milestones: readonly number[],
    gamma = 0.1,
    o: { verbose?: boolean } = {},
  ) {
    this.milestones = new Map();
    for (const m of milestones) this.milestones.set(m, (this.milestones.get(m) ?? 0) + 1);
    this.gamma = gamma;
    this.verbose = o.verbose ?? false;
    for (const g of optimizer.paramGroups) g.initialLr ??= g.lr;
    this.baseLrs = optimizer.paramGroups.map((g) => g.initialLr!);
    this.lastLr = optimizer.paramGroups.map((g) => g.lr);
    this.step();
  }

  step(): void {
    this.stepCount += 1;
    this.lastEpoch += 1;
    const times = this.milestones.get(this.lastEpoch);
    if (times !== undefined) for (const g of this.optimizer.paramGroups) g.lr = g.lr * this.gamma ** times;
    this.lastLr = this.optimizer.paramGroups.map((g) => g.lr);
  }

  /**
   * Replaces the milestones mid-run (a resumed run given a new `--lr-drop`): every group's lr
   * becomes its base lr × gamma^(milestones already passed), as if the run had used them from the
   * start. Later step() calls follow the new milestones.
   */
  setMilestones(milestones: readonly number[]): void {
    this.milestones = new Map();
    for (const m of milestones) this.milestones.set(m, (this.milestones.get(m) ?? 0) + 1);
    let passed = 0;
    for (const [m, times] of this.milestones) if (m <= this.lastEpoch) passed += times;
    this.optimizer.paramGroups.forEach((g, i) => (g.lr = this.baseLrs[i]! * this.gamma ** passed));
    this.lastLr = this.optimizer.paramGroups.map((g) => g.lr);
  }

  /** The scheduler's __dict__ without the optimizer, as PyTorch saves it. */
  stateDict(): Record<string, unknown> {
    return {
      // PyTorch saves a collections.Counter; this is written as an OrderedDict of the same items,
      // which MultiStepLR.step() reads the same way.
      milestones: new Map(this.milestones),
      gamma: new PyFloat(this.gamma),
      base_lrs: this.baseLrs.map((v) => new PyFloat(v)),
      last_epoch: this.lastEpoch,
      verbose: this.verbose,
      _step_count: this.stepCount,
      _get_lr_called_within_step: false,
      _last_lr: this.lastLr.map((v) => new PyFloat(v)),
    };
  }

  /** Loads stateDict() output or PyTorch's (Maps from loadTorchFile). The groups' lrs stay as the optimizer's state dict set them. */
  loadStateDict(sd: unknown): void {
    const m = field(sd, 'milestones', 'scheduler state dict');
    this.milestones = new Map([...entries(m)].map(([k, v]) => [Number(k), Number(v)]));
    this.gamma = num(field(sd, 'gamma', 'scheduler state dict'));
    this.baseLrs = (field(sd, 'base_lrs', 'scheduler state dict') as unknown[]).map(num);
    this.lastEpoch = num(field(sd, 'last_epoch', 'scheduler state dict'));
    this.stepCount = num(field(sd, '_step_count', 'scheduler state dict'));
    const last = optionalField(sd, '_last_lr');
    this.lastLr = Array.isArray(last) ? last.map(num) : this.optimizer.paramGroups.map((g) => g.lr);
    this.verbose = truthy(optionalField(sd, 'verbose'));
  }
}

// ------------------------------------------------------------------------------ state-dict access

/** A key of a dict as saved (plain object) or loaded (Map). */
function optionalField(d: unknown, key: string): unknown {
  if (d instanceof Map) return d.get(key);
  if (d && typeof d === 'object') return (d as Record<string, unknown>)[key];
  return undefined;
}

function field(d: unknown, key: string, what: string): unknown {
  const v = optionalField(d, key);
  if (v === undefined) throw new UsageError(`${what}: missing '${key}'`);
  return v;
}

function entries(d: unknown): Iterable<[unknown, unknown]> {
  if (d instanceof Map) return d.entries();
  if (d && typeof d === 'object') return Object.entries(d as Record<string, unknown>);
  throw new UsageError('expected a dict in the state dict');
}

function num(v: unknown): number {
  if (v instanceof PyFloat) return v.value;
  if (typeof v === 'bigint') return Number(v);
  if (typeof v === 'number') return v;
  throw new UsageError(`expected a number in the state dict, got ${typeof v}`);
}

function truthy(v: unknown): boolean {
  return v === true || v === 1;
}
