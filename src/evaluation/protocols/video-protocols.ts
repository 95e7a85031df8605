// Ref-YouTube-VOS and MeViS (inference-and-eval.md §1, §2, §5): every expression of every video is
// segmented clip by clip, with one of the reference's two protocols:
//
//   trainer  (main.py evaluation, the default) text lowercased and whitespace-collapsed; MeViS
//            videos in consecutive chunks of ≤ 80 frames (the committed valid_samples_metadata.json;
//            or that file itself with --samples), Ref-YouTube-VOS videos whole; the query chosen per
//            chunk; ReferYoutubeVOSPostProcess (logits → input size, > 0.5, nearest → original size).
//   infer    (infer_mevis.py / infer_refytb.py) the raw expression text, the whole video in one
//            forward, logits bilinearly to the original size, > 0.5.
//
// `eval` (MeViS with ground truth, e.g. valid_u) scores every frame of every expression against the
// union mask of its referred objects; `predict` writes the server submission (submission.ts).

import { join } from 'node:path';
import { readJson } from '../../data/files.js';
import { Mevis } from '../../data/mevis.js';
import { parseExpression } from '../../data/synth-scene.js';
import { RefYoutubeVos } from '../../data/ref-youtube-vos.js';
import type { VideoRecord } from '../../data/types.js';
import type { VideoDataset } from '../../data/video-dataset.js';
import { FileFormatError, UsageError } from '../../errors.js';
import { disposeFeatures } from '../../inference/predictor.js';
import { StagedDirectory } from '../../media/output.js';
import { type ResizeRule, YTVOS_RESIZE, preprocessVideo } from '../../media/preprocess.js';
import { summarizeObjects } from '../davis.js';
import { boundaryF, jaccard } from '../jf.js';
import { type ClipMasks, cleanQuery, inferClipMasks, trainerClipMasks } from './model-run.js';
import { type Finalizer, type Protocol, type UnitContext, deviationNotes, partialNote, resizeDeviation, resultHeader, resultNotes } from './protocol.js';
import { cell, formatTable, jfCsv, jfMetrics, jfTable, perObjectJson, writeJsonAtomic, writeTextAtomic } from './report.js';
import { sha256File } from './run-folder.js';
import { SUBMISSION_DIR, SUBMISSION_ZIP, gatherSubmission, writeSubmissionFrames, zipSubmission } from './submission.js';

export type VideoProtocolName = 'trainer' | 'infer';

/** The MeViS trainer chunk length of the committed valid_samples_metadata.json. */
export const MEVIS_TRAINER_CHUNK = 80;

export interface VideoProtocolOptions {
  dataset: 'mevis' | 'ref-youtube-vos';
  root: string;
  split: string;
  protocol?: VideoProtocolName;
  /** trainer: frames per forward; default 80 for MeViS, the whole video for Ref-YouTube-VOS. */
  chunkFrames?: number;
  /** trainer: the reference's valid_samples_metadata.json, whose chunks are used as they are. */
  samplesFile?: string;
  /** Default 360 / 640; anything else is not the reference protocol (faster, for tests). */
  resize?: ResizeRule;
  /** eval: also write the masks in the submission layout under <out>/Annotations. */
  saveMasks?: boolean;
}

/** One forward: a clip of consecutive frames and the expressions segmented on it. */
export interface ClipPlan {
  frames: string[];
  expressions: { id: string; text: string }[];
}

interface ClipInfo {
  start: number;
  frames: number;
  selectedQuery: number;
}

/** Per-video record of `soc eval --dataset mevis`. */
export interface MevisEvalRecord {
  video: string;
  expressions: { id: string; text: string; frames: string[]; j: number[]; f: number[]; clips: ClipInfo[] }[];
}

/** Per-video record of `soc predict`. */
export interface PredictRecord {
  video: string;
  expressions: { id: string; text: string; frames: number; clips: ClipInfo[] }[];
}

type SamplesIndex = Map<string, ClipPlan[]>;

