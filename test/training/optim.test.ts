// AdamW (torch 1.13 order), clip_grad_norm_, MultiStepLR, the trainer's parameter groups and the
// optimizer/scheduler state dicts through torch.save-format files.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { loadTorchFile, saveTorchFile } from '../../src/io/checkpoint.js';
import { Linear, Module } from '../../src/nn/index.js';
import * as torch from '../../src/tensor/index.js';
import { AdamW, MultiStepLR, clipGradNorm, trainerParamGroups, type ParamGroup } from '../../src/training/optim.js';
import { assertClose } from '../helpers/assert.js';
import { tempDir } from '../helpers/shared.js';

function leaf(values: number[]): torch.Tensor {
  return torch.tensor(values, { dtype: 'float32' }).requiresGrad_().keep();
}
function setGrad(p: torch.Tensor, values: number[]): void {
  p.grad = torch.tensor(values, { dtype: 'float32' });
}
function group(params: torch.Tensor[], lr: number, weightDecay: number): ParamGroup {
  return { params, names: params.map((_, i) => `p${i}`), lr, betas: [0.9, 0.999], eps: 1e-8, weightDecay };
}

/** The decoupled-decay AdamW update in float64, as torch 1.13 orders it. */
function adamwReference(p0: number[], grads: number[][], lr: number, wd: number): number[] {
  const p = [...p0];
  const m = p.map(() => 0);
  const v = p.map(() => 0);
  grads.forEach((g, k) => {
    const step = k + 1;
    for (let i = 0; i < p.length; i++) {
      p[i]! *= 1 - lr * wd;
      m[i] = 0.9 * m[i]! + 0.1 * g[i]!;
      v[i] = 0.999 * v[i]! + 0.001 * g[i]! * g[i]!;
      const denom = Math.sqrt(v[i]!) / Math.sqrt(1 - 0.999 ** step) + 1e-8;
      p[i]! -= (lr / (1 - 0.9 ** step)) * (m[i]! / denom);
    }
  });
  return p;
}

describe('AdamW', () => {
  test('two steps equal the hand-computed torch 1.13 update; a zero gradient only decays; no gradient, no update', () => {
    const p0 = [1, -2, 0.5, 3];
    const grads = [
      [0.1, -0.2, 0, 1e-9],
      [0.3, 0.1, -0.05, -2],
    ];
    const p = leaf(p0);
    const frozen = leaf([7]);
    const opt = new AdamW([group([p, frozen], 1e-3, 0.01)]);
    for (const g of grads) {
      setGrad(p, g);
      opt.step();
    }
    assertClose(p, adamwReference(p0, grads, 1e-3, 0.01), 0, 3e-7, 'after 2 steps');
    assert.deepEqual(frozen.toNumbers(), [7], 'a parameter without gradient is skipped (no decay)');
    assert.equal(opt.state.size, 1);
    const s = opt.state.get(p)!;
    assert.equal(s.step.item(), 2);
    assert.deepEqual(s.step.shape, [], 'step is a 0-dim float32 tensor, as in torch 1.13');
    assert.equal(s.step.dtype, 'float32');
    // element 2: gradient 0 then −0.05 — after step 1 it had moved by the decay alone
    const once = leaf(p0);
    const o1 = new AdamW([group([once], 1e-3, 0.01)]);
    setGrad(once, grads[0]!);
    o1.step();
    assertClose(once.toNumbers()[2]!, 0.5 * (1 - 1e-5), 0, 1e-7, 'zero gradient: decay only');
    opt.dispose();
    o1.dispose();
  });

  test('zeroGrad zero-fills (torch 1.13 default) or frees the gradients', () => {
    const p = leaf([1, 2]);
    const opt = new AdamW([group([p], 1e-3, 0)]);
    setGrad(p, [3, 4]);
    opt.zeroGrad();
    assert.deepEqual(p.grad!.toNumbers(), [0, 0]);
    opt.zeroGrad(true);
    assert.equal(p.grad, null);
  });

  test('a parameter in two groups is refused', () => {
    const p = leaf([1]);
    assert.throws(() => new AdamW([group([p], 1, 0), group([p], 1, 0)]), /more than one group/);
  });
});

