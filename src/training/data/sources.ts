// Where training clips come from: the sample list of a dataset split and the loading of one sample
// (frames + ground truth at the original size) on top of the readers in src/data. Everything here
// is plain JS (no tensors), so it runs in worker threads.
//
//  * Ref-YouTube-VOS, MeViS and the synthetic dataset (MeViS layout): windows of T annotated frames
//    × expressions (windows.ts); targets on every frame.
//  * A2D-Sentences: the annotated frame in the middle of a window of T decoded frames (indices
//    c − T/2 … c + ⌈T/2⌉ − 1, clamped to the video); a target on the middle frame only.
//  * JHMDB-Sentences: the same around each metadata frame (1-based, clamped to the frames that
//    have a mask). The reference only evaluates on it (its train split is a dummy).

import { dirname, join } from 'node:path';
import { SocError } from '../../errors.js';
import { A2dSentences, type A2dSample } from '../../data/a2d-sentences.js';
import { exists } from '../../data/files.js';
import { loadRgbImage } from '../../data/image.js';
import { JhmdbSentences, readPuppetMasks, type JhmdbSample, type PuppetMasks } from '../../data/jhmdb-sentences.js';
import { Mevis } from '../../data/mevis.js';
import { Rng, mixSeed } from '../../data/prng.js';
import { RefYoutubeVos, YTVOS_CATEGORIES } from '../../data/ref-youtube-vos.js';
import type { Mask, RgbImage } from '../../data/types.js';
import { PngMaskStore, checkSameSize, type VideoDataset } from '../../data/video-dataset.js';
import { type RawFrameTarget, maskBox, unionTarget, windowTargetsFromLabels } from './annotations.js';
import type { RawClip } from './augment.js';
import { normaliseText } from './text.js';
import { type ObjIdStyle, type WindowSample, type WindowSampling, generateWindowSamples, labelOfObject, readSamplesMetadata, samplesMetadataName, writeSamplesMetadata } from './windows.js';

export const DATASET_KINDS = ['mevis', 'ref-youtube-vos', 'a2d', 'jhmdb', 'synth'] as const;
export type DatasetKind = (typeof DATASET_KINDS)[number];

/** Which dataset split to read and how. Plain data: it is sent to the worker threads. */
export interface DataSpec {
  dataset: DatasetKind;
  root: string;
  /** 'train', 'valid', … (A2D: 'train' / 'test'; JHMDB: any, it has one set of samples) */
  split: string;
  /** Frames per clip, T. */
  window: number;
  /** How videos are cut into windows (Ref-YouTube-VOS / MeViS layouts; default the reference's consecutive windows). */
  windowSampling?: WindowSampling;
}

export interface A2dTrainSample extends A2dSample {
  kind: 'a2d';
}
export interface JhmdbTrainSample extends JhmdbSample {
  kind: 'jhmdb';
}
/** One training sample of any dataset (plain data). */
export type TrainSample = WindowSample | A2dTrainSample | JhmdbTrainSample;

/** Ref-YouTube-VOS numbers objects by palette value; MeViS (and the synthetic data) 0-based. */
export function objIdStyleOf(kind: DatasetKind): ObjIdStyle {
  return kind === 'ref-youtube-vos' ? 'ytvos' : 'mevis';
}

/** The dataset's own name in the reference configs (`dataset_name`). */
export function referenceDatasetName(kind: DatasetKind): string {
  return { mevis: 'mevis', synth: 'mevis', 'ref-youtube-vos': 'ref_youtube_vos', a2d: 'a2d_sentences', jhmdb: 'jhmdb_sentences' }[kind];
}

/** Whether a dataset's clips carry a target only on their middle frame (the trainer then passes valid indices). */
export function isCentreFrameDataset(kind: DatasetKind): boolean {
  return kind === 'a2d' || kind === 'jhmdb';
}

export interface SampleListOptions {
  /** A samples-metadata file to use instead of generating the list (Ref-YouTube-VOS / MeViS / synth, JHMDB). */
  metadataFile?: string;
  /** Where to write a generated list in the reference's format (a folder). */
  writeMetadataDir?: string;
  /** JHMDB: seed of the 3 frames drawn per video when no metadata file is given. */
  seed?: number;
  onProgress?: (done: number, total: number) => void;
}

/** Opens a dataset split and loads its samples. One per thread. */
export class ClipSource {
  private puppet: PuppetMasks | null = null;

  private constructor(
    readonly spec: DataSpec,
    private readonly videos: VideoDataset | null,
    private readonly a2d: A2dSentences | null,
    private readonly jhmdb: JhmdbSentences | null,
  ) {}

