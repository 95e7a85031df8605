// The SOC++ / SOC model (reference `models/soc.py` of both repositories), one implementation
// selected by `config.variant` (spec architecture.md, soc-vs-socpp.md). Registration order =
// the official state-dict order: backbone, bbox_embed, class_embed, transformer, input_proj,
// text_encoder, query_embed, spatial_decoder, voc, vlf, lvf, [proxy_embed, v2p,] txt_proj,
// controller, [query_fusion].
//
// The forward is a pure tensor program. Tokenisation, frame decoding and post-processing happen
// outside; `encodeVideo` and `decode` are exposed separately so several sentences can reuse one
// backbone pass.

import { Conv2d, Embedding, GroupNorm, Linear, Module, ModuleList, Sequential, init } from '../../nn/index.js';
import * as F from '../../nn/functional.js';
import { cat, stack, zeros } from '../../tensor/creation.js';
import { tidy } from '../../tensor/scope.js';
import type { Tensor } from '../../tensor/tensor.js';
import { type BackboneOutput, PositionEmbeddingSine1D } from '../backbone/position_encoding.js';
import { Joiner, stageChannels } from '../backbone/video_swin.js';
import { CrossAttentionLayer, MLP, MMF, inverseSigmoid } from '../layers.js';
import { RobertaModel, withRobertaPositionIds } from '../text/roberta.js';
import type { LoadResult, StateDict } from '../../nn/module.js';
import { FeatureResizer, forwardText } from '../text/text_projection.js';
import { DeformableTransformer, type DeformSampling } from '../transformer/deformable_transformer.js';
import { type SocConfig, swinConfigOf } from './config.js';
import { FPNSpatialDecoder, bmrw, dynamicMaskWithCoords, dynamicParamSizes } from './heads.js';
import { VOC } from './voc.js';

/** Called with golden-fixture names (`hooks.vlf#0`, `hooks_in.voc:0` …) and the value at that point. */
export type SocHook = (key: string, value: Tensor) => void;


export interface SocInputs {
  /** [T, B, 3, H, W] ImageNet-normalised, zero-padded to the batch's H, W (time-major, as collated) */
  video: Tensor;
  /** [T, B, H, W] bool, true = padded pixel */
  videoMask: Tensor;
  /** [B, S] int64 token ids (<s> … </s>, pad 1) */
  inputIds: Tensor;
  /** [B, S] int64, 1 = token, 0 = padding */
  attentionMask: Tensor;
  /** [B, 2] int64 (h, w) of each video's resized, unpadded frames (targets[0][b]['size']) */
  targetSizes: Tensor;
  /** A2D/JHMDB: indices into the (b t) frames to decode (the annotated frames); then T := 1 */
  validIndices?: Tensor | null;
  /**
   * Several sentences on one clip (a soc-ts training option): [(B·T)] int64, for every sentence's
   * frame the (g t) index of the encoded frame, so the video holds G ≤ B clips and each is encoded once.
   */
  frameIndex?: Tensor | null;
}

/** One decoder level's predictions (the reference's output dict). */
export interface SocLayerOutput {
  /** [T, B, Q, H/4, W/4] mask logits */
  predMasks: Tensor;
  /** [T, B, Q, 1] referred logits */
  predCls: Tensor;
  /** [T, B, Q, 4] sigmoid cxcywh, relative to the unpadded frame */
  predBoxes: Tensor;
  /** [B, Nv, C] video queries (before BMRW in SOC++) */
  predLogit: Tensor;
  /** [B, C] pooled fused text feature */
  textSentenceFeature: Tensor;
}

export interface SocOutput extends SocLayerOutput {
  /** The earlier decoder levels (empty for SOC in eval mode, as in the reference). */
  auxOutputs: SocLayerOutput[];
}

export interface SocOptions {
  hook?: SocHook;
}

/** The frames `index` of every (b t)-flattened tensor of a clip's features (gradients flow back to the shared ones). */
export function selectFrames(f: VideoFeatures, index: Tensor): VideoFeatures {
  return {
    features: f.features.map((l) => ({ tensors: l.tensors.indexSelect(0, index), mask: l.mask.indexSelect(0, index) })),
    pos: f.pos.map((p) => p.indexSelect(0, index)),
    mask: f.mask.indexSelect(0, index),
  };
}

