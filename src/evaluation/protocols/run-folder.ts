// The output folder of `soc eval` / `soc predict`, built so that long runs can be split and resumed:
//
//   <out>/run.json              what is being computed: command, dataset, split, protocol settings,
//                               model fingerprint, the full ordered list of videos, this shard
//   <out>/videos/<video>.json   one record per finished video, written atomically when the video is done
//   <out>/…                     results (results.json / .csv, submission files) once every video is done
//
// A video is done when its record exists; `--resume` skips those. `--shard i/n` takes every n-th
// video of the list starting at the i-th, so shards are disjoint, cover the list, and are balanced
// even when the list is sorted by length. `soc merge` checks that the parts describe the same run
// and together hold every video, and finalises from the union of their records — in the list's
// order, so the numbers equal an unsharded run's exactly.

import { createHash } from 'node:crypto';
import { closeSync, mkdirSync, openSync, readFileSync, readSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { exists, isDirectory } from '../../data/files.js';
import { FileFormatError, UsageError } from '../../errors.js';
import { writeJsonAtomic } from './report.js';

/** Shard i of n (1-based). */
export interface Shard {
  index: number;
  count: number;
}

/** Parses `--shard i/n` (1 ≤ i ≤ n). */
export function parseShard(text: string): Shard {
  const m = /^\s*(\d+)\s*\/\s*(\d+)\s*$/.exec(text);
  const index = m ? Number(m[1]) : NaN;
  const count = m ? Number(m[2]) : NaN;
  if (!m || count < 1 || index < 1 || index > count) {
    throw new UsageError(`--shard must be i/n with 1 ≤ i ≤ n (e.g. 1/4 … 4/4), got ${JSON.stringify(text)}`);
  }
  return { index, count };
}

/** The units of shard i/n: positions i-1, i-1+n, i-1+2n, … of the list. */
export function shardUnits<T>(units: readonly T[], shard: Shard | null): T[] {
  return shard ? units.filter((_, k) => k % shard.count === shard.index - 1) : [...units];
}

/** Everything that determines a run's numbers; two folders can be merged when these agree. */
export interface RunIdentity {
  command: 'eval' | 'predict';
  dataset: string;
  split: string;
  /** Protocol settings (chunking, resize, thresholds, sample lists …). */
  settings: Record<string, unknown>;
  /** SHA-256 of the checkpoint file and of the resolved model config. */
  model: { checkpointSha256: string; configSha256: string; variant: string };
  /** Every video of the split, in the order results are aggregated. */
  units: string[];
}

export interface RunManifest extends RunIdentity {
  format: 'soc-run';
  version: 1;
  shard: Shard | null;
  /** Informational: not compared when resuming or merging. */
  info: Record<string, unknown>;
}

export const MANIFEST = 'run.json';
const RECORDS = 'videos';

/** SHA-256 of a file, read in 8 MB blocks. */
export function sha256File(file: string): string {
  const hash = createHash('sha256');
  const fd = openSync(file, 'r');
  try {
    const buf = Buffer.allocUnsafe(8 << 20);
    for (;;) {
      const n = readSync(fd, buf, 0, buf.length, null);
      if (n <= 0) break;
      hash.update(buf.subarray(0, n));
    }
  } finally {
    closeSync(fd);
  }
  return hash.digest('hex');
}

export function sha256Json(value: unknown): string {
  return createHash('sha256').update(JSON.stringify(value)).digest('hex');
}

/** File name of a unit's record (video ids may hold characters that are unsafe in file names). */
function recordFile(dir: string, unit: string): string {
  return join(dir, RECORDS, `${encodeURIComponent(unit)}.json`);
}

function readJsonFile(file: string, what: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new FileFormatError(file, `cannot read (${what}): ${(e as Error).message}`);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new FileFormatError(file, `not valid JSON (${what}): ${(e as Error).message}`);
  }
}

/** Reads and checks `<dir>/run.json`. */
export function readManifest(dir: string): RunManifest {
  const file = join(dir, MANIFEST);
  if (!exists(file)) throw new UsageError(`${dir} is not a soc eval / predict output folder (no ${MANIFEST})`);
  const m = readJsonFile(file, 'a soc run manifest') as Partial<RunManifest>;
  if (m?.format !== 'soc-run' || m.version !== 1 || !Array.isArray(m.units) || typeof m.dataset !== 'string') {
    throw new FileFormatError(file, 'expected a soc run manifest (format "soc-run", version 1) as written by soc eval / soc predict');
  }
  return m as RunManifest;
}

/** The fields of two identities that differ (empty when they describe the same run). */
export function identityDifferences(a: RunIdentity, b: RunIdentity): string[] {
  const keys: (keyof RunIdentity)[] = ['command', 'dataset', 'split', 'settings', 'model', 'units'];
  return keys.filter((k) => JSON.stringify(a[k]) !== JSON.stringify(b[k]));
}

function identityOf(m: RunIdentity): RunIdentity {
  return { command: m.command, dataset: m.dataset, split: m.split, settings: m.settings, model: m.model, units: m.units };
}