/** Reads valid_samples_metadata.json: `[video, [frames…], {exp, exp_id, …}]` per (chunk, expression). */
export function readSamplesFile(file: string): SamplesIndex {
  const rows = readJson(file, 'a valid_samples_metadata.json: a list of [video_id, [frame names], {"exp", "exp_id"}]');
  if (!Array.isArray(rows)) throw new FileFormatError(file, 'expected a list of [video_id, [frame names], {"exp", "exp_id"}]');
  const index: SamplesIndex = new Map();
  rows.forEach((row, i) => {
    const ok = Array.isArray(row) && typeof row[0] === 'string' && Array.isArray(row[1]) && row[1].every((f: unknown) => typeof f === 'string') && typeof row[2]?.exp === 'string' && typeof row[2]?.exp_id === 'string';
    if (!ok) throw new FileFormatError(file, `entry ${i}: expected [video_id, [frame names], {"exp": text, "exp_id": id}], got ${JSON.stringify(row).slice(0, 120)}`);
    const [video, frames, meta] = row as [string, string[], { exp: string; exp_id: string }];
    const plans = index.get(video) ?? [];
    const key = frames.join('\n');
    let plan = plans.find((p) => p.frames.join('\n') === key);
    if (!plan) plans.push((plan = { frames, expressions: [] }));
    plan.expressions.push({ id: meta.exp_id, text: cleanQuery(meta.exp) });
    index.set(video, plans);
  });
  return index;
}

/** The clips of a video under the protocol. */
export function planVideo(video: VideoRecord, protocol: VideoProtocolName, chunkFrames: number | null, samples: SamplesIndex | null): ClipPlan[] {
  if (samples) {
    const plans = samples.get(video.id);
    if (!plans) throw new UsageError(`the samples file has no entry for video ${video.id}`);
    const known = new Set(video.expressions.map((e) => e.id));
    for (const p of plans) for (const e of p.expressions) if (!known.has(e.id)) throw new UsageError(`the samples file lists expression ${e.id} of video ${video.id}, which the dataset does not have`);
    return plans;
  }
  const expressions = video.expressions.map((e) => ({ id: e.id, text: protocol === 'trainer' ? cleanQuery(e.text) : e.text }));
  const size = chunkFrames ?? video.frames.length;
  const plans: ClipPlan[] = [];
  for (let s = 0; s < video.frames.length; s += size) plans.push({ frames: video.frames.slice(s, s + size), expressions });
  return plans;
}

/**
 * Runs the model over a video clip by clip: each clip is decoded and encoded once, then each of
 * its expressions is segmented and handed to `onMasks`. Returns the clips of each expression.
 */
async function segmentPlannedClips(
  ctx: UnitContext,
  ds: VideoDataset,
  video: VideoRecord,
  plans: ClipPlan[],
  protocol: VideoProtocolName,
  resize: ResizeRule,
  onMasks: (expressionId: string, frames: string[], masks: ClipMasks) => Promise<void>,
): Promise<Map<string, ClipInfo[]>> {
  const clips = new Map<string, ClipInfo[]>();
  const done = new Map<string, number>();
  for (const plan of plans) {
    const images = await Promise.all(plan.frames.map((f) => ds.loadFrame(video.id, f)));
    const clip = preprocessVideo(images, resize);
    const features = ctx.segmenter.encode(clip);
    try {
      for (const e of plan.expressions) {
        const masks = protocol === 'trainer' ? trainerClipMasks(ctx.segmenter, clip, features, e.text) : inferClipMasks(ctx.segmenter, clip, features, e.text);
        const start = done.get(e.id) ?? 0;
        clips.set(e.id, [...(clips.get(e.id) ?? []), { start, frames: plan.frames.length, selectedQuery: masks.selectedQuery }]);
        done.set(e.id, start + plan.frames.length);
        await onMasks(e.id, plan.frames, masks);
      }
    } finally {
      disposeFeatures(features);
      clip.video.dispose();
      clip.paddingMask.dispose();
    }
  }
  return clips;
}

