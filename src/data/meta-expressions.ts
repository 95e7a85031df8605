// `meta_expressions.json`, the expressions file of the Ref-YouTube-VOS layout (also used by the
// SOC++ MeViS and Ref-DAVIS17 loaders):
//   {"videos": {"<video>": {"expressions": {"<exp_id>": {"exp": "...", "obj_id": ...}}, "frames": ["00000", ...]}}}
// Ref-YouTube-VOS / Ref-DAVIS store `obj_id` as a string ("1" = palette value 1); MeViS as a list
// of 0-based integers (palette value = id + 1) with a parallel `anno_id` list into mask_dict.json.

import { z } from 'zod';
import { byCodePoint, readJsonAs } from './files.js';
import type { ReferringExpression, VideoRecord } from './types.js';

const objIdString = z.string().regex(/^\d+$/, 'expected an object id string such as "1"');
const intLike = z.union([z.number().int().nonnegative(), z.string().regex(/^\d+$/)]).transform((v) => Number(v));

const metaFile = <E extends z.ZodType>(expression: E) =>
  z.object({
    videos: z.record(
      z.string(),
      z.object({
        expressions: z.record(z.string(), expression),
        frames: z.array(z.string()),
      }),
    ),
  });

/** Ref-YouTube-VOS / Ref-DAVIS17 form: `obj_id` a string, absent in valid/test. */
export const ytvosMetaSchema = metaFile(z.object({ exp: z.string(), obj_id: objIdString.optional() }));

/** MeViS form: `obj_id` a list of 0-based ids, `anno_id` (official release) the matching mask_dict keys. */
export const mevisMetaSchema = metaFile(
  z.object({ exp: z.string(), obj_id: z.array(intLike).min(1).optional(), anno_id: z.array(intLike).optional() }),
);

/** An expression of the MeViS form with its mask_dict.json keys. */
export interface MevisExpression extends ReferringExpression {
  /** The `anno_id` list of the official release (parallel to objIds), or null when absent. */
  annoIds: number[] | null;
}

/** Reads a Ref-YouTube-VOS-form file into video records (frames sorted as the reference sorts them). */
export function readYtvosMeta(file: string): VideoRecord[] {
  const meta = readJsonAs(file, ytvosMetaSchema, 'a meta_expressions.json of the Ref-YouTube-VOS form');
  return Object.entries(meta.videos).map(([id, v]) => ({
    id,
    frames: [...v.frames].sort(byCodePoint),
    expressions: Object.entries(v.expressions).map(([expId, e]) => ({
      id: expId,
      text: e.exp,
      objIds: e.obj_id === undefined ? null : [Number(e.obj_id)],
    })),
  }));
}

export interface MevisVideoRecord extends VideoRecord {
  expressions: MevisExpression[];
}

/** Reads a MeViS-form file (SOC++'s processed `meta_expressions/<split>/` or the official `<split>/`). */
export function readMevisMeta(file: string): MevisVideoRecord[] {
  const meta = readJsonAs(file, mevisMetaSchema, 'a meta_expressions.json of the MeViS form (obj_id a list)');
  return Object.entries(meta.videos).map(([id, v]) => ({
    id,
    frames: [...v.frames].sort(byCodePoint),
    expressions: Object.entries(v.expressions).map(([expId, e]) => ({
      id: expId,
      text: e.exp,
      objIds: e.obj_id ?? null,
      annoIds: e.anno_id ?? null,
    })),
  }));
}
