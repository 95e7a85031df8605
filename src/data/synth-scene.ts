// The synthetic referring-video scenes behind `soc synth`: a few coloured shapes moving over a
// noisy background, and referring expressions generated from their attributes and motion.
//
// Every expression is a description (size? colour? shape? motion?) and refers to exactly the set of
// objects it describes, so no expression is ambiguous by construction; expressions that would
// describe one object too many are never emitted. The grammar is regular:
//   the [two|three|four] [small|large] [red|green|blue|yellow|purple] <shape(s)|shape(s)> [motion]
//   motion: moving left|right|up|down · that stays/stay still · that stops/stop · that leaves/leave the frame
// "moving left" is true of every object that moves left, including ones that stop or leave.

import { Rng } from './prng.js';

export const SYNTH_SHAPES = ['circle', 'square', 'triangle', 'diamond'] as const;
export const SYNTH_COLOURS = ['red', 'green', 'blue', 'yellow', 'purple'] as const;
export const SYNTH_SIZES = ['small', 'large'] as const;
export const SYNTH_DIRECTIONS = ['left', 'right', 'up', 'down'] as const;

export type SynthShape = (typeof SYNTH_SHAPES)[number];
export type SynthColour = (typeof SYNTH_COLOURS)[number];
export type SynthSize = (typeof SYNTH_SIZES)[number];
export type SynthDirection = (typeof SYNTH_DIRECTIONS)[number];
/** What a motion phrase can say about an object. */
export type MotionFilter = SynthDirection | 'still' | 'stops' | 'leaves';

const COLOUR_RGB: Record<SynthColour, [number, number, number]> = {
  red: [210, 40, 40],
  green: [40, 165, 60],
  blue: [40, 80, 215],
  yellow: [230, 205, 35],
  purple: [145, 60, 185],
};

/** Shape radius as a fraction of min(height, width). */
const SIZE_FRACTION: Record<SynthSize, number> = { small: 0.075, large: 0.15 };
/** How far each shape reaches from its centre, in radii. */
const SHAPE_EXTENT: Record<SynthShape, number> = { circle: 1, square: 0.886, triangle: 1.25, diamond: 1.2 };
const NUMBER_WORDS = ['', 'one', 'two', 'three', 'four', 'five', 'six'];
const MAX_OBJECTS = 4;

export interface SynthObject {
  /** 0-based id; its palette value in the annotation PNGs is id + 1. */
  id: number;
  shape: SynthShape;
  colour: SynthColour;
  size: SynthSize;
  radius: number;
  rgb: [number, number, number];
  /** Centre at frame 0, in pixels (pixel (x, y) has its centre at x + 0.5, y + 0.5). */
  x0: number;
  y0: number;
  /** Null for an object that stays still. */
  direction: SynthDirection | null;
  /** Pixels per frame while moving. */
  speed: number;
  /** Moves during frames 0…stopFrame and stays there afterwards; null when it never stops. */
  stopFrame: number | null;
  /** Fully outside the frame by the last frame. */
  leaves: boolean;
  /** Drawing order: higher is in front. */
  depth: number;
}

/** An expression's meaning: an attribute left null is not mentioned. */
export interface Description {
  size: SynthSize | null;
  colour: SynthColour | null;
  shape: SynthShape | null;
  motion: MotionFilter | null;
}

export interface SynthExpression {
  text: string;
  /** The referred objects (0-based ids), sorted. */
  objIds: number[];
  description: Description;
}

export interface SynthClip {
  width: number;
  height: number;
  numFrames: number;
  objects: SynthObject[];
  expressions: SynthExpression[];
  /** Per frame, RGB uint8 [H, W, 3]. */
  rgb: Uint8Array[];
  /** Per frame, label map uint8 [H, W]: 0 background, id + 1 where object id is visible (front-most). */
  labels: Uint8Array[];
}

export interface ClipParams {
  width: number;
  height: number;
  numFrames: number;
}

const DIRECTION_VECTORS: Record<SynthDirection, [number, number]> = { left: [-1, 0], right: [1, 0], up: [0, -1], down: [0, 1] };