/** Backbone features of a clip, reusable across sentences. */
export interface VideoFeatures extends BackboneOutput {
  /** [(b t), H, W] input padding mask */
  mask: Tensor;
}

export class SOC extends Module {
  readonly backbone: Joiner;
  readonly bboxEmbed: ModuleList<MLP>;
  readonly classEmbed: ModuleList<Linear>;
  readonly transformer: DeformableTransformer;
  readonly inputProj: ModuleList<Sequential>;
  readonly textEncoder: RobertaModel;
  readonly queryEmbed: Embedding;
  readonly spatialDecoder: FPNSpatialDecoder;
  readonly voc: VOC;
  readonly vlf: MMF;
  readonly lvf: MMF;
  readonly proxyEmbed: Embedding | null = null;
  readonly v2p: MMF | null = null;
  readonly txtProj: FeatureResizer;
  readonly controller: MLP;
  readonly queryFusion: CrossAttentionLayer | null = null;
  readonly textPos: PositionEmbeddingSine1D;
  readonly weightNums: number[];
  readonly biasNums: number[];
  /** SOC++ runs clips longer than this through the deformable transformer in chunks (frames are independent there). */
  transformerChunkFrames = 64;

  constructor(readonly config: SocConfig, o: { sampling?: DeformSampling } = {}) {
    super();
    const c = config;
    const dt = c.DeformTransformer;
    const d = dt.d_model;
    const swin = swinConfigOf(c);
    const channels = stageChannels(swin);
    const L = dt.dec_layers;

    this.backbone = this.registerModule('backbone', new Joiner(swin, d));
    // One head per decoder level, all starting from the same initial values (the reference deep-copies).
    const box0 = new MLP(d, d, 4, 3);
    const lastBox = box0.layers.at(-1);
    init.zeros_(lastBox.weight);
    init.zeros_(lastBox.bias!);
    const cls0 = new Linear(d, c.num_classes);
    init.constant_(cls0.bias!, -Math.log((1 - 0.01) / 0.01));
    this.bboxEmbed = this.registerModule('bbox_embed', new ModuleList(Array.from({ length: L }, (_, i) => (i === 0 ? box0 : cloneInto(new MLP(d, d, 4, 3), box0)))));
    this.classEmbed = this.registerModule('class_embed', new ModuleList(Array.from({ length: L }, (_, i) => (i === 0 ? cls0 : cloneInto(new Linear(d, c.num_classes), cls0)))));
    {
      const b = this.bboxEmbed.at(0).layers.at(-1).bias!.slice(0, 2);
      init.constant_(b, -2);
      b.dispose();
    }
    this.transformer = this.registerModule(
      'transformer',
      new DeformableTransformer({
        dModel: d,
        nHeads: dt.nheads,
        numEncoderLayers: dt.enc_layers,
        numDecoderLayers: L,
        dimFeedforward: dt.dim_feedforward,
        dropout: dt.dropout,
        numFeatureLevels: dt.num_feature_levels,
        encNPoints: dt.enc_n_points,
        decNPoints: dt.dec_n_points,
        sampling: o.sampling,
      }),
    );
    this.transformer.decoder.setBboxEmbed(this.bboxEmbed); // iterative box refinement: the same modules
    // input projections: stages 1..3 (1×1 conv), then a stride-2 3×3 conv on stage 3
    const projs: Sequential[] = channels.slice(-3).map((ch) => new Sequential([new Conv2d(ch, d, 1), new GroupNorm(32, d)]));
    for (let l = projs.length; l < dt.num_feature_levels; l++) {
      projs.push(new Sequential([new Conv2d(l === projs.length ? channels[channels.length - 1]! : d, d, 3, { stride: 2, padding: 1 }), new GroupNorm(32, d)]));
    }
    for (const p of projs) {
      const conv = p.at(0) as Conv2d;
      init.xavierUniform_(conv.weight);
      init.zeros_(conv.bias!);
    }
    this.inputProj = this.registerModule('input_proj', new ModuleList(projs));
    this.textEncoder = this.registerModule('text_encoder', new RobertaModel(c.text_encoder_config));
    this.queryEmbed = this.registerModule('query_embed', new Embedding(dt.num_queries, d));
    this.spatialDecoder = this.registerModule('spatial_decoder', new FPNSpatialDecoder(d, [d, d, channels[0]!], c.mask_kernels_dim));
    this.voc = this.registerModule(
      'voc',
      new VOC({
        variant: c.variant,
        inputDim: c.VOC.input_dim,
        numFrameQueries: c.VOC.num_frame_queries,
        numQueries: c.VOC.num_queries,
        nheads: c.VOC.nheads,
        dimFeedforward: c.VOC.dim_feedforward,
        encLayers: c.VOC.enc_layers,
        decLayers: c.VOC.dec_layers,
        windowSize: c.VOC.window_size,
        separateBatchElements: c.VOC.separate_batch_elements,
      }),
    );
    this.vlf = this.registerModule('vlf', new MMF(d, c.mmf_nheads));
    this.lvf = this.registerModule('lvf', new MMF(d, c.mmf_nheads));
    if (c.use_proxymmf) {
      this.proxyEmbed = this.registerModule('proxy_embed', new Embedding(c.num_proxy_query, d));
      this.v2p = this.registerModule('v2p', new MMF(d, c.mmf_nheads));
    }
    this.txtProj = this.registerModule('txt_proj', new FeatureResizer(c.text_encoder_config.hidden_size, d, 0.1));
    const sizes = dynamicParamSizes(c.mask_kernels_dim, c.dynamic_mask_channels, c.controller_layers, c.rel_coord);
    this.weightNums = sizes.weights;
    this.biasNums = sizes.biases;
    const numGenParams = [...sizes.weights, ...sizes.biases].reduce((a, b) => a + b, 0);
    this.controller = this.registerModule('controller', new MLP(d, d, numGenParams, 3));
    for (const layer of this.controller.layers) {
      init.zeros_(layer.bias!);
      init.xavierUniform_(layer.weight);
    }
    if (c.variant === 'socpp') this.queryFusion = this.registerModule('query_fusion', new CrossAttentionLayer(d, c.mmf_nheads, 0.1));
    this.textPos = new PositionEmbeddingSine1D(d, { normalize: true });
    this.freezeTextEncoder(c.freeze_text_encoder);
  }