describe('clipGradNorm', () => {
  test('total = ‖(‖g_i‖)‖, coef = max/(total + 1e-6), gradients scaled in place; parameters without gradient ignored', () => {
    const a = leaf([0, 0]);
    const b = leaf([0]);
    const c = leaf([5]);
    setGrad(a, [3, 4]);
    setGrad(b, [12]);
    const r = clipGradNorm([a, b, c], 1);
    assertClose(r.totalNorm, 13, 0, 1e-7);
    assertClose(r.clipCoef, 1 / (13 + 1e-6), 0, 1e-7);
    assertClose(r.clipCoefClamped, 1 / (13 + 1e-6), 0, 1e-7);
    assertClose(r.perTensorNorms, [5, 12], 0, 1e-7);
    assertClose(a.grad!, [3 / 13, 4 / 13], 0, 1e-6);
    assertClose(b.grad!, [12 / 13], 0, 1e-6);
    assert.equal(c.grad, null);
  });

  test('a norm below max_norm leaves the gradients unchanged (coefficient clamped to 1)', () => {
    const a = leaf([0, 0]);
    setGrad(a, [0.03, 0.04]);
    const r = clipGradNorm([a], 0.1);
    assert.equal(r.clipCoefClamped.item(), 1);
    assert.ok(r.clipCoef.item() > 1);
    assert.deepEqual(a.grad!.toNumbers(), Array.from(Float32Array.from([0.03, 0.04])));
  });
});

describe('MultiStepLR', () => {
  test('constructed at epoch 0; each milestone multiplies every group by gamma^count (a Counter)', () => {
    const opt = new AdamW([group([leaf([1])], 1e-4, 0), group([leaf([1])], 1e-5, 0)]);
    const s = new MultiStepLR(opt, [2, 4, 4], 0.1);
    assert.equal(s.lastEpoch, 0);
    assert.equal(s.stepCount, 1);
    assert.deepEqual(opt.paramGroups.map((g) => g.initialLr), [1e-4, 1e-5]);
    const lrs: number[][] = [];
    for (let e = 1; e <= 5; e++) {
      s.step();
      lrs.push(opt.paramGroups.map((g) => g.lr));
    }
    const close = (a: number[], b: number[]) => a.every((v, i) => Math.abs(v - b[i]!) <= 1e-12 * Math.abs(b[i]!));
    assert.ok(close(lrs[0]!, [1e-4, 1e-5]), 'epoch 1');
    assert.ok(close(lrs[1]!, [1e-5, 1e-6]), 'epoch 2: ×0.1');
    assert.ok(close(lrs[2]!, [1e-5, 1e-6]), 'epoch 3');
    assert.ok(close(lrs[3]!, [1e-7, 1e-8]), 'epoch 4 listed twice: ×0.01');
    assert.deepEqual(s.lastLr, opt.paramGroups.map((g) => g.lr));
  });

  test('setMilestones mid-run: the lrs and later steps are those of a run that had the new milestones from the start', () => {
    const run = (milestones: number[], replaceAt: number | null, replacement: number[]) => {
      const opt = new AdamW([group([leaf([1])], 1e-4, 0), group([leaf([1])], 1e-5, 0)]);
      const s = new MultiStepLR(opt, milestones, 0.1);
      const lrs: number[][] = [];
      for (let e = 1; e <= 7; e++) {
        s.step();
        if (e === replaceAt) s.setMilestones(replacement);
        lrs.push(opt.paramGroups.map((g) => g.lr));
      }
      return { lrs, last: s.lastLr };
    };
    // dropped at epoch 2, then moved to 5 at epoch 3: back to the base lr, dropped again at 5
    const moved = run([2], 3, [5]);
    const fresh = run([5], null, []);
    assert.deepEqual(moved.lrs.slice(2), fresh.lrs.slice(2));
    assert.deepEqual(moved.last, fresh.last);
    assert.deepEqual(moved.lrs[3], [1e-4, 1e-5], 'epoch 4: base lr restored');
    // a milestone already passed counts: [1, 6] set at epoch 3 → ×0.1 now, ×0.01 from epoch 6
    const passed = run([9], 3, [1, 6]);
    assert.deepEqual(passed.lrs, run([1, 6], null, []).lrs.map((l, i) => (i < 2 ? [1e-4, 1e-5] : l)));
  });
});

class TwoPart extends Module {
  readonly head = this.registerModule('head', new Linear(3, 2));
  readonly backbone = this.registerModule('backbone', new Linear(2, 2));
  readonly text_encoder = this.registerModule('text_encoder', new Linear(2, 1));
}