/** Centre of an object at frame t. */
export function objectCentre(o: SynthObject, t: number): [number, number] {
  if (!o.direction) return [o.x0, o.y0];
  const moved = o.speed * (o.stopFrame === null ? t : Math.min(t, o.stopFrame));
  const [vx, vy] = DIRECTION_VECTORS[o.direction];
  return [o.x0 + vx * moved, o.y0 + vy * moved];
}

/** Whether the pixel centre at offset (dx, dy) from a shape's centre is inside it. */
function insideShape(shape: SynthShape, r: number, dx: number, dy: number): boolean {
  switch (shape) {
    case 'circle':
      return dx * dx + dy * dy <= r * r;
    case 'square':
      return Math.abs(dx) <= 0.886 * r && Math.abs(dy) <= 0.886 * r;
    case 'diamond':
      return Math.abs(dx) + Math.abs(dy) <= 1.2 * r;
    case 'triangle': {
      const top = -1.2 * r;
      const bottom = 0.95 * r;
      if (dy < top || dy > bottom) return false;
      return Math.abs(dx) <= (1.25 * r * (dy - top)) / (bottom - top);
    }
  }
}

/** The motion phrases true of an object. */
export function motionFilters(o: SynthObject): MotionFilter[] {
  if (!o.direction) return ['still'];
  const out: MotionFilter[] = [o.direction];
  if (o.stopFrame !== null) out.push('stops');
  if (o.leaves) out.push('leaves');
  return out;
}

export function describes(d: Description, o: SynthObject): boolean {
  return (
    (d.size === null || d.size === o.size) &&
    (d.colour === null || d.colour === o.colour) &&
    (d.shape === null || d.shape === o.shape) &&
    (d.motion === null || motionFilters(o).includes(d.motion))
  );
}

function attributeCount(d: Description): number {
  return [d.size, d.colour, d.shape, d.motion].filter((x) => x !== null).length;
}

const SINGULAR_MOTION: Record<MotionFilter, string> = {
  left: 'moving left',
  right: 'moving right',
  up: 'moving up',
  down: 'moving down',
  still: 'that stays still',
  stops: 'that stops',
  leaves: 'that leaves the frame',
};
const PLURAL_MOTION: Record<MotionFilter, string> = {
  ...SINGULAR_MOTION,
  still: 'that stay still',
  stops: 'that stop',
  leaves: 'that leave the frame',
};

/** The text of a description referring to `count` objects. */
export function expressionText(d: Description, count: number): string {
  const words = ['the'];
  if (count > 1) words.push(NUMBER_WORDS[count]!);
  if (d.size) words.push(d.size);
  if (d.colour) words.push(d.colour);
  const noun = d.shape ?? 'shape';
  words.push(count > 1 ? `${noun}s` : noun);
  if (d.motion) words.push((count > 1 ? PLURAL_MOTION : SINGULAR_MOTION)[d.motion]);
  return words.join(' ');
}

/** Parses a generated expression back into its description and count (null if it is not one). */
export function parseExpression(text: string): { description: Description; count: number } | null {
  const words = text.split(' ');
  let i = 0;
  if (words[i++] !== 'the') return null;
  let count = 1;
  const n = NUMBER_WORDS.indexOf(words[i] ?? '');
  if (n >= 2) {
    count = n;
    i++;
  }
  const d: Description = { size: null, colour: null, shape: null, motion: null };
  if ((SYNTH_SIZES as readonly string[]).includes(words[i]!)) d.size = words[i++] as SynthSize;
  if ((SYNTH_COLOURS as readonly string[]).includes(words[i]!)) d.colour = words[i++] as SynthColour;
  const noun = words[i++] ?? '';
  const singular = count > 1 ? (noun.endsWith('s') ? noun.slice(0, -1) : null) : noun;
  if (singular === null) return null;
  if ((SYNTH_SHAPES as readonly string[]).includes(singular)) d.shape = singular as SynthShape;
  else if (singular !== 'shape') return null;
  const rest = words.slice(i).join(' ');
  if (rest) {
    const table = count > 1 ? PLURAL_MOTION : SINGULAR_MOTION;
    const m = (Object.keys(table) as MotionFilter[]).find((k) => table[k] === rest);
    if (!m) return null;
    d.motion = m;
  }
  return { description: d, count };
}