  /**
   * Like Module.loadStateDict; `text_encoder.embeddings.position_ids` may be present or absent
   * (its presence depends on the transformers version that saved the checkpoint).
   */
  override loadStateDict(state: StateDict, options: { strict?: boolean; source?: string } = {}): LoadResult {
    return super.loadStateDict(withRobertaPositionIds(this.textEncoder, state, 'text_encoder.'), options);
  }

  /** Freezes RoBERTa as the config asks; SOC++ always freezes the (unused) pooler. */
  freezeTextEncoder(freeze: boolean): void {
    this.textEncoder.requiresGrad_(!freeze);
    if (this.config.variant === 'socpp') {
      for (const [n, p] of this.textEncoder.namedParameters()) if (n.includes('pool')) p.requiresGrad = false;
    }
  }

  /** The Video-Swin pass: [T, B, 3, H, W] clip + [T, B, H, W] mask → per-stage (b t) features. */
  encodeVideo(video: Tensor, videoMask: Tensor, o: SocOptions = {}): VideoFeatures {
    const hook = o.hook;
    return tidy(() => {
      const out = this.backbone.forward(video, videoMask, hook ? (n, v) => hook(`hooks.backbone.${n}`, v) : undefined);
      if (hook) {
        out.features.forEach((f, i) => {
          hook(`hooks.backbone:0.${i}.tensors`, f.tensors);
          hook(`hooks.backbone:0.${i}.mask`, f.mask);
          hook(`hooks.backbone:1.${i}`, out.pos[i]!);
        });
      }
      return out;
    });
  }

  forward(inputs: SocInputs, o: SocOptions = {}): SocOutput {
    return tidy(() => {
      const encoded = this.encodeVideo(inputs.video, inputs.videoMask, o);
      const features = inputs.frameIndex ? selectFrames(encoded, inputs.frameIndex) : encoded;
      return this.decode(features, inputs, o);
    });
  }

