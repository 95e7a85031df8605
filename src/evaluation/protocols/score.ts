// `soc score` as a library: J / F / J&F of prediction folders against ground truth, no model.
//
//   davis  pred/<video>/<frame>.png   vs gt/<video>/<frame>.png   one object per video; a pixel is
//          foreground when its (palette or grey) value is non-zero; the ground-truth folder lists
//          the videos and frames that are scored.
//   mevis  pred/<video>/<exp_id>/<frame>.png (also pred/Annotations/…, the submission layout) vs a
//          MeViS split with ground truth (mask_dict.json + meta_expressions.json, or the processed
//          PNG layout) read by the Mevis reader: one scored object per expression, the union of
//          its referred objects, over every frame of the video.
//
// Bad prediction files are reported per file and scored as empty predictions (see frame-scores.ts);
// callers decide whether any problem fails the run (the CLI does unless --allow-errors).

import { readFileSync, readdirSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { exists, isDirectory, listDirectory } from '../../data/files.js';
import { Mevis } from '../../data/mevis.js';
import { FileFormatError, UsageError } from '../../errors.js';
import { type DavisSummary, summarizeObjects } from '../davis.js';
import { type FrameInput, type FrameProblem, type MaskInput, type ScoreOptions, type SequenceScores, scoreSequences } from './frame-scores.js';

export type ScoreLayout = 'davis' | 'mevis';

export interface ScoreFoldersOptions extends ScoreOptions {
  pred: string;
  gt: string;
  dataset: ScoreLayout;
  /** mevis: the split under `gt` (default valid_u), unless `gt` is the split folder itself. */
  split?: string;
}

export interface ScoreFoldersResult {
  summary: DavisSummary;
  sequences: SequenceScores[];
  problems: FrameProblem[];
  /** Prediction folders that are not in the ground truth (ignored). */
  extraPredictions: string[];
  /** Frames scored in total. */
  frames: number;
  /** What was scored against what (for the reports). */
  gtDescription: string;
}

/** Reads a predicted PNG, or null when it does not exist (other read errors are reported as corrupt). */
function readPrediction(file: string): MaskInput | null {
  try {
    return { kind: 'png', file, bytes: readFileSync(file) };
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return null;
    // unreadable (a folder in its place, permissions): decoding the empty bytes reports it as corrupt
    return { kind: 'png', file, bytes: new Uint8Array(0) };
  }
}

function subfolders(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .filter((d) => d.isDirectory() && !d.name.startsWith('.'))
    .map((d) => d.name);
}

export async function scoreFolders(o: ScoreFoldersOptions): Promise<ScoreFoldersResult> {
  if (!isDirectory(o.pred)) throw new UsageError(`--pred ${o.pred} is not a folder`);
  return o.dataset === 'davis' ? scoreDavisLayout(o) : scoreMevisLayout(o);
}

function finish(sequences: SequenceScores[], extra: string[], gtDescription: string): ScoreFoldersResult {
  const summary = summarizeObjects(sequences.map((s) => ({ name: s.name, j: s.j, f: s.f })));
  return {
    summary,
    sequences,
    problems: sequences.flatMap((s) => s.problems),
    extraPredictions: extra,
    frames: sequences.reduce((n, s) => n + s.frames.length, 0),
    gtDescription,
  };
}

async function scoreDavisLayout(o: ScoreFoldersOptions): Promise<ScoreFoldersResult> {
  if (!isDirectory(o.gt)) throw new UsageError(`--gt ${o.gt} is not a folder (expected <video>/<frame>.png ground truth)`);
  const videos = listDirectory(o.gt, 'one folder of ground-truth PNGs per video').filter((v) => !v.startsWith('.') && isDirectory(join(o.gt, v)));
  if (videos.length === 0) throw new FileFormatError(o.gt, 'no video folders (expected <video>/<frame>.png ground truth)');
  const frames = videos.map((v) => {
    const names = listDirectory(join(o.gt, v), `ground-truth PNGs of video ${v}`).filter((f) => f.endsWith('.png'));
    if (names.length === 0) throw new FileFormatError(join(o.gt, v), 'no .png ground-truth frames');
    return names.map((f) => f.slice(0, -4));
  });
  const known = new Set(videos);
  const extra = subfolders(o.pred).filter((v) => !known.has(v));
  const sequences = await scoreSequences(
    videos.length,
    async (i) => {
      const v = videos[i]!;
      return {
        name: v,
        frames: frames[i]!.map((f): FrameInput => {
          const gtFile = join(o.gt, v, `${f}.png`);
          const predFile = join(o.pred, v, `${f}.png`);
          return { frame: f, gt: { kind: 'png', file: gtFile, bytes: readFileSync(gtFile) }, pred: readPrediction(predFile), predFile };
        }),
      };
    },
    o,
  );
  return finish(sequences, extra, `${o.gt} (DAVIS layout, ${videos.length} videos)`);
}

/** `gt` as a MeViS root + split: either given so, or `gt` is the split folder itself. */
export function resolveMevisRoot(gt: string, split: string | undefined): { root: string; split: string } {
  if (!isDirectory(gt)) throw new UsageError(`--gt ${gt} is not a folder (expected a MeViS root or split folder)`);
  const isSplitFolder = exists(join(gt, 'mask_dict.json')) || (exists(join(gt, 'meta_expressions.json')) && isDirectory(join(gt, 'JPEGImages')));
  if (isSplitFolder && (split === undefined || split === basename(gt))) return { root: dirname(gt), split: basename(gt) };
  return { root: gt, split: split ?? 'valid_u' };
}

async function scoreMevisLayout(o: ScoreFoldersOptions): Promise<ScoreFoldersResult> {
  const { root, split } = resolveMevisRoot(o.gt, o.split);
  const ds = await Mevis.open(root, split);
  if (!ds.hasMasks) {
    throw new UsageError(`MeViS split ${split} of ${root} has no ground truth (no mask_dict.json or Annotations/); the official valid split is scored by the challenge server`);
  }
  // the submission layout nests the predictions under Annotations/
  const predRoot = !ds.videos.some((v) => isDirectory(join(o.pred, v.id))) && isDirectory(join(o.pred, 'Annotations')) ? join(o.pred, 'Annotations') : o.pred;
  const units = ds.videos.flatMap((v) => v.expressions.map((e) => ({ video: v, exp: e })));
  const known = new Set(ds.videos.map((v) => v.id));
  const extra = subfolders(predRoot).filter((v) => !known.has(v));
  const sequences = await scoreSequences(
    units.length,
    async (i) => {
      const { video, exp } = units[i]!;
      const frames: FrameInput[] = [];
      for (const f of video.frames) {
        const gt = await ds.loadExpressionMask(video.id, exp.id, f);
        const predFile = join(predRoot, video.id, exp.id, `${f}.png`);
        frames.push({ frame: f, gt: { kind: 'mask', file: ds.masks!.source(video, f), mask: gt }, pred: readPrediction(predFile), predFile });
      }
      return { name: `${video.id}/${exp.id}`, frames };
    },
    o,
  );
  return finish(sequences, extra, `${join(root, split)} (MeViS, ${ds.videos.length} videos, ${units.length} expressions, ground truth from ${ds.maskSource === 'rle' ? 'mask_dict.json' : 'Annotations/'})`);
}