/** Every word the generator can emit, sorted. */
export const SYNTH_VOCABULARY: readonly string[] = [
  ...new Set(
    [
      'the',
      ...NUMBER_WORDS.slice(2, MAX_OBJECTS + 1),
      ...SYNTH_SIZES,
      ...SYNTH_COLOURS,
      ...SYNTH_SHAPES.flatMap((s) => [s, `${s}s`]),
      'shape',
      'shapes',
      ...Object.values(SINGULAR_MOTION).flatMap((p) => p.split(' ')),
      ...Object.values(PLURAL_MOTION).flatMap((p) => p.split(' ')),
    ].filter((w) => w.length > 0),
  ),
].sort();

/**
 * Objects of a clip differ in size, colour, shape or direction, so each has a description of its
 * own (size + colour + shape + direction or "still"); stopping or leaving alone would not do, as
 * no phrase says "does not stop".
 */
function signature(o: SynthObject): string {
  return [o.size, o.colour, o.shape, o.direction ?? 'still'].join('|');
}

/** Samples one object's attributes and trajectory; later objects often share an attribute with earlier ones. */
function sampleObject(rng: Rng, id: number, others: SynthObject[], p: ClipParams): SynthObject {
  const { width: W, height: H, numFrames: F } = p;
  const size = rng.pick(SYNTH_SIZES);
  const radius = SIZE_FRACTION[size] * Math.min(W, H) * rng.uniform(0.92, 1.08);
  const shape = others.length && rng.chance(0.45) ? rng.pick(others).shape : rng.pick(SYNTH_SHAPES);
  const colour = others.length && rng.chance(0.35) ? rng.pick(others).colour : rng.pick(SYNTH_COLOURS);
  const base = COLOUR_RGB[colour];
  const rgb = base.map((c) => Math.max(0, Math.min(255, Math.round(c + rng.uniform(-12, 12))))) as [number, number, number];
  const extent = SHAPE_EXTENT[shape] * radius;
  const kind = ['still', 'move', 'stops', 'leaves'][rng.weighted([0.2, 0.45, 0.2, 0.15])]!;
  const movers = others.filter((o) => o.direction);
  const direction: SynthDirection | null =
    kind === 'still' ? null : movers.length && rng.chance(0.3) ? rng.pick(movers).direction : rng.pick(SYNTH_DIRECTIONS);

  const obj: SynthObject = { id, shape, colour, size, radius, rgb, x0: 0, y0: 0, direction, speed: 0, stopFrame: null, leaves: false, depth: rng.next() };
  const lo = extent + 1;
  if (!direction) {
    obj.x0 = rng.uniform(lo, W - lo);
    obj.y0 = rng.uniform(lo, H - lo);
    return obj;
  }
  const horizontal = direction === 'left' || direction === 'right';
  const along = horizontal ? W : H;
  const across = horizontal ? H : W;
  const minSpeed = 0.028 * Math.min(W, H);
  const maxSpeed = 0.05 * Math.min(W, H);
  let speed = rng.uniform(minSpeed, maxSpeed);
  // u: position along the motion, measured from the side the object moves away from
  let u0: number;
  if (kind === 'leaves') {
    const exitFrame = rng.int(Math.ceil(F / 2), F - 2);
    // fully outside (centre past the edge by more than the extent) from exitFrame on
    const distanceNeeded = (u: number) => along + extent + 1 - u;
    speed = Math.max(speed, distanceNeeded(along - lo) / exitFrame);
    speed = Math.min(speed, distanceNeeded(lo) / exitFrame);
    u0 = along + extent + 1 - speed * exitFrame;
    obj.leaves = true;
  } else {
    const movingFrames = kind === 'stops' ? rng.int(3, F - 3) : F - 1;
    if (kind === 'stops') obj.stopFrame = movingFrames;
    const room = along - 2 * lo;
    if (speed * movingFrames > room) speed = room / movingFrames;
    u0 = rng.uniform(lo, along - lo - speed * movingFrames);
  }
  obj.speed = speed;
  const v = rng.uniform(lo, across - lo);
  const forward = direction === 'right' || direction === 'down';
  const a = forward ? u0 : along - u0;
  [obj.x0, obj.y0] = horizontal ? [a, v] : [v, a];
  return obj;
}

