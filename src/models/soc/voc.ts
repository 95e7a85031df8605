// Video-level object clustering (VOC): turns per-frame object queries into video-level queries,
// decoded from the sentence. One class for both variants (spec architecture.md §9,
// soc-vs-socpp.md §1):
//   - 'socpp' (NewVOC): frame scores (visibility + language match + 0.5·difference) weight the
//     memory of a cross-attention encoder; decoder queries start from language + video_query_embed;
//     all decoder levels are processed.
//   - 'soc' (VOC): a self-attention encoder; decoder queries start from the language query;
//     in eval mode only the last decoder level is processed.
//
// Both keep the reference's reshape of [L, T, B, Q, C] to [L·B, T, Q, C] WITHOUT a permute (it
// mixes frames and batch elements when B > 1) and NewVOC's scrambled language-match order:
// the official checkpoints and fixtures depend on them. With `separateBatchElements` (a soc-ts
// option) each batch element gets exactly what a B = 1 forward gives it, quirks included: the
// reference always trains video datasets at B = 1, and soc-ts batches several expressions of one
// clip (`--expressions-per-clip`), which the mixing would blend into one another.

import { Embedding, LayerNorm, Linear, Module, ModuleList, Sequential } from '../../nn/index.js';
import { arange } from '../../tensor/creation.js';
import { tidy } from '../../tensor/scope.js';
import type { Tensor } from '../../tensor/tensor.js';
import { CrossAttentionLayer, FFNLayer, SelfAttentionLayer } from '../layers.js';

export interface VOCConfig {
  variant: 'socpp' | 'soc';
  /** C */
  inputDim: number;
  /** Q, the per-frame queries (sizes fq_pos) */
  numFrameQueries: number;
  /** Nv, the video queries */
  numQueries: number;
  nheads: number;
  dimFeedforward: number;
  encLayers: number;
  decLayers: number;
  /** Only 0 is supported (the reference's windowed encoder is dead and broken in NewVOC). */
  windowSize: number;
  /** Each batch element as in a B = 1 forward (soc-ts); false: the reference's mixing when B > 1. */
  separateBatchElements?: boolean;
}

class SigmoidModule extends Module {
  forward(x: Tensor): Tensor {
    return x.sigmoid();
  }
}

/** FFNLayer(Q·C) → Linear(Q·C, 1) → sigmoid: NewVOC's frame scorers `score_embd` / `diff_embd`. */
function frameScorer(width: number, dimFeedforward: number): Sequential {
  return new Sequential([new FFNLayer(width, dimFeedforward, 0.1), new Linear(width, 1), new SigmoidModule()]);
}

export interface VOCDebug {
  /** Intermediate values keyed like the golden hooks (without the `hooks.voc.` prefix). */
  record?: (name: string, t: Tensor) => void;
}

export class VOC extends Module {
  readonly transformerSelfAttentionLayers: ModuleList<SelfAttentionLayer>;
  readonly transformerCrossAttentionLayers: ModuleList<CrossAttentionLayer>;
  readonly transformerFfnLayers: ModuleList<FFNLayer>;
  readonly fqPos: Embedding;
  readonly queryEmbed: Embedding;
  readonly decoderNorm: LayerNorm;
  readonly encSelfAttn: ModuleList<CrossAttentionLayer | SelfAttentionLayer>;
  readonly encFfn: ModuleList<FFNLayer>;
  readonly scoreEmbd: Sequential | null = null;
  readonly diffEmbd: Sequential | null = null;
  readonly videoQueryEmbed: Embedding | null = null;

