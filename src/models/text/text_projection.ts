// The text path of SOC / SOC++ up to `SOC.forward_text` and `text_pos` (spec architecture.md §4):
// RoBERTa → FeatureResizer (`txt_proj`) on the word features and on the pooled sentence, the
// padding mask, and the 1-D sine position encoding of the words.

import { Dropout, LayerNorm, Linear, Module } from '../../nn/index.js';
import * as torch from '../../tensor/index.js';
import type { Tensor } from '../../tensor/index.js';
import { PositionEmbeddingSine1D } from '../backbone/position_encoding.js';
import type { RobertaModel } from './roberta.js';

export { PositionEmbeddingSine1D };

/** Linear → LayerNorm(eps 1e-12) → Dropout (reference `FeatureResizer`, keys `fc.*`, `layer_norm.*`). */
export class FeatureResizer extends Module {
  readonly fc: Linear;
  readonly layerNorm: LayerNorm | null;
  readonly dropout: Dropout;

  constructor(inputFeatSize: number, outputFeatSize: number, dropout = 0.1, doLn = true) {
    super();
    this.fc = this.registerModule('fc', new Linear(inputFeatSize, outputFeatSize));
    this.layerNorm = this.registerModule('layer_norm', doLn ? new LayerNorm(outputFeatSize, 1e-12) : null);
    this.dropout = this.registerModule('dropout', new Dropout(dropout));
  }

  /** [..., in] → [..., out] */
  forward(x: Tensor): Tensor {
    return torch.tidy(() => {
      const y = this.fc.forward(x);
      return this.dropout.forward(this.layerNorm ? this.layerNorm.forward(y) : y);
    });
  }
}

export interface TextFeatures {
  /** txt_proj(last hidden state), [S, B, C] (sequence-first) */
  wordFeatures: Tensor;
  /** [B, S] bool, true = padding */
  wordMask: Tensor;
  /** txt_proj(pooler output), [B, C] (used by SOC; computed but unused by SOC++) */
  sentenceFeature: Tensor;
  /** 1-D sine encoding of the words, [S, B, C] */
  textPos: Tensor;
}

/** Called with `text_encoder:<field>`, `txt_proj#<k>`, `text_pos` ([B, C, S]) names, as in the fixtures' hooks. */
export type TextHook = (name: string, value: Tensor) => void;

/**
 * SOC.forward_text plus the text position encoding. inputIds / attentionMask [B, S] as the
 * tokenizer returns them (HF convention: attention mask 1 = token).
 */
export function forwardText(
  parts: { textEncoder: RobertaModel; txtProj: FeatureResizer; textPos: PositionEmbeddingSine1D },
  inputIds: Tensor,
  attentionMask: Tensor,
  hook?: TextHook,
): TextFeatures {
  return torch.tidy(() => {
    const enc = parts.textEncoder.forward(inputIds, attentionMask, { outputHiddenStates: hook !== undefined });
    if (hook) {
      hook('text_encoder:last_hidden_state', enc.lastHiddenState);
      hook('text_encoder:pooler_output', enc.poolerOutput);
      enc.hiddenStates.forEach((h, i) => hook(`text_encoder:hidden_states.${i}`, h));
    }
    const wordFeatures = parts.txtProj.forward(enc.lastHiddenState.transpose(0, 1)); // [S, B, C]
    hook?.('txt_proj#0', wordFeatures);
    const sentenceFeature = parts.txtProj.forward(enc.poolerOutput);
    hook?.('txt_proj#1', sentenceFeature);
    const wordMask = attentionMask.ne(1); // true = pad
    const pos = parts.textPos.forward(wordMask); // [B, C, S]
    hook?.('text_pos', pos);
    return { wordFeatures, wordMask, sentenceFeature, textPos: pos.permute(2, 0, 1) };
  });
}