/** Moves a mover onto another object's path so one passes in front of the other (an occlusion). */
function arrangeOcclusion(rng: Rng, objects: SynthObject[], p: ClipParams): void {
  const movers = objects.filter((o) => o.direction && !o.leaves);
  if (movers.length === 0 || objects.length < 2) return;
  const a = rng.pick(movers);
  const b = rng.pick(objects.filter((o) => o !== a));
  const horizontal = a.direction === 'left' || a.direction === 'right';
  const lo = SHAPE_EXTENT[a.shape] * a.radius + 1;
  const across = horizontal ? p.height : p.width;
  const along = horizontal ? p.width : p.height;
  const target = horizontal ? b.y0 : b.x0;
  const v = Math.max(lo, Math.min(across - lo, target + rng.uniform(-0.3, 0.3) * a.radius));
  const frames = a.stopFrame ?? p.numFrames - 1;
  const travel = a.speed * frames;
  const forward = a.direction === 'right' || a.direction === 'down';
  const bAlong = horizontal ? b.x0 : b.y0;
  const uB = forward ? bAlong : along - bAlong;
  // keep the whole path inside the frame and make it pass uB
  const uMin = Math.max(lo, uB - travel);
  const uMax = Math.min(along - lo - travel, uB);
  if (uMin > uMax) return;
  const u0 = rng.uniform(uMin, uMax);
  const aAlong = forward ? u0 : along - u0;
  [a.x0, a.y0] = horizontal ? [aAlong, v] : [v, aAlong];
}

function renderClip(rng: Rng, objects: SynthObject[], p: ClipParams): { rgb: Uint8Array[]; labels: Uint8Array[] } {
  const { width: W, height: H, numFrames: F } = p;
  const base = rng.uniform(95, 150);
  const tint = [0, 1, 2].map(() => base + rng.uniform(-12, 12));
  const gx = rng.uniform(-25, 25);
  const gy = rng.uniform(-25, 25);
  const texture = new Float32Array(W * H);
  for (let i = 0; i < texture.length; i++) texture[i] = rng.uniform(-8, 8);
  const order = [...objects].sort((a, b) => a.depth - b.depth);
  const rgb: Uint8Array[] = [];
  const labels: Uint8Array[] = [];
  for (let t = 0; t < F; t++) {
    const img = new Float32Array(W * H * 3);
    const lab = new Uint8Array(W * H);
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        const shade = gx * (x / W - 0.5) + gy * (y / H - 0.5) + texture[y * W + x]!;
        for (let c = 0; c < 3; c++) img[(y * W + x) * 3 + c] = tint[c]! + shade;
      }
    }
    for (const o of order) {
      const [cx, cy] = objectCentre(o, t);
      const e = SHAPE_EXTENT[o.shape] * o.radius + 1;
      const x1 = Math.max(0, Math.floor(cx - e));
      const x2 = Math.min(W - 1, Math.ceil(cx + e));
      const y1 = Math.max(0, Math.floor(cy - e));
      const y2 = Math.min(H - 1, Math.ceil(cy + e));
      for (let y = y1; y <= y2; y++) {
        for (let x = x1; x <= x2; x++) {
          if (!insideShape(o.shape, o.radius, x + 0.5 - cx, y + 0.5 - cy)) continue;
          lab[y * W + x] = o.id + 1;
          for (let c = 0; c < 3; c++) img[(y * W + x) * 3 + c] = o.rgb[c]!;
        }
      }
    }
    const out = new Uint8Array(W * H * 3);
    for (let i = 0; i < out.length; i++) out[i] = Math.max(0, Math.min(255, Math.round(img[i]! + rng.uniform(-3, 3))));
    rgb.push(out);
    labels.push(lab);
  }
  return { rgb, labels };
}

/** Pixels of an object's shape when nothing covers it (its area), at frame 0 where it is fully inside. */
function shapeArea(o: SynthObject): number {
  const e = Math.ceil(SHAPE_EXTENT[o.shape] * o.radius) + 1;
  let n = 0;
  for (let dy = -e; dy <= e; dy++) for (let dx = -e; dx <= e; dx++) if (insideShape(o.shape, o.radius, dx, dy)) n++;
  return n;
}