  /** Everything after the backbone, for one batch of sentences (B = batch of the token ids). */
  decode(video: VideoFeatures, inputs: Omit<SocInputs, 'video' | 'videoMask'>, o: SocOptions = {}): SocOutput {
    const hook = o.hook;
    const c = this.config;
    return tidy(() => {
      // ---- text
      const textHook = hook
        ? (n: string, v: Tensor) => {
            hook(`hooks.${n}`, v);
            // the same tensors under the module paths the fixtures also use
            const k = /^text_encoder:hidden_states\.(\d+)$/.exec(n);
            if (k) hook(k[1] === '0' ? 'hooks.text_encoder.embeddings' : `hooks.text_encoder.encoder.layer.${Number(k[1]) - 1}:0`, v);
          }
        : undefined;
      const text = forwardText({ textEncoder: this.textEncoder, txtProj: this.txtProj, textPos: this.textPos }, inputs.inputIds, inputs.attentionMask, textHook);
      if (hook) {
        hook('hooks.method.SOC.forward_text:0.tensors', text.wordFeatures);
        hook('hooks.method.SOC.forward_text:0.mask', text.wordMask);
        hook('hooks.method.SOC.forward_text:1', text.sentenceFeature);
      }
      const B = inputs.inputIds.shape[0]!;
      const BT = video.pos[0]!.shape[0]!;
      let T = BT / B;
      let feats = video.features;
      let pos = video.pos;
      let inputMask = video.mask;
      if (inputs.validIndices) {
        const idx = inputs.validIndices;
        feats = feats.map((f) => ({ tensors: f.tensors.indexSelect(0, idx), mask: f.mask.indexSelect(0, idx) }));
        pos = pos.map((p) => p.indexSelect(0, idx));
        inputMask = inputMask.indexSelect(0, idx);
        T = 1;
      }
      const words = text.wordFeatures; // [S, B, C]
      const wordMask = text.wordMask; // [B, S]
      const textPos = text.textPos; // [S, B, C]

      // ---- input projections + vision-language fusion, levels 0..2 (backbone stages 1..3)
      const srcs: Tensor[] = [];
      const masks: Tensor[] = [];
      const poses: Tensor[] = [];
      let proxy: Tensor | null = null;
      let lang: Tensor | null = null; // [S, B, C] language features updated from the visual side
      const toTokens = (x: Tensor) => {
        const [, ch, h, w] = x.shape as [number, number, number, number];
        return x.view(B, T, ch, h, w).permute(1, 3, 4, 0, 2).reshape(T * h * w, B, ch); // '(b t) c h w -> (t h w) b c'
      };
      const fromTokens = (x: Tensor, h: number, w: number) => x.view(T, h, w, B, -1).permute(3, 0, 4, 1, 2).reshape(B * T, -1, h, w);
      const levelFeats = feats.slice(-3);
      const levelPos = pos.slice(-3);
      levelFeats.forEach((f, l) => {
        const proj = this.inputProj.at(l).forward(f.tensors);
        hook?.(`hooks.input_proj.${l}`, proj);
        const [, , h, w] = proj.shape as [number, number, number, number];
        const tokens = toTokens(proj);
        const maskL = f.mask.view(B, T, h, w).reshape(B, T * h * w); // '(b t) h w -> b (t h w)'
        const posL = toTokens(levelPos[l]!);
        const fused = this.vlf.forward(tokens, words, { keyPaddingMask: wordMask, pos: textPos });
        hook?.(`hooks.vlf#${l}`, fused);
        if (this.v2p) {
          proxy ??= this.proxyEmbed!.weight.unsqueeze(1).repeat(1, B, 1); // [Np, B, C]
          hook?.(`hooks_in.v2p#${l}:tgt`, proxy);
          const update = this.v2p.forward(proxy, fused, { keyPaddingMask: maskL, pos: fused });
          hook?.(`hooks.v2p#${l}`, update);
          proxy = proxy.add(update);
        }
        if (c.variant === 'soc') {
          // SOC: words attend to this level's un-fused visual tokens, at every level
          lang = this.lvf.forward(words, tokens, { keyPaddingMask: maskL, pos: posL });
          hook?.(`hooks.lvf#${l}`, lang);
        } else if (l === levelFeats.length - 1) {
          hook?.('hooks_in.lvf:tgt', words);
          hook?.('hooks_in.lvf:memory', proxy!);
          lang = this.lvf.forward(words, proxy!);
          hook?.('hooks.lvf', lang);
        }
        srcs.push(fromTokens(fused, h, w));
        masks.push(f.mask);
        poses.push(levelPos[l]!);
      });
      // extra level(s): stride-2 convs on the last (un-fused) stage, fused with the words only
      for (let l = levelFeats.length; l < c.DeformTransformer.num_feature_levels; l++) {
        const src = this.inputProj.at(l).forward(l === levelFeats.length ? feats[feats.length - 1]!.tensors : srcs[srcs.length - 1]!);
        hook?.(`hooks.input_proj.${l}`, src);
        const [, , h, w] = src.shape as [number, number, number, number];
        const mask = F.interpolate(inputMask.unsqueeze(0).to('float32'), { size: [h, w] }).to('bool').squeeze(0);
        const posL = this.backbone.positionEmbedding.forward(mask);
        const fused = this.vlf.forward(toTokens(src), words, { keyPaddingMask: wordMask, pos: textPos });
        hook?.(`hooks.vlf#${l}`, fused);
        srcs.push(fromTokens(fused, h, w));
        masks.push(mask);
        poses.push(posL);
      }

      // ---- deformable transformer
      const d = c.DeformTransformer.d_model;
      const Q = c.DeformTransformer.num_queries;
      const queryEmbeds = this.queryEmbed.weight; // [Q, C]
      let tgt = zeros([B, T, Q, d], { dtype: queryEmbeds.dtype });
      if (proxy) tgt = tgt.add((proxy as Tensor).mean(0).view(B, 1, 1, d)); // pooled proxies
      if (hook) {
        srcs.forEach((s, i) => hook(`hooks_in.transformer:0.${i}`, s));
        hook('hooks_in.transformer:1', tgt);
        masks.forEach((m, i) => hook(`hooks_in.transformer:2.${i}`, m));
        poses.forEach((p, i) => hook(`hooks_in.transformer:3.${i}`, p));
        hook('hooks_in.transformer:4', queryEmbeds);
      }
      const tr = this.runTransformer(srcs, tgt, masks, poses, queryEmbeds, T, hook);
      const L = tr.hs.shape[0]!;
      const C = d;

      // sentence feature: mean of the fused words over the non-padded tokens
      const langB = (lang as unknown as Tensor).transpose(0, 1); // [B, S, C]
      const keepTok = wordMask.logicalNot().to(langB.dtype); // [B, S]
      const textFeatures = langB.mul(keepTok.unsqueeze(-1)).sum(1).div(keepTok.sum(1, { keepdim: true })); // [B, C]

      const hs = tr.hs.view(L, B, T, Q, C).permute(0, 2, 1, 3, 4); // 'l (b t) q c -> l t b q c'
      let vocHs: Tensor; // [L', B, Nv, C]
      let fusedQueries: Tensor; // [L, T, B, Q, C]
      if (c.variant === 'socpp') {
        hook?.('hooks_in.voc:0', hs);
        hook?.('hooks_in.voc:1', textFeatures);
        vocHs = this.voc.forward(hs, textFeatures, { record: hook ? (n, v) => hook(n.startsWith('method.') ? `hooks${n.includes(':') ? '_in' : ''}.${n}` : `hooks.voc.${n}`, v) : undefined });
        hook?.('hooks.voc', vocHs);
        const Nv = vocHs.shape[2]!;
        const frameQ = hs.permute(0, 2, 1, 3, 4).reshape(L * B, T * Q, C); // 'l t b q c -> (l b) (t q) c'
        const videoQ = vocHs.reshape(L * B, Nv, C);
        hook?.('hooks_in.method.SOC.BMRW:x', videoQ);
        hook?.('hooks_in.method.SOC.BMRW:y', frameQ);
        const refined = bmrw(videoQ, frameQ);
        hook?.('hooks.method.SOC.BMRW', refined);
        const tgtQ = frameQ.transpose(0, 1); // [(t q), (l b), C]
        const memQ = refined.transpose(0, 1); // [Nv, (l b), C]
        hook?.('hooks_in.query_fusion:0', tgtQ);
        hook?.('hooks_in.query_fusion:1', memQ);
        const fused = this.queryFusion!.forward(tgtQ, memQ);
        hook?.('hooks.query_fusion', fused);
        fusedQueries = fused.view(T, Q, L, B, C).permute(2, 0, 3, 1, 4);
      } else {
        hook?.('hooks_in.voc:0', hs);
        hook?.('hooks_in.voc:1', text.sentenceFeature);
        vocHs = this.voc.forward(hs, text.sentenceFeature, { record: hook ? (n, v) => hook(`hooks.voc.${n}`, v) : undefined });
        hook?.('hooks.voc', vocHs);
        // video query n added to frame query n of every frame (broadcast over levels in eval)
        fusedQueries = hs.add(vocHs.unsqueeze(1));
      }

      // ---- class and box heads per decoder level
      const perFrame = fusedQueries.permute(0, 2, 1, 3, 4).reshape(L, B * T, Q, C); // 'l t b q c -> l (b t) q c'
      const classes: Tensor[] = [];
      const boxes: Tensor[] = [];
      for (let lvl = 0; lvl < L; lvl++) {
        const q = perFrame.select(0, lvl);
        const reference = inverseSigmoid(lvl === 0 ? tr.initReference : tr.interReferences.select(0, lvl - 1));
        const cls = this.classEmbed.at(lvl).forward(q);
        hook?.(`hooks.class_embed.${lvl}`, cls);
        const delta = this.bboxEmbed.at(lvl).forward(q);
        hook?.(`hooks.bbox_embed.${lvl}#1`, delta);
        const adjusted = reference.shape[reference.ndim - 1] === 4 ? delta.add(reference) : cat([delta.slice(-1, 0, 2).add(reference), delta.slice(-1, 2)], -1);
        classes.push(cls);
        boxes.push(adjusted.sigmoid());
      }
      const toTB = (x: Tensor) => x.view(L, B, T, Q, -1).permute(0, 2, 1, 3, 4); // 'l (b t) q n -> l t b q n'
      const predCls = toTB(stack(classes));
      const predBoxes = toTB(stack(boxes));

      // ---- masks: FPN over memory (strides 32, 16, 8) and backbone stage 0, then dynamic convs
      const toTimeMajor = (x: Tensor) => {
        const [, ch, h, w] = x.shape as [number, number, number, number];
        return x.view(B, T, ch, h, w).transpose(0, 1).reshape(T * B, ch, h, w); // '(b t) c h w -> (t b) c h w'
      };
      const memory = tr.memoryFeatures.map(toTimeMajor); // strides 8, 16, 32
      const stage0 = toTimeMajor(feats[0]!.tensors);
      const fpnInputs = [memory[1]!, memory[0]!, stage0];
      hook?.('hooks_in.spatial_decoder:0', memory[2]!);
      fpnInputs.forEach((x, i) => hook?.(`hooks_in.spatial_decoder:1.${i}`, x));
      const decoded = this.spatialDecoder.forward(memory[2]!, fpnInputs);
      hook?.('hooks.spatial_decoder', decoded);
      const [, kd, h4, w4] = decoded.shape as [number, number, number, number];
      const maskFeatures = decoded.view(T, B, kd, h4, w4).transpose(0, 1); // '(t b) d h w -> b t d h w'
      const fusedTB = fusedQueries; // [L, T, B, Q, C]
      const masksOut: Tensor[] = [];
      for (let lvl = 0; lvl < L; lvl++) {
        const qIn = fusedTB.select(0, lvl);
        hook?.(`hooks_in.controller#${lvl}:0`, qIn);
        const params = this.controller.forward(qIn); // [T, B, Q, P]
        hook?.(`hooks.controller#${lvl}`, params);
        const paramsB = params.permute(1, 0, 2, 3).reshape(B, T * Q, -1);
        const refs = tr.interReferences.select(0, lvl).slice(-1, 0, 2).reshape(B, T * Q, 2);
        const logits = dynamicMaskWithCoords(maskFeatures, paramsB, refs, inputs.targetSizes, {
          channels: c.dynamic_mask_channels,
          weightNums: this.weightNums,
          biasNums: this.biasNums,
          relCoord: c.rel_coord,
          maskFeatStride: 4,
        });
        masksOut.push(logits.view(B, T, Q, h4, w4).permute(1, 0, 2, 3, 4)); // 'b (t q) h w -> t b q h w'
      }

      // Per level outputs; zip with the VOC levels (SOC in eval mode has one, so only level 0).
      const levels = Math.min(L, vocHs.shape[0]!);
      const outs: SocLayerOutput[] = [];
      for (let lvl = 0; lvl < levels; lvl++) {
        outs.push({
          predMasks: masksOut[lvl]!,
          predLogit: vocHs.select(0, lvl),
          predBoxes: predBoxes.select(0, lvl),
          textSentenceFeature: textFeatures,
          predCls: predCls.select(0, lvl),
        });
      }
      const last = outs[outs.length - 1]!;
      return { ...last, auxOutputs: c.aux_loss ? outs.slice(0, -1) : [] };
    });
  }

