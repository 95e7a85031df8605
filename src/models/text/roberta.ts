// RoBERTa encoder as Hugging Face's `RobertaModel` (modeling_roberta, transformers 4.2x), which SOC
// and SOC++ mount as `text_encoder` (spec architecture.md §4, parameters.md §2.5 and §5).
// Module and key names are HF's, so a roberta-base state dict (after dropping the `roberta.` prefix
// and the `lm_head.*` head) loads without renaming: `embeddings.*`, `encoder.layer.{i}.*`, `pooler.*`.
//
// Conventions: input ids [B, S] int64 with `<s>` … `</s>` and right padding by pad_token_id;
// attention mask [B, S] with 1 = token, 0 = padding (HF convention; SOC's own padding masks are the
// inverse). Post-LayerNorm layers, exact-erf GELU, dropout active in training mode only.

import { z } from 'zod';
import { Dropout, Embedding, LayerNorm, Linear, Module, ModuleList, init, type LoadResult, type StateDict } from '../../nn/index.js';
import * as F from '../../nn/functional.js';
import * as torch from '../../tensor/index.js';
import type { Tensor } from '../../tensor/index.js';

/** The fields of an HF `config.json` that RobertaModel uses, with HF RobertaConfig's defaults. */
export const RobertaConfigSchema = z.object({
  vocab_size: z.number().int().positive().default(50265),
  hidden_size: z.number().int().positive().default(768),
  num_hidden_layers: z.number().int().nonnegative().default(12),
  num_attention_heads: z.number().int().positive().default(12),
  intermediate_size: z.number().int().positive().default(3072),
  hidden_act: z.enum(['gelu', 'relu', 'gelu_new', 'gelu_pytorch_tanh']).default('gelu'),
  hidden_dropout_prob: z.number().min(0).max(1).default(0.1),
  attention_probs_dropout_prob: z.number().min(0).max(1).default(0.1),
  max_position_embeddings: z.number().int().positive().default(512),
  type_vocab_size: z.number().int().positive().default(2),
  initializer_range: z.number().positive().default(0.02),
  layer_norm_eps: z.number().positive().default(1e-12),
  pad_token_id: z.number().int().nonnegative().default(1),
  bos_token_id: z.number().int().nonnegative().default(0),
  eos_token_id: z.number().int().nonnegative().default(2),
  position_embedding_type: z.literal('absolute', { message: "only position_embedding_type 'absolute' is supported (roberta-base uses it)" }).default('absolute'),
  is_decoder: z.literal(false, { message: 'a decoder configuration (is_decoder true) is not a RoBERTa encoder' }).default(false),
  add_cross_attention: z.literal(false, { message: 'cross-attention layers are not supported' }).default(false),
});

export type RobertaConfig = z.infer<typeof RobertaConfigSchema>;

/** roberta-base's config.json values (parameters.md §5). */
export const ROBERTA_BASE_CONFIG: RobertaConfig = RobertaConfigSchema.parse({
  vocab_size: 50265,
  hidden_size: 768,
  num_hidden_layers: 12,
  num_attention_heads: 12,
  intermediate_size: 3072,
  hidden_act: 'gelu',
  max_position_embeddings: 514,
  type_vocab_size: 1,
  layer_norm_eps: 1e-5,
  pad_token_id: 1,
});

/**
 * Keys a RoBERTa state dict may or may not carry: transformers < 4.31 saved the `position_ids`
 * buffer (arange), newer versions do not. It never changes results.
 */
export const ROBERTA_OPTIONAL_KEYS = ['embeddings.position_ids'] as const;

function activation(name: RobertaConfig['hidden_act']): (x: Tensor) => Tensor {
  switch (name) {
    case 'gelu':
      return (x) => F.gelu(x);
    case 'relu':
      return (x) => F.relu(x);
    default:
      return (x) => F.gelu(x, 'tanh');
  }
}

/** HF `_init_weights`: Linear/Embedding N(0, initializer_range) (padding row 0), biases 0, LayerNorm 1/0. */
function hfInit(root: Module, std: number): void {
  for (const m of root.modules()) {
    if (m instanceof Linear) {
      init.normal_(m.weight, 0, std);
      if (m.bias) init.zeros_(m.bias);
    } else if (m instanceof Embedding) {
      init.normal_(m.weight, 0, std);
      if (m.paddingIdx >= 0) {
        const row = m.weight.select(0, m.paddingIdx);
        init.zeros_(row);
        row.dispose();
      }
    }
  }
}