/** Opens the dataset and builds the protocol for `soc eval --dataset mevis` or `soc predict`. */
export async function openVideoProtocol(command: 'eval' | 'predict', o: VideoProtocolOptions): Promise<Protocol> {
  const protocol = o.protocol ?? 'trainer';
  if (protocol === 'infer' && (o.chunkFrames !== undefined || o.samplesFile)) throw new UsageError('--clip-frames and --samples belong to the trainer protocol; the infer protocol segments whole videos');
  if (o.chunkFrames !== undefined && o.samplesFile) throw new UsageError('give --clip-frames or --samples, not both');
  const ds: VideoDataset = o.dataset === 'mevis' ? await Mevis.open(o.root, o.split) : await RefYoutubeVos.open(o.root, o.split);
  if (command === 'eval' && !ds.hasMasks) {
    throw new UsageError(`${o.dataset} split ${o.split} of ${o.root} has no ground truth to score against (use valid_u for MeViS, or soc predict to write a submission for the server)`);
  }
  const chunkFrames = protocol === 'infer' ? null : (o.chunkFrames ?? (o.dataset === 'mevis' ? MEVIS_TRAINER_CHUNK : null));
  const samples = o.samplesFile ? readSamplesFile(o.samplesFile) : null;
  const resize = o.resize ?? YTVOS_RESIZE;
  const byId = new Map(ds.videos.map((v) => [v.id, v]));
  const settings = {
    protocol,
    text: protocol === 'trainer' ? 'lowercased, whitespace collapsed' : 'raw',
    clips: samples ? 'from the samples file' : chunkFrames === null ? 'whole video' : `chunks of ${chunkFrames} frames`,
    samplesSha256: o.samplesFile ? sha256File(o.samplesFile) : null,
    postprocess: protocol === 'trainer' ? 'ReferYoutubeVOSPostProcess' : 'bilinear to original size, > 0.5',
    resize: { shortSide: resize.shortSide, maxSize: resize.maxSize },
    ...(command === 'eval' ? { saveMasks: !!o.saveMasks } : {}),
    deviations: [
      ...resizeDeviation(resize, YTVOS_RESIZE),
      ...(o.dataset === 'mevis' && chunkFrames !== null && chunkFrames !== MEVIS_TRAINER_CHUNK ? [`chunks of ${chunkFrames} frames instead of the committed valid_samples_metadata.json's ${MEVIS_TRAINER_CHUNK}`] : []),
    ],
  };
  const base = { command, dataset: o.dataset, split: o.split, settings, units: ds.videos.map((v) => v.id) };

  if (command === 'predict') {
    return {
      ...base,
      async runUnit(unit, ctx): Promise<PredictRecord> {
        const video = byId.get(unit)!;
        // the video's folder appears complete or not at all
        const staged = new StagedDirectory(join(ctx.folder.dir, SUBMISSION_DIR, unit));
        try {
          const clips = await segmentPlannedClips(ctx, ds, video, planVideo(video, protocol, chunkFrames, samples), protocol, resize, async (expId, frames, m) => {
            writeSubmissionFrames(join(staged.path, expId), frames, m.masks, m.height, m.width);
          });
          const expressions = video.expressions.map((e) => {
            const c = clips.get(e.id);
            if (!c) throw new UsageError(`expression ${e.id} of video ${unit} was not segmented (missing from the samples file?)`);
            return { id: e.id, text: e.text, frames: c.reduce((n, x) => n + x.frames, 0), clips: c };
          });
          staged.commit();
          return { video: unit, expressions };
        } catch (e) {
          staged.abort();
          throw e;
        }
      },
    };
  }

  return {
    ...base,
    async runUnit(unit, ctx): Promise<MevisEvalRecord> {
      const video = byId.get(unit)!;
      const scores = new Map<string, { frames: string[]; j: number[]; f: number[] }>();
      const staged = o.saveMasks ? new StagedDirectory(join(ctx.folder.dir, SUBMISSION_DIR, unit)) : null;
      try {
        const clips = await segmentPlannedClips(ctx, ds, video, planVideo(video, protocol, chunkFrames, samples), protocol, resize, async (expId, frames, m) => {
          const s = scores.get(expId) ?? { frames: [], j: [], f: [] };
          scores.set(expId, s);
          const n = m.height * m.width;
          for (let t = 0; t < frames.length; t++) {
            const gt = await ds.loadExpressionMask(unit, expId, frames[t]!);
            if (gt.height !== m.height || gt.width !== m.width) {
              throw new FileFormatError(ds.masks!.source(video, frames[t]!), `ground truth of video ${unit}, frame ${frames[t]} is ${gt.height}x${gt.width} (HxW) but the frame ${ds.framePath(unit, frames[t]!)} is ${m.height}x${m.width}`);
            }
            const pred = { width: m.width, height: m.height, data: m.masks.subarray(t * n, (t + 1) * n) };
            s.frames.push(frames[t]!);
            s.j.push(jaccard(gt, pred));
            s.f.push(boundaryF(gt, pred));
          }
          if (staged) writeSubmissionFrames(join(staged.path, expId), frames, m.masks, m.height, m.width);
        });
        const expressions = video.expressions.map((e) => {
          const s = scores.get(e.id);
          if (!s) throw new UsageError(`expression ${e.id} of video ${unit} was not segmented (missing from the samples file?)`);
          return { id: e.id, text: e.text, ...s, clips: clips.get(e.id)! };
        });
        staged?.commit();
        return { video: unit, expressions };
      } catch (e) {
        staged?.abort();
        throw e;
      }
    },
  };
}