/** Every object must be well visible (≥ 40% of its area) in at least two frames; leavers gone at the end. */
function clipIsUsable(objects: SynthObject[], labels: Uint8Array[]): boolean {
  return objects.every((o) => {
    const area = shapeArea(o);
    const counts = labels.map((lab) => lab.reduce((n, v) => n + (v === o.id + 1 ? 1 : 0), 0));
    if (counts.filter((c) => c >= 0.4 * area).length < 2) return false;
    return !o.leaves || counts[counts.length - 1] === 0;
  });
}

/** All descriptions built from values present in the clip (at least one attribute), with what they match. */
function allDescriptions(objects: SynthObject[]): { d: Description; ids: number[] }[] {
  const uniq = <T>(xs: T[]) => [...new Set(xs)];
  const sizes = [null, ...uniq(objects.map((o) => o.size))];
  const colours = [null, ...uniq(objects.map((o) => o.colour))];
  const shapes = [null, ...uniq(objects.map((o) => o.shape))];
  const motions = [null, ...uniq(objects.flatMap(motionFilters))];
  const out: { d: Description; ids: number[] }[] = [];
  for (const size of sizes)
    for (const colour of colours)
      for (const shape of shapes)
        for (const motion of motions) {
          const d: Description = { size, colour, shape, motion };
          if (attributeCount(d) === 0) continue;
          const ids = objects.filter((o) => describes(d, o)).map((o) => o.id);
          if (ids.length > 0) out.push({ d, ids });
        }
  return out;
}

function chooseExpressions(rng: Rng, objects: SynthObject[]): SynthExpression[] {
  const candidates = allDescriptions(objects);
  const out: SynthExpression[] = [];
  const take = (pool: { d: Description; ids: number[] }[], n: number) => {
    const left = [...pool];
    for (let k = 0; k < n && left.length; k++) {
      const i = rng.weighted(left.map((c) => 1 / attributeCount(c.d) ** 2));
      const { d, ids } = left.splice(i, 1)[0]!;
      out.push({ text: expressionText(d, ids.length), objIds: ids, description: d });
    }
  };
  for (const o of objects) {
    const single = candidates.filter((c) => c.ids.length === 1 && c.ids[0] === o.id);
    take(single, rng.chance(0.5) ? 2 : 1);
  }
  if (objects.length >= 2) {
    // one description per distinct group, so two group expressions never mean the same set
    const groups = new Map<string, { d: Description; ids: number[] }[]>();
    for (const c of candidates.filter((c) => c.ids.length >= 2)) {
      const key = c.ids.join(',');
      groups.set(key, [...(groups.get(key) ?? []), c]);
    }
    const keys = rng.shuffle([...groups.keys()]).slice(0, rng.int(1, 2));
    for (const key of keys) take(groups.get(key)!, 1);
  }
  return rng.shuffle(out);
}

/** Generates one clip from a seed: objects, rendered frames, label maps and expressions. */
export function generateClip(seed: number, params: ClipParams): SynthClip {
  const rng = new Rng(seed);
  for (let attempt = 0; attempt < 100; attempt++) {
    const count = 1 + rng.weighted([0.15, 0.3, 0.3, 0.25]);
    const objects: SynthObject[] = [];
    const seen = new Set<string>();
    for (let tries = 0; objects.length < count && tries < 40; tries++) {
      const o = sampleObject(rng, objects.length, objects, params);
      if (seen.has(signature(o))) continue;
      seen.add(signature(o));
      objects.push(o);
    }
    if (objects.length >= 2 && rng.chance(0.45)) arrangeOcclusion(rng, objects, params);
    const { rgb, labels } = renderClip(rng, objects, params);
    if (!clipIsUsable(objects, labels)) continue;
    const expressions = chooseExpressions(rng, objects);
    return { ...params, objects, expressions, rgb, labels };
  }
  throw new Error(`could not generate a usable clip for seed ${seed} at ${params.height}x${params.width}, ${params.numFrames} frames`);
}