/**
 * Position ids as RoBERTa numbers them: real tokens get pad+1, pad+2, … in order, padding keeps
 * pad_token_id. [B, S] int64.
 */
export function robertaPositionIds(inputIds: Tensor, padTokenId: number): Tensor {
  return torch.tidy(() => {
    const real = inputIds.ne(padTokenId).to('int64');
    return real.cumsum(1).mul(real).add(padTokenId);
  });
}

/** word + token_type(0) + position embeddings → LayerNorm → dropout. */
export class RobertaEmbeddings extends Module {
  readonly wordEmbeddings: Embedding;
  readonly positionEmbeddings: Embedding;
  readonly tokenTypeEmbeddings: Embedding;
  readonly LayerNorm: LayerNorm;
  readonly dropout: Dropout;
  readonly padTokenId: number;

  constructor(c: RobertaConfig) {
    super();
    this.padTokenId = c.pad_token_id;
    // [1, max_position_embeddings] arange; persistent, as transformers 4.24 (pinned by SOC) saves it
    this.registerBuffer('position_ids', torch.arange(0, c.max_position_embeddings).view(1, -1));
    this.wordEmbeddings = this.registerModule('word_embeddings', new Embedding(c.vocab_size, c.hidden_size, { paddingIdx: c.pad_token_id }));
    this.positionEmbeddings = this.registerModule(
      'position_embeddings',
      new Embedding(c.max_position_embeddings, c.hidden_size, { paddingIdx: c.pad_token_id }),
    );
    this.tokenTypeEmbeddings = this.registerModule('token_type_embeddings', new Embedding(c.type_vocab_size, c.hidden_size));
    this.LayerNorm = this.registerModule('LayerNorm', new LayerNorm(c.hidden_size, c.layer_norm_eps));
    this.dropout = this.registerModule('dropout', new Dropout(c.hidden_dropout_prob));
  }

  /** inputIds [B, S] int64 → [B, S, hidden]. */
  forward(inputIds: Tensor): Tensor {
    const [, len] = inputIds.shape as [number, number];
    const limit = this.positionEmbeddings.numEmbeddings - this.padTokenId - 1;
    if (len > limit) {
      // positions run pad+1 … pad+len; beyond the table the lookup would fail deep inside libtorch
      throw new RangeError(`RoBERTa takes at most ${limit} tokens (max_position_embeddings ${this.positionEmbeddings.numEmbeddings}), got ${len}; truncate the expression`);
    }
    return torch.tidy(() => {
      const positionIds = robertaPositionIds(inputIds, this.padTokenId);
      const tokenTypeIds = torch.zerosLike(inputIds, { dtype: 'int64' });
      const e = this.wordEmbeddings.forward(inputIds).add(this.tokenTypeEmbeddings.forward(tokenTypeIds));
      e.add_(this.positionEmbeddings.forward(positionIds));
      return this.dropout.forward(this.LayerNorm.forward(e));
    });
  }
}

/** Multi-head scaled dot-product self-attention (query/key/value projections; no output projection here). */
export class RobertaSelfAttention extends Module {
  readonly query: Linear;
  readonly key: Linear;
  readonly value: Linear;
  readonly dropout: Dropout;
  readonly numHeads: number;
  readonly headSize: number;

  constructor(c: RobertaConfig) {
    super();
    if (c.hidden_size % c.num_attention_heads !== 0) {
      throw new RangeError(`hidden_size ${c.hidden_size} is not a multiple of num_attention_heads ${c.num_attention_heads}`);
    }
    this.numHeads = c.num_attention_heads;
    this.headSize = c.hidden_size / c.num_attention_heads;
    this.query = this.registerModule('query', new Linear(c.hidden_size, c.hidden_size));
    this.key = this.registerModule('key', new Linear(c.hidden_size, c.hidden_size));
    this.value = this.registerModule('value', new Linear(c.hidden_size, c.hidden_size));
    this.dropout = this.registerModule('dropout', new Dropout(c.attention_probs_dropout_prob));
  }