/** MeViS J&F: every expression is one object; J and F over all its frames; means over expressions. */
export const finalizeMevisEval: Finalizer = ({ manifest, units, record, outDir, partial }) => {
  const records = units.map((u) => record(u) as MevisEvalRecord);
  const scored = records.flatMap((r) => r.expressions.map((e) => ({ name: `${r.video}/${e.id}`, text: e.text, j: e.j, f: e.f })));
  const summary = summarizeObjects(scored);
  const notes = resultNotes(manifest, units.length, partial);
  const synth = parseSynthExpressions(scored);
  const kinds = synth && synthExpressionKinds(synth);
  const attributes = synth && synthAttributeBreakdown(synth);
  const json = {
    ...resultHeader(manifest, notes, partial),
    videos: records.length,
    expressions: summary.perObject.length,
    ...jfMetrics(summary),
    ...(kinds ? { by_expression_kind: kinds.map((k) => ({ kind: k.kind, expressions: k.summary.perObject.length, ...jfMetrics(k.summary) })) } : {}),
    ...(attributes
      ? {
          by_attribute: attributes.map((a) => ({
            attribute: a.attribute,
            naming: a.naming ? { expressions: a.naming.perObject.length, ...jfMetrics(a.naming) } : null,
            naming_only_it: a.onlyNaming ? { expressions: a.onlyNaming.perObject.length, ...jfMetrics(a.onlyNaming) } : null,
          })),
        }
      : {}),
    per_expression: perObjectJson(summary),
  };
  const prefix = partial ? 'partial-' : '';
  const files = [`${prefix}results.json`, `${prefix}results.csv`];
  writeJsonAtomic(join(outDir, files[0]!), json);
  writeTextAtomic(join(outDir, files[1]!), jfCsv(summary));
  const text = [...notes, `MeViS ${manifest.split}: ${records.length} videos, ${summary.perObject.length} expressions (${manifest.settings.protocol} protocol)`, jfTable(summary, { unit: 'expressions' })];
  if (kinds) text.push('', 'by kind of expression (soc synth data):', kindsTable(kinds));
  if (attributes) text.push('', 'by attribute named (one-object expressions):', attributesTable(attributes));
  return { text: text.join('\n'), files };
};

/** The kinds of `soc synth` expression, the groups the shipped model's card reports. */
export const SYNTH_EXPRESSION_KINDS = ['several objects', 'one object, appearance only', 'one object, with motion'] as const;
/** The attributes a `soc synth` expression can name. */
export const SYNTH_ATTRIBUTES = ['colour', 'size', 'shape', 'motion'] as const;

type Scored = { name: string; text: string; j: ArrayLike<number>; f: ArrayLike<number> };
type Summary = ReturnType<typeof summarizeObjects>;

/** A scored expression with the description `soc synth` wrote it from. */
export type SynthScored = { e: Scored; parsed: NonNullable<ReturnType<typeof parseExpression>> };

