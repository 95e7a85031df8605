// What every evaluation / prediction protocol provides to the runner (runner.ts): the list of videos
// of the split, the settings that determine its numbers, how to process one video into a record,
// and how to turn the records of all videos into the benchmark's results.

import type { ReferringSegmenter } from '../../inference/predictor.js';
import type { ResizeRule } from '../../media/preprocess.js';
import type { RunFolder, RunManifest } from './run-folder.js';

export interface UnitContext {
  segmenter: ReferringSegmenter;
  /** The run folder (protocols that save masks write them here). */
  folder: RunFolder;
  onInfo?: (message: string) => void;
}

/** A dataset's protocol, opened on a dataset and ready to run video by video. */
export interface Protocol<R = unknown> {
  command: 'eval' | 'predict';
  dataset: string;
  split: string;
  /** Everything besides the model that changes the numbers (compared when resuming / merging). */
  settings: Record<string, unknown>;
  /** Every video of the split, in the order results are aggregated. */
  units: string[];
  /** Processes one video; the returned record must be JSON (it is stored in the run folder). */
  runUnit(unit: string, ctx: UnitContext): Promise<R>;
}

/** The results of a run (or of a shard, labelled partial). */
export interface Finalized {
  /** The table printed at the end. */
  text: string;
  /** Files written into the output folder. */
  files: string[];
}

/**
 * Turns the records of `units` into results written into `outDir`. Finalizers need only the
 * manifest and the records (never the dataset), so `soc merge` can run them anywhere.
 */
export type Finalizer = (o: {
  manifest: RunManifest;
  units: string[];
  record: (unit: string) => unknown;
  /** The folder that holds a unit's record (and any files written with it). */
  sourceDir: (unit: string) => string;
  outDir: string;
  partial: boolean;
}) => Finalized;

/** How a rule deviates from the reference's, for the settings' `deviations` list. */
export function resizeDeviation(rule: ResizeRule, reference: ResizeRule): string[] {
  return rule.shortSide === reference.shortSide && rule.maxSize === reference.maxSize
    ? []
    : [`frames resized to ${rule.shortSide}/${rule.maxSize ?? 'unbounded'} (shorter side / longest side) instead of ${reference.shortSide}/${reference.maxSize}`];
}

/** The notes printed and stored with results whose settings deviate from the reference protocol. */
export function deviationNotes(settings: Record<string, unknown>): string[] {
  const d = (settings.deviations as string[] | undefined) ?? [];
  return d.length === 0 ? [] : [`NOTE: not the reference protocol, numbers are not comparable to the paper's: ${d.join('; ')}`];
}

/** The notes every result starts with: the partial-run warning, then the protocol deviations. */
export function resultNotes(m: RunManifest, done: number, partial: boolean): string[] {
  return [...(partial ? [partialNote(m, done)] : []), ...deviationNotes(m.settings)];
}

/** The fields every results.json starts with (what was run, on what, how). */
export function resultHeader(m: RunManifest, notes: string[], partial: boolean): Record<string, unknown> {
  return { tool: 'soc eval', dataset: m.dataset, split: m.split, partial, notes, settings: m.settings, model: m.model };
}

/** A note for partial results. */
export function partialNote(m: RunManifest, done: number): string {
  const shard = m.shard ? `shard ${m.shard.index}/${m.shard.count}, ` : '';
  return `PARTIAL (${shard}${done} of ${m.units.length} videos): not the benchmark result; combine the shards with soc merge`;
}