  /** x [B, S, H]; additiveMask [B, 1, 1, S] (0 for tokens, a huge negative for padding). → [B, S, H] */
  forward(x: Tensor, additiveMask: Tensor): Tensor {
    return torch.tidy(() => {
      const [b, s, hidden] = x.shape as [number, number, number];
      const heads = (t: Tensor) => t.view(b, s, this.numHeads, this.headSize).permute(0, 2, 1, 3); // [B, h, S, d]
      const q = heads(this.query.forward(x));
      const k = heads(this.key.forward(x));
      const v = heads(this.value.forward(x));
      const scores = q.matmul(k.transpose(-1, -2)).div(Math.sqrt(this.headSize)).add(additiveMask);
      const probs = this.dropout.forward(scores.softmax(-1));
      return probs.matmul(v).permute(0, 2, 1, 3).contiguous().view(b, s, hidden);
    });
  }
}

/** LayerNorm(x + dropout(dense(h))): the residual sub-layer output used after attention and FFN. */
class ResidualOutput extends Module {
  readonly dense: Linear;
  readonly LayerNorm: LayerNorm;
  readonly dropout: Dropout;

  constructor(inFeatures: number, c: RobertaConfig) {
    super();
    this.dense = this.registerModule('dense', new Linear(inFeatures, c.hidden_size));
    this.LayerNorm = this.registerModule('LayerNorm', new LayerNorm(c.hidden_size, c.layer_norm_eps));
    this.dropout = this.registerModule('dropout', new Dropout(c.hidden_dropout_prob));
  }

  forward(h: Tensor, residual: Tensor): Tensor {
    return torch.tidy(() => this.LayerNorm.forward(this.dropout.forward(this.dense.forward(h)).add(residual)));
  }
}

/** Attention output projection + residual + LayerNorm (`attention.output`). */
export class RobertaSelfOutput extends ResidualOutput {
  constructor(c: RobertaConfig) {
    super(c.hidden_size, c);
  }
}

/** FFN down projection + residual + LayerNorm (`output`). */
export class RobertaOutput extends ResidualOutput {
  constructor(c: RobertaConfig) {
    super(c.intermediate_size, c);
  }
}

/** `attention` = self-attention (`self`) followed by its output sub-layer (`output`). */
export class RobertaAttention extends Module {
  readonly self_: RobertaSelfAttention;
  readonly output: RobertaSelfOutput;

  constructor(c: RobertaConfig) {
    super();
    this.self_ = this.registerModule('self', new RobertaSelfAttention(c));
    this.output = this.registerModule('output', new RobertaSelfOutput(c));
  }

  forward(x: Tensor, additiveMask: Tensor): Tensor {
    return torch.tidy(() => this.output.forward(this.self_.forward(x, additiveMask), x));
  }
}

/** FFN up projection with the activation (`intermediate`). */
export class RobertaIntermediate extends Module {
  readonly dense: Linear;
  private readonly act: (x: Tensor) => Tensor;

  constructor(c: RobertaConfig) {
    super();
    this.dense = this.registerModule('dense', new Linear(c.hidden_size, c.intermediate_size));
    this.act = activation(c.hidden_act);
  }

  forward(x: Tensor): Tensor {
    return torch.tidy(() => this.act(this.dense.forward(x)));
  }
}

/** One post-LN transformer layer. */
export class RobertaLayer extends Module {
  readonly attention: RobertaAttention;
  readonly intermediate: RobertaIntermediate;
  readonly output: RobertaOutput;

  constructor(c: RobertaConfig) {
    super();
    this.attention = this.registerModule('attention', new RobertaAttention(c));
    this.intermediate = this.registerModule('intermediate', new RobertaIntermediate(c));
    this.output = this.registerModule('output', new RobertaOutput(c));
  }

  forward(x: Tensor, additiveMask: Tensor): Tensor {
    return torch.tidy(() => {
      const a = this.attention.forward(x, additiveMask);
      return this.output.forward(this.intermediate.forward(a), a);
    });
  }
}

export class RobertaEncoder extends Module {
  readonly layer: ModuleList<RobertaLayer>;