  static async open(spec: DataSpec): Promise<ClipSource> {
    if (!Number.isInteger(spec.window) || spec.window < 1) throw new SocError(`--window must be a positive integer, got ${spec.window}`);
    switch (spec.dataset) {
      case 'ref-youtube-vos':
        return new ClipSource(spec, await RefYoutubeVos.open(spec.root, spec.split), null, null);
      case 'mevis':
        return new ClipSource(spec, await Mevis.open(spec.root, spec.split), null, null);
      case 'synth': {
        // `soc synth` writes both mask forms; the PNG label maps are the reference's layout
        const png = exists(join(spec.root, spec.split, 'Annotations'));
        return new ClipSource(spec, await Mevis.open(spec.root, spec.split, { masks: png ? 'png' : 'auto' }), null, null);
      }
      case 'a2d':
        return new ClipSource(spec, null, await A2dSentences.open(spec.root), null);
      case 'jhmdb':
        return new ClipSource(spec, null, null, await JhmdbSentences.open(spec.root));
    }
  }

  /** The video split (Ref-YouTube-VOS layouts), for evaluation. */
  get videoDataset(): VideoDataset | null {
    return this.videos;
  }

  get a2dDataset(): A2dSentences | null {
    return this.a2d;
  }

  get jhmdbDataset(): JhmdbSentences | null {
    return this.jhmdb;
  }

  /**
   * The split's samples in the reference's order. Window datasets read `metadataFile`, else
   * `<root>/train_samples_metadata_win_size_{T}.json` when present, else generate the list by the
   * reference's rule (and write it into `writeMetadataDir`).
   */
  async samples(o: SampleListOptions = {}): Promise<TrainSample[]> {
    const { spec } = this;
    if (this.videos) {
      const style = objIdStyleOf(spec.dataset);
      const name = samplesMetadataName(spec.window, spec.windowSampling);
      const beside = join(spec.root, name);
      const file = o.metadataFile ?? (spec.split === 'train' && exists(beside) ? beside : undefined);
      if (file) return readSamplesMetadata(file);
      const list = await generateWindowSamples(this.videos, spec.window, style, o.onProgress, spec.windowSampling);
      if (o.writeMetadataDir) writeSamplesMetadata(join(o.writeMetadataDir, name), list, style);
      return list;
    }
    if (this.a2d) {
      if (spec.split !== 'train' && spec.split !== 'test') throw new SocError(`A2D-Sentences has the splits train and test, not ${spec.split}`);
      return (await this.a2d.samples(spec.split)).map((s) => ({ kind: 'a2d' as const, ...s }));
    }
    const jhmdb = this.jhmdb!;
    const file = o.metadataFile ?? join(spec.root, 'jhmdb_sentences_samples_metadata_new.json');
    const list = exists(file) ? jhmdb.readSamplesMetadata(file) : await jhmdb.buildSamples(((rng) => () => rng.next())(new Rng(mixSeed(o.seed ?? 42, 0x6a68))));
    return list.map((s) => ({ kind: 'jhmdb' as const, ...s }));
  }

  /**
   * Frames and ground truth of one sample, at the original size, text normalised. `companions`:
   * other expressions on the same window (window samples only), whose targets and texts come along.
   */
  async load(sample: TrainSample, companions: readonly TrainSample[] = []): Promise<RawClip> {
    if (sample.kind === 'window') {
      const frames = await this.loadFrames(sample);
      // label maps are read once per window and shared by the companions
      const labelMaps = new Map<string, Mask>();
      const clip: RawClip = { frames, ...(await this.windowTargets(sample, frames, labelMaps)) };
      if (companions.length) {
        clip.companions = await Promise.all(
          companions.map((c) => {
            if (c.kind !== 'window' || c.videoId !== sample.videoId || c.frames.join() !== sample.frames.join()) {
              throw new SocError(`expression ${(c as WindowSample).expId ?? '?'} does not share the window of video ${sample.videoId}, expression ${sample.expId}`);
            }
            return this.windowTargets(c, frames, labelMaps);
          }),
        );
      }
      return clip;
    }
    if (companions.length) throw new SocError(`several expressions per clip need window samples (Ref-YouTube-VOS / MeViS layouts), not ${this.spec.dataset}`);
    if (sample.kind === 'a2d') return this.loadA2d(sample);
    return this.loadJhmdb(sample);
  }

  private loadFrames(s: WindowSample): Promise<RgbImage[]> {
    const ds = this.videos!;
    return Promise.all(s.frames.map((f) => ds.loadFrame(s.videoId, f)));
  }