describe('trainer parameter groups', () => {
  test('main / backbone / text_encoder by name, frozen parameters excluded', () => {
    const m = new TwoPart();
    m.text_encoder.requiresGrad_(false);
    const g = trainerParamGroups(m, { lr: 1e-4, lrBackbone: 1e-5, textEncoderLr: 2e-5, weightDecay: 1e-4 });
    assert.deepEqual(g.map((x) => x.names), [['head.weight', 'head.bias'], ['backbone.weight', 'backbone.bias'], []]);
    assert.deepEqual(g.map((x) => x.lr), [1e-4, 1e-5, 2e-5]);
    m.dispose();
  });
});

describe('optimizer and scheduler state dicts', () => {
  test('round trip through a torch.save file: the resumed run continues bit for bit', (t) => {
    const dir = tempDir(t);
    torch.manualSeed(3);
    const make = () => {
      const m = new TwoPart();
      const opt = new AdamW(trainerParamGroups(m, { lr: 1e-3, lrBackbone: 1e-4, textEncoderLr: 1e-4, weightDecay: 1e-4 }));
      return { m, opt, sched: new MultiStepLR(opt, [1], 0.5) };
    };
    const a = make();
    const b = make();
    b.m.loadStateDict(a.m.stateDict());
    const x = torch.randn([4, 3]).keep();
    const iterate = (r: ReturnType<typeof make>) =>
      torch.tidy(() => {
        r.opt.zeroGrad();
        const h = r.m.head.forward(x);
        r.m.text_encoder.forward(r.m.backbone.forward(h)).square().mean().backward();
        clipGradNorm(r.m.parameters(), 0.1);
        r.opt.step();
        return null;
      });
    iterate(a);
    iterate(a);
    a.sched.step(); // epoch 1 is a milestone
    const path = join(dir, 'ckpt.pth.tar');
    saveTorchFile(path, { model_state_dict: a.m.stateDict(), optimizer_state_dict: a.opt.stateDict(), scheduler_state_dict: a.sched.stateDict() });

    const loaded = loadTorchFile(path) as Map<string, unknown>;
    const osd = loaded.get('optimizer_state_dict') as Map<string, unknown>;
    const state = osd.get('state') as Map<number, Map<string, torch.Tensor>>;
    assert.deepEqual([...state.keys()], [0, 1, 2, 3, 4, 5], 'state keyed by integer index across groups');
    assert.deepEqual([...state.get(0)!.keys()], ['step', 'exp_avg', 'exp_avg_sq']);
    assert.equal(state.get(0)!.get('step')!.item(), 2);
    const groups = osd.get('param_groups') as Map<string, unknown>[];
    assert.deepEqual(groups.map((g) => g.get('params')), [[0, 1], [2, 3], [4, 5]]);
    assert.deepEqual([...groups[0]!.keys()], ['lr', 'betas', 'eps', 'weight_decay', 'amsgrad', 'foreach', 'maximize', 'capturable', 'initial_lr', 'params']);
    assert.equal(groups[0]!.get('lr'), 5e-4);
    const ssd = loaded.get('scheduler_state_dict') as Map<string, unknown>;
    assert.deepEqual([...ssd.keys()], ['milestones', 'gamma', 'base_lrs', 'last_epoch', 'verbose', '_step_count', '_get_lr_called_within_step', '_last_lr']);
    assert.equal(ssd.get('last_epoch'), 1);

    b.m.loadStateDict(loaded.get('model_state_dict') as Map<string, torch.Tensor>);
    b.opt.loadStateDict(osd);
    b.sched.loadStateDict(ssd);
    assert.deepEqual(b.opt.paramGroups.map((g) => g.lr), a.opt.paramGroups.map((g) => g.lr));
    assert.equal(b.sched.lastEpoch, 1);
    iterate(a);
    iterate(b);
    for (const [k, v] of a.m.stateDict()) assert.deepEqual(b.m.stateDict().get(k)!.toNumbers(), v.toNumbers(), k);
    for (const r of [a, b]) {
      r.opt.dispose();
      r.m.dispose();
    }
  });

  test('a state dict with other group sizes is refused', () => {
    const opt = new AdamW([group([leaf([1]), leaf([2])], 1, 0)]);
    const other = new AdamW([group([leaf([1])], 1, 0)]);
    assert.throws(() => opt.loadStateDict(other.stateDict()), /group 0 has 1 parameters/);
  });
});