  constructor(c: RobertaConfig) {
    super();
    this.layer = this.registerModule('layer', new ModuleList(Array.from({ length: c.num_hidden_layers }, () => new RobertaLayer(c))));
  }
}

/** tanh(dense(hidden state of the first token)). */
export class RobertaPooler extends Module {
  readonly dense: Linear;

  constructor(c: RobertaConfig) {
    super();
    this.dense = this.registerModule('dense', new Linear(c.hidden_size, c.hidden_size));
  }

  /** [B, S, H] → [B, H] */
  forward(hidden: Tensor): Tensor {
    return torch.tidy(() => this.dense.forward(hidden.select(1, 0)).tanh());
  }
}

export interface RobertaModelOutput {
  /** [B, S, hidden] */
  lastHiddenState: Tensor;
  /** [B, hidden] */
  poolerOutput: Tensor;
  /** With outputHiddenStates: embeddings then every layer's output, each [B, S, hidden]. */
  hiddenStates: Tensor[];
}

/**
 * The 0 / finfo(float32).min additive mask [B, 1, 1, S] for padded keys, as transformers builds it
 * (older versions used −10000; in float32 both give padded keys exactly zero attention).
 */
export function extendedAttentionMask(attentionMask: Tensor): Tensor {
  return torch.tidy(() => attentionMask.to('float32').rsub(1).mul(-3.4028234663852886e38).view(attentionMask.shape[0]!, 1, 1, -1));
}

/** HF RobertaModel with pooler. Keys: `embeddings.*`, `encoder.layer.{i}.*`, `pooler.dense.*`. */
export class RobertaModel extends Module {
  readonly embeddings: RobertaEmbeddings;
  readonly encoder: RobertaEncoder;
  readonly pooler: RobertaPooler;

  /** A model with HF's random initialisation (load weights with loadStateDict or the folder loader). */
  constructor(readonly config: RobertaConfig) {
    super();
    this.embeddings = this.registerModule('embeddings', new RobertaEmbeddings(config));
    this.encoder = this.registerModule('encoder', new RobertaEncoder(config));
    this.pooler = this.registerModule('pooler', new RobertaPooler(config));
    hfInit(this, config.initializer_range);
  }

  /**
   * inputIds [B, S] int64 (`<s>` … `</s>`, right-padded with pad_token_id); attentionMask [B, S]
   * (1 = token, 0 = padding; any integer or float dtype), all ones when null. Pad query rows are
   * computed too (callers ignore them through their masks).
   */
  forward(inputIds: Tensor, attentionMask: Tensor | null = null, o: { outputHiddenStates?: boolean } = {}): RobertaModelOutput {
    return torch.tidy(() => {
      const mask = extendedAttentionMask(attentionMask ?? torch.onesLike(inputIds));
      let h = this.embeddings.forward(inputIds);
      const hiddenStates: Tensor[] = o.outputHiddenStates ? [h] : [];
      for (const layer of this.encoder.layer) {
        const next = layer.forward(h, mask);
        if (!o.outputHiddenStates) h.dispose();
        h = next;
        if (o.outputHiddenStates) hiddenStates.push(h);
      }
      return { lastHiddenState: h, poolerOutput: this.pooler.forward(h), hiddenStates };
    });
  }

  /**
   * Like Module.loadStateDict, except that `embeddings.position_ids` may be absent (newer
   * transformers no longer save it); the model then keeps its own arange.
   */
  override loadStateDict(state: StateDict, options: { strict?: boolean; source?: string } = {}): LoadResult {
    return super.loadStateDict(withRobertaPositionIds(this, state), options);
  }
}

/**
 * `state` with `<prefix>embeddings.position_ids` filled in from `model` when it is missing, so a
 * strict load accepts both transformers conventions. For a model mounted under a prefix (SOC's
 * `text_encoder.`), pass that prefix. Returns a new Map; the tensors are shared.
 */
export function withRobertaPositionIds(model: RobertaModel, state: StateDict, prefix = ''): StateDict {
  const key = `${prefix}embeddings.position_ids`;
  if (state.has(key)) return state;
  const own = model.embeddings.stateDict().get('position_ids');
  const out = new Map(state);
  if (own) out.set(key, own);
  return out;
}