  /** The targets and normalised text of a window sample, checked against its frames. */
  private async windowTargets(s: WindowSample, frames: RgbImage[], labelCache: Map<string, Mask>): Promise<{ targets: RawFrameTarget[]; text: string }> {
    const ds = this.videos;
    if (!ds?.masks) throw new SocError(`split ${this.spec.split} of ${this.spec.root} has no ground-truth masks to train on`);
    const video = ds.video(s.videoId);
    const what = `video ${s.videoId}, expression ${s.expId}`;
    let targets: RawFrameTarget[];
    const store = ds.masks;
    if (store instanceof PngMaskStore) {
      const labelMaps = s.frames.map((f, i) => {
        let m = labelCache.get(f);
        if (!m) {
          m = store.loadLabels(video, f);
          checkSameSize(m, frames[i]!, store.source(video, f), ds.framePath(s.videoId, f));
          labelCache.set(f, m);
        }
        return m;
      });
      const style = objIdStyleOf(this.spec.dataset);
      targets = windowTargetsFromLabels(
        labelMaps,
        s.objIds.map((o) => labelOfObject(style, o)),
        what,
        this.ytvosLabels(s),
      );
    } else {
      // mask stores without label maps (MeViS RLE): per-object masks; the clip's object count is the referred ones'
      targets = await Promise.all(
        s.frames.map(async (f, i) => {
          const masks = await Promise.all(s.objIds.map((o) => store.loadUnion(video, f, [o])));
          for (const m of masks) checkSameSize(m, frames[i]!, store.source(video, f), ds.framePath(s.videoId, f));
          return unionTarget(masks, s.objIds.length);
        }),
      );
    }
    return { targets, text: normaliseText(s.exp) };
  }

  /** Ref-YouTube-VOS `labels`: the category index from meta.json (absent when unknown; unused with one class). */
  private ytvosLabels(s: WindowSample): number[] | undefined {
    if (!(this.videos instanceof RefYoutubeVos)) return undefined;
    const category = this.videos.categories(s.videoId)?.get(s.objIds[0]!);
    const index = category === undefined ? -1 : (YTVOS_CATEGORIES as readonly string[]).indexOf(category);
    return index < 0 ? undefined : [index];
  }

  private async loadA2d(s: A2dTrainSample): Promise<RawClip> {
    const a2d = this.a2d!;
    const T = this.spec.window;
    const video = await a2d.loadVideo(s.videoId);
    const centre = s.frameIdx - 1;
    const frames = centreWindow(centre, T, 0, video.length - 1).map((i) => video[i]!);
    const ann = await a2d.loadFrameAnnotation(s.videoId, s.frameIdx);
    const k = ann.instances.indexOf(s.instanceId);
    if (k < 0) throw new SocError(`instance ${s.instanceId} is not in ${ann.file} (instances: ${ann.instances.join(', ')})`);
    const mask = ann.masks[k]!;
    checkSameSize(mask, frames[T >> 1]!, ann.file, `${a2d.videoPath(s.videoId)} frame ${s.frameIdx}`);
    const text = normaliseText(s.query);
    const target: RawFrameTarget = {
      mask,
      box: maskBox(mask),
      visible: mask.data.some((v) => v !== 0),
      numObjects: ann.masks.length,
      labels: [0],
      area: ann.masks.map(pixelCount),
      imageId: `v_${s.videoId}_f_${s.frameIdx}_i_${s.instanceId}`,
      caption: text,
    };
    return { frames, targets: centreTargets(T, target), text };
  }

  private async loadJhmdb(s: JhmdbTrainSample): Promise<RawClip> {
    const T = this.spec.window;
    const dir = dirname(s.framePath);
    const frames: RgbImage[] = await Promise.all(centreWindow(s.frameIdx, T, 1, s.videoTotalFrames).map((i) => loadRgbImage(join(dir, `${String(i).padStart(5, '0')}.png`))));
    if (this.puppet?.file !== s.maskPath) this.puppet = await readPuppetMasks(s.maskPath);
    const mask = this.puppet.frame(s.frameIdx);
    checkSameSize(mask, frames[T >> 1]!, s.maskPath, s.framePath);
    const text = normaliseText(s.query);
    const target: RawFrameTarget = { mask, box: maskBox(mask), visible: mask.data.some((v) => v !== 0), numObjects: 1, imageId: `v_${s.videoId}_f_${s.frameIdx}`, caption: text };
    return { frames, targets: centreTargets(T, target), text };
  }
}

/** Frame indices c − ⌊T/2⌋ … c + ⌈T/2⌉ − 1, each clamped to [lo, hi] (edge frames repeat). */
export function centreWindow(centre: number, T: number, lo: number, hi: number): number[] {
  const out: number[] = [];
  for (let i = centre - (T >> 1); i < centre + ((T + 1) >> 1); i++) out.push(Math.min(Math.max(i, lo), hi));
  return out;
}

function centreTargets(T: number, target: RawFrameTarget): (RawFrameTarget | null)[] {
  const targets: (RawFrameTarget | null)[] = new Array(T).fill(null);
  targets[T >> 1] = target;
  return targets;
}

function pixelCount(m: Mask): number {
  let n = 0;
  for (let i = 0; i < m.data.length; i++) if (m.data[i]) n++;
  return n;
}