  constructor(readonly config: VOCConfig) {
    super();
    const c = config;
    if (c.windowSize !== 0) throw new RangeError(`VOC window_size ${c.windowSize}: only 0 (full attention) is supported, as in every official config`);
    // Registration order = the reference's state-dict order.
    this.transformerSelfAttentionLayers = this.registerModule('transformer_self_attention_layers', new ModuleList());
    this.transformerCrossAttentionLayers = this.registerModule('transformer_cross_attention_layers', new ModuleList());
    this.transformerFfnLayers = this.registerModule('transformer_ffn_layers', new ModuleList());
    this.fqPos = this.registerModule('fq_pos', new Embedding(c.numFrameQueries, c.inputDim));
    this.queryEmbed = this.registerModule('query_embed', new Embedding(c.numQueries, c.inputDim));
    this.decoderNorm = this.registerModule('decoder_norm', new LayerNorm(c.inputDim));
    this.encSelfAttn = this.registerModule('enc_self_attn', new ModuleList());
    this.encFfn = this.registerModule('enc_ffn', new ModuleList());
    for (let i = 0; i < c.encLayers; i++) {
      this.encSelfAttn.push(c.variant === 'socpp' ? new CrossAttentionLayer(c.inputDim, c.nheads, 0.1) : new SelfAttentionLayer(c.inputDim, c.nheads, 0.1));
      this.encFfn.push(new FFNLayer(c.inputDim, c.dimFeedforward, 0.1));
    }
    for (let i = 0; i < c.decLayers; i++) {
      this.transformerSelfAttentionLayers.push(new SelfAttentionLayer(c.inputDim, c.nheads, 0.1));
      this.transformerCrossAttentionLayers.push(new CrossAttentionLayer(c.inputDim, c.nheads, 0.1));
      this.transformerFfnLayers.push(new FFNLayer(c.inputDim, c.dimFeedforward, 0.1));
    }
    if (c.variant === 'socpp') {
      const width = c.inputDim * c.numQueries;
      this.scoreEmbd = this.registerModule('score_embd', frameScorer(width, c.dimFeedforward));
      this.diffEmbd = this.registerModule('diff_embd', frameScorer(width, c.dimFeedforward));
      this.videoQueryEmbed = this.registerModule('video_query_embed', new Embedding(c.numQueries, c.inputDim));
    }
  }

  /**
   * frameQuery [L, T, B, Q, C] (per-frame decoder queries of each decoder level),
   * languageQuery [B, C] → video queries [L', B, Nv, C] (L' = L, or 1 for SOC in eval mode).
   */
  forward(frameQuery: Tensor, languageQuery: Tensor, debug: VOCDebug = {}): Tensor {
    return tidy(() => {
      const rec = debug.record ?? (() => {});
      let fqIn = frameQuery;
      if (this.config.variant === 'soc' && !this.training) fqIn = frameQuery.slice(0, -1); // last level only
      const [L, T, B, Q, C] = fqIn.shape as [number, number, number, number, number];
      const Nv = this.config.numQueries;
      // [L·B, T, Q, C] rows (l b): the reference reshapes without a permute (mixing t and b when
      // B > 1); separated, the rows are the natural (l, b) order. Then [T, Q, LB, C].
      const rows = this.config.separateBatchElements ? fqIn.permute(0, 2, 1, 3, 4) : fqIn;
      const fq = rows.reshape(L * B, T, Q, C).permute(1, 2, 0, 3).contiguous();

      let encoded: Tensor; // [T·Q, LB, C]
      if (this.config.variant === 'socpp') {
        const score = this.frameScore(fq, languageQuery, L, B, rec); // [T, LB, 1]
        rec('method.voc.encode_frame_query:frame_query', fq);
        rec('method.voc.encode_frame_query:frame_score', score);
        // score per (t, q) token, computed once before the encoder loop
        const w = score.unsqueeze(1).repeat(1, Q, 1, 1).flatten(0, 1); // [T·Q, LB, 1]
        let x = fq.flatten(0, 1);
        const scored = x.mul(w);
        for (let i = 0; i < this.config.encLayers; i++) {
          x = (this.encSelfAttn.at(i) as CrossAttentionLayer).forward(x, scored);
          rec(`enc_self_attn.${i}`, x);
          x = this.encFfn.at(i).forward(x);
          rec(`enc_ffn.${i}`, x);
        }
        encoded = x;
        rec('method.voc.encode_frame_query', encoded.view(T, Q, L * B, C));
      } else {
        let x = fq.flatten(0, 1);
        for (let i = 0; i < this.config.encLayers; i++) {
          x = (this.encSelfAttn.at(i) as SelfAttentionLayer).forward(x);
          rec(`enc_self_attn.${i}`, x);
          x = this.encFfn.at(i).forward(x);
          rec(`enc_ffn.${i}`, x);
        }
        encoded = x;
      }

      // decoder: positions are the per-frame query index embeddings (no temporal encoding)
      const decPos = this.fqPos.weight.view(1, Q, 1, C).repeat(T, 1, L * B, 1).flatten(0, 1); // [T·Q, LB, C]
      const queryPos = this.queryEmbed.weight.unsqueeze(1).repeat(1, L * B, 1); // [Nv, LB, C]
      let out = languageQuery.view(B, 1, 1, C).repeat(1, L, Nv, 1); // [B, L, Nv, C]
      if (this.videoQueryEmbed) out = out.add(this.videoQueryEmbed.weight.view(1, 1, Nv, C));
      out = out.permute(2, 1, 0, 3).reshape(Nv, L * B, C); // 'b l nq c -> nq (l b) c'
      for (let i = 0; i < this.config.decLayers; i++) {
        out = this.transformerCrossAttentionLayers.at(i).forward(out, encoded, { pos: decPos, queryPos });
        rec(`transformer_cross_attention_layers.${i}`, out);
        out = this.transformerSelfAttentionLayers.at(i).forward(out, { queryPos });
        rec(`transformer_self_attention_layers.${i}`, out);
        out = this.transformerFfnLayers.at(i).forward(out);
        rec(`transformer_ffn_layers.${i}`, out);
      }
      return this.decoderNorm.forward(out).transpose(0, 1).reshape(L, B, Nv, C);
    });
  }

