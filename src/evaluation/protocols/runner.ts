// Runs a protocol video by video into a run folder (resumable, shardable), and merges shard folders.
// Results are computed by the dataset's finalizer from the per-video records only, so a merged run
// and an unsharded run give identical numbers.

import { cpSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { exists, isDirectory } from '../../data/files.js';
import { UsageError } from '../../errors.js';
import type { ReferringSegmenter } from '../../inference/predictor.js';
import { StagedDirectory } from '../../media/output.js';
import { finalizeA2d } from './a2d.js';
import type { Finalized, Finalizer, Protocol } from './protocol.js';
import { finalizeRefDavis } from './ref-davis.js';
import { RunFolder, type RunManifest, type Shard, mergeRunFolders, sha256File, sha256Json } from './run-folder.js';
import { SUBMISSION_DIR, gatherSubmission } from './submission.js';
import { finalizeMevisEval, finalizePredict } from './video-protocols.js';

/** The finalizer of each (command, dataset). */
function finalizerOf(m: Pick<RunManifest, 'command' | 'dataset'>): Finalizer {
  if (m.command === 'predict') return finalizePredict;
  switch (m.dataset) {
    case 'mevis':
      return finalizeMevisEval;
    case 'ref-davis':
      return finalizeRefDavis;
    case 'a2d':
    case 'jhmdb':
      return finalizeA2d;
    default:
      throw new UsageError(`no evaluation is defined for dataset ${m.dataset}`);
  }
}

export interface RunOptions {
  segmenter: ReferringSegmenter;
  checkpoint: string;
  out: string;
  shard?: Shard | null;
  resume?: boolean;
  /** Informational fields stored in run.json (paths, versions). */
  info?: Record<string, unknown>;
  /** Called before the first video with the number to process and the number already done. */
  onStart?: (todo: number, done: number) => void;
  /** Called after each video. */
  onProgress?: (done: number, total: number, unit: string) => void;
  onInfo?: (message: string) => void;
}

export interface RunOutcome {
  folder: RunFolder;
  /** Videos processed now / skipped because a previous run finished them. */
  processed: number;
  skipped: number;
  /** The results (partial when this is one shard of several). */
  results: Finalized;
}

/** The manifest of a run of `protocol` with this model. */
export function buildManifest(protocol: Protocol, segmenter: ReferringSegmenter, checkpoint: string, shard: Shard | null, info: Record<string, unknown>): RunManifest {
  return {
    format: 'soc-run',
    version: 1,
    command: protocol.command,
    dataset: protocol.dataset,
    split: protocol.split,
    settings: protocol.settings,
    model: { checkpointSha256: sha256File(checkpoint), configSha256: sha256Json(segmenter.config), variant: segmenter.config.variant },
    units: protocol.units,
    shard,
    info: { ...info, checkpoint, created: new Date().toISOString() },
  };
}

/** Runs every video of the run (or shard) that has no record yet, then finalises. */
export async function runProtocol(protocol: Protocol, o: RunOptions): Promise<RunOutcome> {
  const shard = o.shard ?? null;
  if (shard && shard.count > protocol.units.length) {
    throw new UsageError(`--shard ${shard.index}/${shard.count}: the split has only ${protocol.units.length} videos; use at most ${protocol.units.length} shards`);
  }
  const manifest = buildManifest(protocol, o.segmenter, o.checkpoint, shard, o.info ?? {});
  const folder = RunFolder.open(o.out, manifest, { resume: o.resume });
  const mine = folder.units;
  const todo = mine.filter((u) => !folder.has(u));
  const skipped = mine.length - todo.length;
  o.onStart?.(todo.length, skipped);
  let processed = 0;
  for (const unit of todo) {
    const record = await protocol.runUnit(unit, { segmenter: o.segmenter, folder, onInfo: o.onInfo });
    folder.write(unit, record);
    processed++;
    o.onProgress?.(processed, todo.length, unit);
  }
  const partial = shard !== null && shard.count > 1;
  const results = finalizerOf(manifest)({
    manifest: folder.manifest,
    units: mine,
    record: (u) => folder.read(u),
    sourceDir: () => folder.dir,
    outDir: folder.dir,
    partial,
  });
  return { folder, processed, skipped, results };
}

/**
 * `soc merge`: the records (and saved masks) of shard folders into one complete run folder at
 * `out`, written atomically, with the final results.
 */
export function mergeRuns(parts: readonly string[], out: string, o: { force?: boolean } = {}): { manifest: RunManifest; results: Finalized } {
  if (exists(out) && (!isDirectory(out) || (readdirSync(out).length > 0 && !o.force))) {
    throw new UsageError(`--out ${out} exists${isDirectory(out) ? ' and is not empty' : ' and is not a folder'}; choose a new folder${isDirectory(out) ? ' (or --force to replace it)' : ''}`);
  }
  const { manifest, sources } = mergeRunFolders(parts);
  const staged = new StagedDirectory(out);
  try {
    const merged = RunFolder.open(staged.path, manifest);
    for (const [unit, src] of sources) merged.write(unit, src.read(unit));
    // masks saved with the records (eval --save-masks) move along; predict gathers them itself
    if (manifest.command === 'eval') {
      const withMasks = [...sources].filter(([u, src]) => isDirectory(join(src.dir, SUBMISSION_DIR, u)));
      if (withMasks.length > 0) gatherSubmission(staged.path, withMasks.map(([u, src]) => ({ video: u, fromDir: src.dir })));
      for (const [, src] of sources) copyAnnotatorFolders(src.dir, staged.path);
    }
    const results = finalizerOf(manifest)({
      manifest,
      units: manifest.units,
      record: (u) => merged.read(u),
      sourceDir: (u) => sources.get(u)!.dir,
      outDir: staged.path,
      partial: false,
    });
    staged.commit();
    return { manifest, results: { ...results, text: results.text.split(staged.path).join(out) } };
  } catch (e) {
    staged.abort();
    throw e;
  }
}

/** Ref-DAVIS --save-masks folders (`anno_0` … `anno_3`), merged video by video. */
function copyAnnotatorFolders(from: string, to: string): void {
  for (const name of readdirSync(from)) {
    if (!/^anno_\d$/.test(name) || !isDirectory(join(from, name))) continue;
    for (const video of readdirSync(join(from, name))) {
      if (video.startsWith('.')) continue;
      mkdirSync(join(to, name), { recursive: true });
      if (!exists(join(to, name, video))) cpSync(join(from, name, video), join(to, name, video), { recursive: true });
    }
  }
}
