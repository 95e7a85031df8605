// The modules whose train-mode forward draws random numbers (spec training.md §7), and a way to
// make chosen ones deterministic without leaving train mode, as the training fixture did (it set
// their probabilities to 0; putting exactly those modules in eval mode is the same function).
// Call after model.train(), which would switch them back.

import { UsageError } from '../errors.js';
import { Dropout, MultiheadAttention } from '../nn/layers.js';
import type { Module } from '../nn/module.js';

export type StochasticKind = 'Dropout' | 'MultiheadAttention' | 'DropPath';

export interface StochasticModule {
  /** path in the reference's module tree (a drop path is named `<block>.drop_path`) */
  path: string;
  kind: StochasticKind;
  /** drop probability */
  p: number;
  /** the module whose `training` flag switches it */
  module: Module;
}

/** A module holding a stochastic-depth rate (the Video-Swin blocks). */
function dropPathRate(m: Module): number | null {
  const rate = (m as unknown as { dropPath?: unknown }).dropPath;
  return typeof rate === 'number' ? rate : null;
}

/** Every dropout, attention dropout and drop path of the model, with p = 0 ones included (they are no-ops). */
export function stochasticModules(model: Module): StochasticModule[] {
  const out: StochasticModule[] = [];
  for (const [path, m] of model.namedModules()) {
    if (m instanceof Dropout) out.push({ path, kind: 'Dropout', p: m.p, module: m });
    else if (m instanceof MultiheadAttention) out.push({ path, kind: 'MultiheadAttention', p: m.dropout, module: m });
    const rate = dropPathRate(m);
    if (rate !== null) out.push({ path: `${path}.drop_path`, kind: 'DropPath', p: rate, module: m });
  }
  return out;
}

/**
 * Makes the listed stochastic modules identities while the rest of the model stays in train
 * mode. Every path must name a stochastic module of the model. Returns the modules that still
 * draw random numbers in train mode (p > 0 and not listed).
 */
export function disableStochasticModules(model: Module, paths: Iterable<string>): StochasticModule[] {
  const all = stochasticModules(model);
  const byPath = new Map(all.map((s) => [s.path, s]));
  const done = new Set<string>();
  for (const path of paths) {
    const s = byPath.get(path);
    if (!s) throw new UsageError(`no dropout, attention dropout or drop path at '${path}' in this model`);
    // A Swin block's flag only switches its drop path; a Dropout's or an attention's only their dropout.
    s.module.training = false;
    done.add(path);
  }
  return all.filter((s) => s.p > 0 && !done.has(s.path));
}