/** Every expression parsed as a `soc synth` one, or null if any is not (e.g. real MeViS): parsed once, for both breakdowns. */
export function parseSynthExpressions(scored: readonly Scored[]): SynthScored[] | null {
  if (scored.length === 0) return null;
  const out: SynthScored[] = [];
  for (const e of scored) {
    const parsed = parseExpression(cleanQuery(e.text));
    if (!parsed) return null;
    out.push({ e, parsed });
  }
  return out;
}

/**
 * J&F per kind of `soc synth` expression (from parseSynthExpressions): grounding failures on this
 * data differ by kind, and the means alone hide it.
 */
export function synthExpressionKinds(parsed: readonly SynthScored[]): { kind: (typeof SYNTH_EXPRESSION_KINDS)[number]; summary: Summary }[] {
  const groups = new Map<string, Scored[]>(SYNTH_EXPRESSION_KINDS.map((k) => [k, []]));
  for (const { e, parsed: p } of parsed) {
    groups.get(p.count > 1 ? SYNTH_EXPRESSION_KINDS[0] : p.description.motion ? SYNTH_EXPRESSION_KINDS[2] : SYNTH_EXPRESSION_KINDS[1])!.push(e);
  }
  return SYNTH_EXPRESSION_KINDS.filter((k) => groups.get(k)!.length > 0).map((kind) => ({ kind, summary: summarizeObjects(groups.get(kind)!) }));
}

/**
 * J&F of the one-object `soc synth` expressions that name each attribute, and of those that name
 * only it ("the red shape", "the shape moving left"): which cue the model grounds and which it
 * does not.
 */
export function synthAttributeBreakdown(
  parsed: readonly SynthScored[],
): { attribute: (typeof SYNTH_ATTRIBUTES)[number]; naming: Summary | null; onlyNaming: Summary | null }[] {
  const single = parsed.filter(({ parsed: p }) => p.count === 1);
  const summary = (xs: typeof single) => (xs.length ? summarizeObjects(xs.map((x) => x.e)) : null);
  return SYNTH_ATTRIBUTES.map((attribute) => {
    const naming = single.filter(({ parsed: p }) => p.description[attribute] !== null);
    const only = naming.filter(({ parsed: p }) => SYNTH_ATTRIBUTES.every((a) => a === attribute || p.description[a] === null));
    return { attribute, naming: summary(naming), onlyNaming: summary(only) };
  });
}

function kindsTable(kinds: ReturnType<typeof synthExpressionKinds>): string {
  return formatTable(
    ['', 'expressions', 'J&F', 'J', 'F'],
    kinds.map((k) => [k.kind, String(k.summary.perObject.length), cell(k.summary['J&F-Mean']), cell(k.summary['J-Mean']), cell(k.summary['F-Mean'])]),
  );
}

function attributesTable(rows: ReturnType<typeof synthAttributeBreakdown>): string {
  const pair = (s: Summary | null) => [String(s?.perObject.length ?? 0), s ? cell(s['J&F-Mean']) : '-'];
  return formatTable(
    ['one object, naming its', 'expressions', 'J&F', 'naming only it', 'J&F'],
    rows.map((r) => [r.attribute, ...pair(r.naming), ...pair(r.onlyNaming)]),
  );
}

/** Predictions: gather the submission folders of every video and zip them. */
export const finalizePredict: Finalizer = ({ manifest, units, sourceDir, outDir, partial }) => {
  const notes = deviationNotes(manifest.settings);
  if (partial) return { text: [...notes, partialNote(manifest, units.length), `predictions in ${join(outDir, SUBMISSION_DIR)}; the zip is written when all videos are done`].join('\n'), files: [] };
  gatherSubmission(outDir, units.map((u) => ({ video: u, fromDir: sourceDir(u) })));
  const files = zipSubmission(outDir, units);
  return { text: [...notes, `${files} masks of ${units.length} videos in ${join(outDir, SUBMISSION_DIR)}; submission: ${join(outDir, SUBMISSION_ZIP)}`].join('\n'), files: [SUBMISSION_ZIP] };
};