  /** The deformable transformer, in chunks of 64 frames for long clips (SOC++ does this; frames are independent). */
  private runTransformer(srcs: Tensor[], tgt: Tensor, masks: Tensor[], poses: Tensor[], queryEmbeds: Tensor, T: number, hook?: SocHook) {
    const record = (tr: ReturnType<DeformableTransformer['forward']>) => {
      if (!hook) return;
      hook('hooks.transformer.encoder', tr.memory);
      hook('hooks.transformer.reference_points', tr.referencePointsLogits);
      tr.decoderLayers.forEach((r, l) => {
        hook(`hooks.transformer.decoder.layers.${l}:0`, r.output);
        hook(`hooks.transformer.decoder.layers.${l}:1`, r.samplingLocations);
        hook(`hooks.transformer.decoder.layers.${l}:2`, r.attentionWeights);
        if (r.boxDelta) hook(`hooks.bbox_embed.${l}#0`, r.boxDelta);
      });
      hook('hooks.transformer.decoder:0', tr.hs);
      hook('hooks.transformer.decoder:1', tr.interReferences);
      hook('hooks.transformer.decoder:2', tr.interSamples);
      hook('hooks.transformer:0', tr.hs);
      tr.memoryFeatures.forEach((m, i) => hook(`hooks.transformer:1.${i}`, m));
      hook('hooks.transformer:2', tr.initReference);
      hook('hooks.transformer:3', tr.interReferences);
      hook('hooks.transformer:6', tr.interSamples);
    };
    if (this.config.variant === 'soc' || T <= this.transformerChunkFrames) {
      const tr = this.transformer.forward(srcs, tgt, masks, poses, queryEmbeds, {
        onEncoderLayer: hook ? (i, x) => hook(`hooks.transformer.encoder.layers.${i}`, x) : undefined,
      });
      record(tr);
      return tr;
    }
    // The reference splits tgt along time and the (b t) tensors along dim 0 (consistent for B = 1).
    const parts: ReturnType<DeformableTransformer['forward']>[] = [];
    for (let start = 0; start < T; start += this.transformerChunkFrames) {
      const len = Math.min(this.transformerChunkFrames, T - start);
      parts.push(
        this.transformer.forward(
          srcs.map((s) => s.narrow(0, start, len)),
          tgt.narrow(1, start, len),
          masks.map((m) => m.narrow(0, start, len)),
          poses.map((p) => p.narrow(0, start, len)),
          queryEmbeds,
        ),
      );
    }
    return {
      hs: cat(parts.map((p) => p.hs), 1),
      memoryFeatures: parts[0]!.memoryFeatures.map((_, i) => cat(parts.map((p) => p.memoryFeatures[i]!), 0)),
      initReference: cat(parts.map((p) => p.initReference), 0),
      interReferences: cat(parts.map((p) => p.interReferences), 1),
      interSamples: cat(parts.map((p) => p.interSamples), 1),
      memory: cat(parts.map((p) => p.memory), 0),
      referencePointsLogits: cat(parts.map((p) => p.referencePointsLogits), 0),
      decoderLayers: [],
    };
  }
}

/** Copies src's parameter values into dst (same architecture) and returns dst. */
function cloneInto<M extends Module>(dst: M, src: M): M {
  dst.loadStateDict(src.stateDict());
  return dst;
}
