// The one way tests find ../shared (fixtures, specs). SOC_SHARED overrides the location.
// When it is absent, tests that need it are skipped with a loud message instead of failing.

import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TestContext } from 'node:test';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Absolute path of the shared folder, or null when it is not there. */
export function sharedRoot(): string | null {
  const dir = process.env.SOC_SHARED ? resolve(process.env.SOC_SHARED) : resolve(REPO_ROOT, '..', 'shared');
  return existsSync(dir) ? dir : null;
}

let warned = false;

/**
 * Path of a file or folder under the shared folder. When missing, marks the test skipped,
 * prints why, and returns null: `const p = sharedPath(t, 'golden/socpp_tiny'); if (!p) return;`
 */
export function sharedPath(t: TestContext, ...parts: string[]): string | null {
  const root = sharedRoot();
  const p = root ? join(root, ...parts) : null;
  if (p && existsSync(p)) return p;
  const msg = `SKIPPED: ../shared/${parts.join('/')} not found (set SOC_SHARED to the shared folder)`;
  if (!warned) {
    console.warn(`\n*** ${msg} ***\n`);
    warned = true;
  }
  t.skip(msg);
  return null;
}

/** A fresh temporary directory, removed after the test. */
export function tempDir(t: TestContext, prefix = 'soc-test-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}