function describeShard(s: Shard | null): string {
  return s ? `shard ${s.index}/${s.count}` : 'all videos';
}

/** A run's output folder: the manifest and the per-video records. */
export class RunFolder {
  private constructor(
    readonly dir: string,
    readonly manifest: RunManifest,
  ) {}

  /**
   * Creates the folder for a new run, or with `resume` reopens an existing one after checking it
   * describes the same run (same identity and shard). A folder that already holds a run is only
   * reused with `resume`.
   */
  static open(dir: string, manifest: RunManifest, o: { resume?: boolean } = {}): RunFolder {
    if (exists(dir) && !isDirectory(dir)) throw new UsageError(`--out ${dir} exists and is not a folder`);
    if (exists(join(dir, MANIFEST))) {
      if (!o.resume) throw new UsageError(`${dir} already holds a run; pass --resume to continue it (finished videos are skipped), or choose another --out`);
      const old = readManifest(dir);
      const diff = identityDifferences(old, manifest);
      if (diff.length > 0) {
        throw new UsageError(`cannot resume ${dir}: it was started with different ${diff.join(', ')} (see ${join(dir, MANIFEST)}); use another --out`);
      }
      if (JSON.stringify(old.shard) !== JSON.stringify(manifest.shard)) {
        throw new UsageError(`cannot resume ${dir}: it holds ${describeShard(old.shard)}, not ${describeShard(manifest.shard)}`);
      }
      return new RunFolder(dir, old);
    }
    if (exists(dir) && readdirSync(dir).length > 0) throw new UsageError(`--out ${dir} exists and is not empty (and holds no run to resume); choose another folder`);
    mkdirSync(join(dir, RECORDS), { recursive: true });
    writeJsonAtomic(join(dir, MANIFEST), manifest);
    return new RunFolder(dir, manifest);
  }

  /** Opens a finished or partial run folder for reading (merge). */
  static read(dir: string): RunFolder {
    return new RunFolder(dir, readManifest(dir));
  }

  /** The units this folder is responsible for. */
  get units(): string[] {
    return shardUnits(this.manifest.units, this.manifest.shard);
  }

  has(unit: string): boolean {
    return exists(recordFile(this.dir, unit));
  }

  read<R>(unit: string): R {
    return readJsonFile(recordFile(this.dir, unit), `the record of video ${unit}`) as R;
  }

  write(unit: string, record: unknown): void {
    mkdirSync(join(this.dir, RECORDS), { recursive: true });
    writeJsonAtomic(recordFile(this.dir, unit), record);
  }

  /** Units of this folder that have a record. */
  doneUnits(): string[] {
    return this.manifest.units.filter((u) => this.has(u));
  }
}

/** A run assembled from one or more folders: where each video's record is. */
export interface MergedRun {
  manifest: RunManifest;
  /** Per unit (in manifest order), the folder holding its record. */
  sources: Map<string, RunFolder>;
}

/**
 * Checks that the folders describe the same run and together hold a record for every video; the
 * first folder holding a video provides it. Records present in several folders must be identical.
 */
export function mergeRunFolders(dirs: readonly string[]): MergedRun {
  if (dirs.length === 0) throw new UsageError('give at least one run folder to merge');
  const folders = dirs.map((d) => RunFolder.read(d));
  const first = folders[0]!;
  for (const f of folders.slice(1)) {
    const diff = identityDifferences(first.manifest, f.manifest);
    if (diff.length > 0) throw new UsageError(`${f.dir} and ${first.dir} are different runs (their ${diff.join(', ')} differ); only shards of one run can be merged`);
  }
  const sources = new Map<string, RunFolder>();
  const missing: string[] = [];
  for (const unit of first.manifest.units) {
    const holders = folders.filter((f) => f.has(unit));
    if (holders.length === 0) {
      missing.push(unit);
      continue;
    }
    const text = JSON.stringify(holders[0]!.read(unit));
    for (const h of holders.slice(1)) {
      if (JSON.stringify(h.read(unit)) !== text) throw new UsageError(`video ${unit} has different results in ${holders[0]!.dir} and ${h.dir}; were they run with different software?`);
    }
    sources.set(unit, holders[0]!);
  }
  if (missing.length > 0) {
    const shards = new Set(folders.map((f) => f.manifest.shard?.count ?? 1));
    const hint = [...shards].some((n) => n > 1) ? ` (give every shard's folder; finish incomplete shards with --resume)` : '';
    throw new UsageError(`${missing.length} of ${first.manifest.units.length} videos have no result in the given folders${hint}: ${missing.slice(0, 8).join(', ')}${missing.length > 8 ? ', …' : ''}`);
  }
  const manifest: RunManifest = { ...first.manifest, ...identityOf(first.manifest), shard: null, info: { ...first.manifest.info, mergedFrom: folders.map((f) => ({ dir: f.dir, shard: f.manifest.shard })) } };
  return { manifest, sources };
}
