// Building blocks shared by several SOC modules (DETR / Mask2Former style), with the
// reference's key names: FFNLayer (linear1, linear2, norm), SelfAttentionLayer (self_attn,
// norm), CrossAttentionLayer (multihead_attn, norm), MLP (layers.{i}), and the multiplicative
// vision-language fusion MMF (multihead_attn).
//
// Every forward runs in its own scope so intermediates are freed when it returns.

import { Dropout, LayerNorm, Linear, Module, ModuleList, MultiheadAttention, init } from '../nn/index.js';
import * as F from '../nn/functional.js';
import { tidy } from '../tensor/scope.js';
import type { Tensor } from '../tensor/tensor.js';

/** tensor + pos, or the same tensor object when pos is absent (PyTorch MHA shares projections by identity). */
export function withPos(x: Tensor, pos: Tensor | null | undefined): Tensor {
  return pos ? x.add(pos) : x;
}

/** log(x / (1 - x)) with x clamped to [0, 1] and both terms to at least eps (reference inverse_sigmoid). */
export function inverseSigmoid(x: Tensor, eps = 1e-5): Tensor {
  return tidy(() => {
    const c = x.clamp(0, 1);
    const x1 = c.clamp(eps);
    const x2 = c.rsub(1).clamp(eps);
    return x1.div(x2).log();
  });
}

/** Re-initialises every ≥2-D parameter of `m` with xavier_uniform (the layers' _reset_parameters). */
function xavierAll(m: Module): void {
  for (const p of m.parameters()) if (p.ndim > 1) init.xavierUniform_(p);
}

/** Post-norm feed-forward block: norm(x + drop(linear2(drop(act(linear1(x)))))). */
export class FFNLayer extends Module {
  readonly linear1: Linear;
  readonly dropout: Dropout;
  readonly linear2: Linear;
  readonly norm: LayerNorm;

  constructor(dModel: number, dimFeedforward = 2048, dropout = 0, readonly activation: 'relu' | 'gelu' = 'relu') {
    super();
    this.linear1 = this.registerModule('linear1', new Linear(dModel, dimFeedforward));
    this.dropout = this.registerModule('dropout', new Dropout(dropout));
    this.linear2 = this.registerModule('linear2', new Linear(dimFeedforward, dModel));
    this.norm = this.registerModule('norm', new LayerNorm(dModel));
    xavierAll(this);
  }

  forward(x: Tensor): Tensor {
    return tidy(() => {
      const h = this.activation === 'relu' ? F.relu(this.linear1.forward(x)) : F.gelu(this.linear1.forward(x));
      const y = this.linear2.forward(this.dropout.forward(h));
      return this.norm.forward(x.add(this.dropout.forward(y)));
    });
  }
}

/** Post-norm self-attention: norm(x + drop(MHA(q = k = x + queryPos, v = x))). */
export class SelfAttentionLayer extends Module {
  readonly selfAttn: MultiheadAttention;
  readonly norm: LayerNorm;
  readonly dropout: Dropout;

  constructor(dModel: number, nhead: number, dropout = 0) {
    super();
    this.selfAttn = this.registerModule('self_attn', new MultiheadAttention(dModel, nhead, { dropout }));
    this.norm = this.registerModule('norm', new LayerNorm(dModel));
    this.dropout = this.registerModule('dropout', new Dropout(dropout));
    xavierAll(this);
  }

  /** x [L, N, C]; keyPaddingMask [N, L] (true = padding); attnMask [L, L] or [N·h, L, L]. */
  forward(x: Tensor, o: { queryPos?: Tensor | null; keyPaddingMask?: Tensor | null; attnMask?: Tensor | null } = {}): Tensor {
    return tidy(() => {
      const qk = withPos(x, o.queryPos);
      const a = this.selfAttn.forward(qk, qk, x, { keyPaddingMask: o.keyPaddingMask, attnMask: o.attnMask }).output;
      return this.norm.forward(x.add(this.dropout.forward(a)));
    });
  }
}

/** Post-norm cross-attention: norm(x + drop(MHA(q = x + queryPos, k = memory + pos, v = memory))). */
export class CrossAttentionLayer extends Module {
  readonly multiheadAttn: MultiheadAttention;
  readonly norm: LayerNorm;
  readonly dropout: Dropout;

  constructor(dModel: number, nhead: number, dropout = 0) {
    super();
    this.multiheadAttn = this.registerModule('multihead_attn', new MultiheadAttention(dModel, nhead, { dropout }));
    this.norm = this.registerModule('norm', new LayerNorm(dModel));
    this.dropout = this.registerModule('dropout', new Dropout(dropout));
    xavierAll(this);
  }

  /** x [L, N, C], memory [S, N, C]; keyPaddingMask [N, S] (true = padding). */
  forward(
    x: Tensor,
    memory: Tensor,
    o: { pos?: Tensor | null; queryPos?: Tensor | null; keyPaddingMask?: Tensor | null; attnMask?: Tensor | null } = {},
  ): Tensor {
    return tidy(() => {
      const a = this.multiheadAttn.forward(withPos(x, o.queryPos), withPos(memory, o.pos), memory, {
        keyPaddingMask: o.keyPaddingMask,
        attnMask: o.attnMask,
      }).output;
      return this.norm.forward(x.add(this.dropout.forward(a)));
    });
  }
}

/**
 * Multiplicative vision-language fusion (reference `MMF`): x ⊙ MHA(q = x + queryPos, k = memory + pos,
 * v = memory). No residual, no norm.
 */
export class MMF extends Module {
  readonly multiheadAttn: MultiheadAttention;

  constructor(dModel: number, nhead: number, dropout = 0) {
    super();
    this.multiheadAttn = this.registerModule('multihead_attn', new MultiheadAttention(dModel, nhead, { dropout }));
  }

  forward(x: Tensor, memory: Tensor, o: { pos?: Tensor | null; queryPos?: Tensor | null; keyPaddingMask?: Tensor | null } = {}): Tensor {
    return tidy(() => {
      const a = this.multiheadAttn.forward(withPos(x, o.queryPos), withPos(memory, o.pos), memory, { keyPaddingMask: o.keyPaddingMask }).output;
      return x.mul(a);
    });
  }
}

/** Linear layers with ReLU between them (DETR MLP): keys `layers.{i}`. */
export class MLP extends Module {
  readonly layers: ModuleList<Linear>;

  constructor(inputDim: number, hiddenDim: number, outputDim: number, numLayers: number) {
    super();
    const dims = [inputDim, ...new Array<number>(numLayers - 1).fill(hiddenDim), outputDim];
    this.layers = this.registerModule('layers', new ModuleList(dims.slice(1).map((d, i) => new Linear(dims[i]!, d))));
  }

  forward(x: Tensor): Tensor {
    return tidy(() => {
      let y = x;
      this.layers.items.forEach((layer, i) => {
        y = layer.forward(y);
        if (i < this.layers.length - 1) y = F.relu(y);
      });
      return y;
    });
  }
}
