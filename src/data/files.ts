// File-system helpers for the readers: every failure becomes a FileFormatError that names the
// file and says what was expected there.

import { readdirSync, readFileSync, statSync } from 'node:fs';
import type { z } from 'zod';
import { FileFormatError } from '../errors.js';

function errnoCode(e: unknown): string | undefined {
  return (e as NodeJS.ErrnoException)?.code;
}

/** True when `path` exists (file or folder). */
export function exists(path: string): boolean {
  try {
    statSync(path);
    return true;
  } catch {
    return false;
  }
}

export function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

/** Throws unless `path` is a folder; `what` says what the folder should hold. */
export function requireDirectory(path: string, what: string): void {
  if (!isDirectory(path)) {
    throw new FileFormatError(path, exists(path) ? `expected a folder (${what}), found a file` : `missing folder (${what})`);
  }
}

/** The entries of a folder, sorted by code point (Python's `sorted`). */
export function listDirectory(path: string, what: string): string[] {
  requireDirectory(path, what);
  return readdirSync(path).sort(byCodePoint);
}

/** Code-point order, as Python sorts strings. */
export function byCodePoint(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Throws unless `path` is a readable file; `what` says what it should hold. */
export function requireFile(path: string, what: string): void {
  try {
    if (!statSync(path).isFile()) throw Object.assign(new Error('not a file'), { code: 'EISDIR' });
  } catch (e) {
    throw new FileFormatError(path, describeReadError(e, what));
  }
}

export function readBytes(path: string, what: string): Buffer {
  try {
    return readFileSync(path);
  } catch (e) {
    throw new FileFormatError(path, describeReadError(e, what));
  }
}

export function readText(path: string, what: string, encoding: BufferEncoding = 'utf8'): string {
  try {
    return readFileSync(path, encoding);
  } catch (e) {
    throw new FileFormatError(path, describeReadError(e, what));
  }
}

function describeReadError(e: unknown, what: string): string {
  const code = errnoCode(e);
  if (code === 'ENOENT') return `missing file (expected ${what})`;
  if (code === 'EISDIR') return `expected a file (${what}), found a folder`;
  if (code === 'ERR_STRING_TOO_LONG') return `too large to read as one string (${what})`;
  return `cannot read (${what}): ${(e as Error).message}`;
}

/** Parses a JSON file; syntax errors name the file. */
export function readJson(path: string, what: string): unknown {
  const text = readText(path, what);
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new FileFormatError(path, `not valid JSON (expected ${what}): ${(e as Error).message}`);
  }
}

/** Parses a JSON file and checks it against a zod schema; the error points at the offending key. */
export function readJsonAs<S extends z.ZodType>(path: string, schema: S, what: string): z.infer<S> {
  return parseAs(path, readJson(path, what), schema, what);
}

export function parseAs<S extends z.ZodType>(path: string, value: unknown, schema: S, what: string): z.infer<S> {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  const issue = r.error.issues[0]!;
  const at = issue.path.length ? issue.path.map(String).join('.') : '(top level)';
  const more = r.error.issues.length > 1 ? ` (and ${r.error.issues.length - 1} more problems)` : '';
  throw new FileFormatError(path, `expected ${what}; at ${at}: ${issue.message}${more}`);
}
