// Every writer goes through a temporary file in the destination folder, renamed into place only
// when complete, so an interrupted or failed write never leaves a half-written output behind.

import { closeSync, openSync, renameSync, rmSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

/** Calls `write(fd)` on a fresh temporary file, then renames it to `path` (removing it on error). */
export function writeAtomically(path: string, write: (fd: number) => void): void {
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${Math.random().toString(36).slice(2, 8)}.tmp`);
  const fd = openSync(tmp, 'w');
  try {
    write(fd);
    closeSync(fd);
  } catch (e) {
    closeSync(fd);
    rmSync(tmp, { force: true });
    throw e;
  }
  try {
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
}