  /** NewVOC's frame score s = visibility + language match + 0.5·difference, [T, LB, 1]. */
  private frameScore(fq: Tensor, languageQuery: Tensor, L: number, B: number, rec: (n: string, t: Tensor) => void): Tensor {
    const [T, , , C] = fq.shape as [number, number, number, number];
    const flat = fq.transpose(1, 2).flatten(2); // [T, LB, Q·C]
    const vis = this.scoreEmbd!.forward(flat);
    rec('score_embd', vis);
    // Language match, with the reference's index order: rows of the query tensor run
    // t-major over (l b), rows of the language tensor b-major over (l t).
    const separate = this.config.separateBatchElements;
    let lang = separate
      ? languageQuery.view(1, 1, B, C).expand(T, L, B, C).reshape(T * L * B, C, 1) // row (t l b) uses its own b
      : languageQuery.view(B, 1, 1, C).expand(B, L, T, C).reshape(B * L * T, C, 1);
    let fqm = fq.transpose(1, 2).flatten(0, 1); // [T·LB, Q, C]
    lang = lang.div(lang.norm(2, 1, { keepdim: true }));
    fqm = fqm.div(fqm.norm(2, -1, { keepdim: true }));
    const m = fqm.matmul(lang).mean(1); // [T·LB, 1], read below as (b l t)
    // Separated: each element's (t l) values get the B = 1 reading of (t l) data as (l t).
    const perElement = separate ? m.view(T, L, B).permute(2, 0, 1).contiguous() : m;
    const match = perElement.view(B, L, T, 1).permute(2, 1, 0, 3).reshape(T, L * B, 1).sigmoid();
    // Difference from the running mean over time
    const cum = flat.cumsum(0);
    const steps = arange(1, T + 1, 1, { dtype: 'float32' }).view(T, 1, 1);
    const diff = this.diffEmbd!.forward(flat.sub(cum.div(steps)));
    rec('diff_embd', diff);
    return vis.add(match).add(diff.mul(0.5));
  }
}
