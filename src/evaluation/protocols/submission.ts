// The Ref-YouTube-VOS / MeViS challenge-server submission: `Annotations/<video>/<exp_id>/<frame>.png`,
// 8-bit grayscale ('L') PNGs with 0 for background and 255 for the referred object at the original
// frame size (what the trainer writes with `Image.fromarray(255 * mask)`), zipped with `Annotations/`
// as the top-level folder (shutil.make_archive(..., base_dir='Annotations')).

import { cpSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { encode as encodePng } from 'fast-png';
import { writeAtomically } from '../../io/atomic.js';
import { ZipWriter, crc32 } from '../../io/zip.js';
import { exists, isDirectory } from '../../data/files.js';

export const SUBMISSION_DIR = 'Annotations';
export const SUBMISSION_ZIP = 'submission.zip';

/** Frame t of a [T, H, W] 0/1 stack as a grayscale 0/255 PNG. */
export function encodeSubmissionPng(masks: Uint8Array, t: number, height: number, width: number): Uint8Array {
  const n = height * width;
  const data = new Uint8Array(n);
  for (let i = 0; i < n; i++) data[i] = masks[t * n + i] ? 255 : 0;
  return encodePng({ width, height, data, depth: 8, channels: 1 });
}

/** Writes frames of one expression into `<dir>/<frame>.png` (dir is a staging folder: see StagedDirectory). */
export function writeSubmissionFrames(dir: string, frames: readonly string[], masks: Uint8Array, height: number, width: number): void {
  mkdirSync(dir, { recursive: true });
  frames.forEach((f, t) => writeFileSync(join(dir, `${f}.png`), encodeSubmissionPng(masks, t, height, width)));
}

/** The visible entries of a folder, sorted. */
function entries(dir: string): string[] {
  return readdirSync(dir)
    .filter((n) => !n.startsWith('.'))
    .sort();
}

/**
 * Copies the submission folders of `videos` from `source` runs into `outDir/Annotations` (merge);
 * videos already under `outDir` are left as they are.
 */
export function gatherSubmission(outDir: string, videos: readonly { video: string; fromDir: string }[]): void {
  for (const { video, fromDir } of videos) {
    const dst = join(outDir, SUBMISSION_DIR, video);
    if (fromDir === outDir || exists(dst)) continue;
    cpSync(join(fromDir, SUBMISSION_DIR, video), dst, { recursive: true });
  }
}

/**
 * Zips `<outDir>/Annotations/<video>/…` for `videos` (in that order; expressions and frames sorted)
 * into `<outDir>/submission.zip` atomically. Members are stored: PNGs do not compress further.
 * Returns the number of PNG files.
 */
export function zipSubmission(outDir: string, videos: readonly string[]): number {
  const root = join(outDir, SUBMISSION_DIR);
  let files = 0;
  writeAtomically(join(outDir, SUBMISSION_ZIP), (fd) => {
    const zip = new ZipWriter(fd, 1);
    const dirEntry = (name: string) => zip.begin(`${name}/`, 0, crc32(new Uint8Array(0)));
    dirEntry(SUBMISSION_DIR);
    for (const video of videos) {
      const vdir = join(root, video);
      dirEntry(`${SUBMISSION_DIR}/${video}`);
      if (!isDirectory(vdir)) continue;
      for (const exp of entries(vdir)) {
        dirEntry(`${SUBMISSION_DIR}/${video}/${exp}`);
        for (const f of entries(join(vdir, exp))) {
          zip.addBytes(`${SUBMISSION_DIR}/${video}/${exp}/${f}`, readFileSync(join(vdir, exp, f)));
          files++;
        }
      }
    }
    zip.finish();
  });
  return files;
}
