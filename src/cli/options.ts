// Option parsers shared by the `soc` subcommands.
import { InvalidArgumentError, Option } from 'commander';
import type { DeformSampling } from '../models/index.js';

export function positiveInt(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('expected a whole number >= 1');
  return n;
}

export function positiveNumber(v: string): number {
  const n = Number(v);
  if (!(n > 0) || !Number.isFinite(n)) throw new InvalidArgumentError('expected a positive number');
  return n;
}

/** Accumulates a repeatable option into an array. */
export function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

/** `key=value` pairs (dotted keys) into an object; values stay strings (the config parser reads JSON). */
export function parseOverrides(pairs: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const p of pairs) {
    const eq = p.indexOf('=');
    if (eq <= 0) throw new InvalidArgumentError(`--set expects key=value, got '${p}'`);
    out[p.slice(0, eq).trim()] = p.slice(eq + 1).trim();
  }
  return out;
}

/**
 * `--sampling <core>`: the deformable-attention core. The checks replay the reference's
 * grid_sample; the tools default to the faster gather path (equal to float32 rounding).
 */
export function samplingOption(dflt: DeformSampling): Option {
  return new Option('--sampling <core>', "deformable-attention core: 'gather' (fast) or 'gridSample' (the reference's)").choices(['gather', 'gridSample']).default(dflt);
}
