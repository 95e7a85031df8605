// How evaluation results are shown and stored, shared by `soc score`, `soc eval` and `soc merge`:
// a plain-text table, JSON under the DAVIS column names, and CSV.

import { writeFileAtomic } from '../../media/output.js';
import type { DavisSummary, ObjectStatistics } from '../davis.js';

/** eval_davis.py's global columns, in its order. */
export const JF_COLUMNS = ['J&F-Mean', 'J-Mean', 'J-Recall', 'J-Decay', 'F-Mean', 'F-Recall', 'F-Decay'] as const;
export type JfColumn = (typeof JF_COLUMNS)[number];

/** The seven global numbers of a summary, keyed by their DAVIS names. */
export function jfMetrics(s: DavisSummary): Record<JfColumn, number> {
  const out = {} as Record<JfColumn, number>;
  for (const c of JF_COLUMNS) out[c] = s[c];
  return out;
}

/** One object's (video's, expression's) statistics under the DAVIS names; J&F-Mean = (J-Mean + F-Mean) / 2. */
export function objectMetrics(o: ObjectStatistics): { name: string } & Record<JfColumn, number> {
  return {
    name: o.name,
    'J&F-Mean': (o.J.mean + o.F.mean) / 2,
    'J-Mean': o.J.mean,
    'J-Recall': o.J.recall,
    'J-Decay': o.J.decay,
    'F-Mean': o.F.mean,
    'F-Recall': o.F.recall,
    'F-Decay': o.F.decay,
  };
}

/** Formats a number for a table: fixed decimals, "nan" for NaN. */
export function cell(x: number, digits = 4): string {
  return Number.isNaN(x) ? 'nan' : x.toFixed(digits);
}

/** A text table: the first column left-aligned, the others right-aligned. */
export function formatTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => (r[c] ?? '').length)));
  const line = (r: readonly string[]) => r.map((v, c) => (c === 0 ? v.padEnd(widths[c]!) : v.padStart(widths[c]!))).join('  ').trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

/**
 * The J&F table: one line with the seven global numbers; with `perObject`, the J&F, J and F means
 * of every video / expression first. `unit` names what the objects are (videos, expressions).
 */
export function jfTable(s: DavisSummary, o: { perObject?: boolean; label?: string; unit?: string } = {}): string {
  const parts: string[] = [];
  if (o.perObject && s.perObject.length > 0) {
    const rows = s.perObject.map((p) => {
      const m = objectMetrics(p);
      return [m.name, cell(m['J&F-Mean']), cell(m['J-Mean']), cell(m['F-Mean'])];
    });
    parts.push(formatTable(['Sequence', 'J&F', 'J', 'F'], rows), '');
  }
  const g = jfMetrics(s);
  parts.push(formatTable([o.label ?? '', ...JF_COLUMNS], [[`${s.perObject.length} ${o.unit ?? 'objects'}`, ...JF_COLUMNS.map((c) => cell(g[c]))]]));
  return parts.join('\n');
}

/** A CSV field: numbers in full precision (NaN empty, as pandas writes it), text quoted when needed. */
export function csvField(v: string | number | null | undefined): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'number') return Number.isNaN(v) ? '' : String(v);
  return /[",\n\r]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v;
}

export function toCsv(header: readonly string[], rows: readonly (readonly (string | number | null | undefined)[])[]): string {
  return `${[header, ...rows].map((r) => r.map(csvField).join(',')).join('\n')}\n`;
}

/**
 * The J&F CSV: one row per object (`Sequence`, then the seven columns of that object) and a last
 * row `Sequence = mean` with the global numbers. `prefix` adds leading columns (e.g. the DAVIS
 * annotator set) to every row.
 */
export function jfCsvRows(s: DavisSummary, prefix: readonly (string | number)[] = []): (string | number)[][] {
  const rows: (string | number)[][] = s.perObject.map((p) => {
    const m = objectMetrics(p);
    return [...prefix, m.name, ...JF_COLUMNS.map((c) => m[c])];
  });
  const g = jfMetrics(s);
  rows.push([...prefix, 'mean', ...JF_COLUMNS.map((c) => g[c])]);
  return rows;
}

export function jfCsv(s: DavisSummary): string {
  return toCsv(['Sequence', ...JF_COLUMNS], jfCsvRows(s));
}

/** The per-object values of the JSON reports. */
export function perObjectJson(s: DavisSummary): ReturnType<typeof objectMetrics>[] {
  return s.perObject.map(objectMetrics);
}

/** Writes a JSON document atomically (2-space indentation, trailing newline). */
export function writeJsonAtomic(file: string, value: unknown): void {
  writeFileAtomic(file, Buffer.from(`${JSON.stringify(value, null, 2)}\n`));
}

export function writeTextAtomic(file: string, text: string): void {
  writeFileAtomic(file, Buffer.from(text));
}
