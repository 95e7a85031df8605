// nn.Module in PyTorch's image. A module registers its parameters, buffers and children
// under the names the reference uses, so its state dict has the official keys by construction:
//   this.weight = this.registerParameter('weight', …)
//   this.proj = this.registerModule('proj', new Linear(…))
// State-dict order is PyTorch's: own parameters, own buffers, then children, each in
// registration order. A child registered under two names (the reference's aliased
// `transformer.decoder.bbox_embed` / `bbox_embed`) appears under both, as in PyTorch.

import { SocError } from '../errors.js';
import { noGrad } from '../tensor/autograd.js';
import { Tensor } from '../tensor/tensor.js';

export type StateDict = Map<string, Tensor>;

/** A state dict did not fit a module (PyTorch's load_state_dict RuntimeError, as an actionable error). */
export class StateDictError extends SocError {
  constructor(
    readonly moduleName: string,
    readonly missingKeys: string[],
    readonly unexpectedKeys: string[],
    readonly mismatched: { key: string; expected: number[]; got: number[] }[],
    readonly source?: string,
  ) {
    super(StateDictError.describe(moduleName, missingKeys, unexpectedKeys, mismatched, source));
  }

  static describe(
    moduleName: string,
    missing: string[],
    unexpected: string[],
    mismatched: { key: string; expected: number[]; got: number[] }[],
    source?: string,
  ): string {
    const list = (keys: string[]) => {
      const shown = keys.slice(0, 20).map((k) => `"${k}"`).join(', ');
      return keys.length > 20 ? `${shown}, … (${keys.length} in all)` : shown;
    };
    const lines = [`Error(s) in loading state_dict for ${moduleName}${source ? ` from ${source}` : ''}:`];
    if (missing.length) lines.push(`\tMissing key(s) in state_dict: ${list(missing)}.`);
    if (unexpected.length) lines.push(`\tUnexpected key(s) in state_dict: ${list(unexpected)}.`);
    for (const m of mismatched.slice(0, 20)) {
      lines.push(
        `\tsize mismatch for ${m.key}: copying a param with shape [${m.got}] from checkpoint, the shape in current model is [${m.expected}].`,
      );
    }
    if (mismatched.length > 20) lines.push(`\t… ${mismatched.length - 20} more size mismatches`);
    return lines.join('\n');
  }
}

export interface LoadResult {
  missingKeys: string[];
  unexpectedKeys: string[];
}

interface BufferSlot {
  tensor: Tensor | null;
  persistent: boolean;
}

export abstract class Module {
  training = true;
  private readonly params = new Map<string, Tensor | null>();
  private readonly buffers = new Map<string, BufferSlot>();
  private readonly children = new Map<string, Module | null>();

  /** The module's class name, used in error messages (like PyTorch's). */
  get typeName(): string {
    return this.constructor.name;
  }

  // ------------------------------------------------------------------ registration
  /** Registers a trainable tensor (made a leaf that requires grad, and kept from scopes). */
  protected registerParameter(name: string, value: Tensor): Tensor;
  protected registerParameter(name: string, value: null): null;
  protected registerParameter(name: string, value: Tensor | null): Tensor | null {
    this.checkName(name);
    if (value) {
      value.keep();
      if (!value.requiresGrad) value.requiresGrad = true;
    }
    this.params.set(name, value);
    return value;
  }

  /** Registers a state tensor that is not trained (e.g. an index table); persistent ones are saved. */
  protected registerBuffer(name: string, value: Tensor | null, persistent = true): Tensor | null {
    this.checkName(name);
    value?.keep();
    this.buffers.set(name, { tensor: value, persistent });
    return value;
  }

  protected registerModule<M extends Module | null>(name: string, module: M): M {
    this.checkName(name);
    this.children.set(name, module);
    return module;
  }

  private checkName(name: string): void {
    if (name.includes('.') || name === '') throw new TypeError(`invalid module attribute name '${name}'`);
  }

  /** Replaces a registered parameter's tensor (e.g. loading by assignment); disposes the old one. */
  protected replaceParameter(name: string, value: Tensor): void {
    const old = this.params.get(name);
    if (old === undefined) throw new Error(`${this.typeName} has no parameter '${name}'`);
    this.params.set(name, value.keep());
    if (old && old !== value) old.dispose();
  }

  // ------------------------------------------------------------------ traversal
  /** Direct children (null slots skipped). */
  *namedChildren(): Generator<[string, Module]> {
    for (const [n, m] of this.children) if (m) yield [n, m];
  }

  /** This module and every descendant, with dotted paths (each module once). */
  *namedModules(prefix = '', seen = new Set<Module>()): Generator<[string, Module]> {
    if (seen.has(this)) return;
    seen.add(this);
    yield [prefix, this];
    for (const [n, m] of this.namedChildren()) yield* m.namedModules(prefix ? `${prefix}.${n}` : n, seen);
  }

  *modules(): Generator<Module> {
    for (const [, m] of this.namedModules()) yield m;
  }

  /** Parameters with their dotted names; each tensor once (the first name wins), like PyTorch. */
  *namedParameters(prefix = ''): Generator<[string, Tensor]> {
    const seen = new Set<Tensor>();
    for (const [path, m] of this.namedModules(prefix)) {
      for (const [n, p] of m.params) {
        if (!p || seen.has(p)) continue;
        seen.add(p);
        yield [path ? `${path}.${n}` : n, p];
      }
    }
  }

  parameters(): Tensor[] {
    return [...this.namedParameters()].map(([, p]) => p);
  }

  *namedBuffers(prefix = ''): Generator<[string, Tensor]> {
    const seen = new Set<Tensor>();
    for (const [path, m] of this.namedModules(prefix)) {
      for (const [n, b] of m.buffers) {
        if (!b.tensor || seen.has(b.tensor)) continue;
        seen.add(b.tensor);
        yield [path ? `${path}.${n}` : n, b.tensor];
      }
    }
  }

  /** Number of parameter elements (unique tensors); `trainableOnly` counts those requiring grad. */
  numParameters(trainableOnly = false): number {
    let n = 0;
    for (const p of this.parameters()) if (!trainableOnly || p.requiresGrad) n += p.numel;
    return n;
  }

  // ------------------------------------------------------------------ state dict
  /**
   * Every parameter and persistent buffer under its full key, in PyTorch's order. Aliased
   * submodules appear under each of their names. The tensors are the module's own (not copies).
   */
  stateDict(prefix = '', out: StateDict = new Map()): StateDict {
    for (const [n, p] of this.params) if (p) out.set(prefix + n, p);
    for (const [n, b] of this.buffers) if (b.tensor && b.persistent) out.set(prefix + n, b.tensor);
    for (const [n, m] of this.children) if (m) m.stateDict(`${prefix}${n}.`, out);
    return out;
  }

  /**
   * Copies tensors from `state` into this module's parameters and buffers (converting dtype
   * like PyTorch's copy_). Shape mismatches always throw; with `strict` (default) missing and
   * unexpected keys throw too. Returns the missing and unexpected keys.
   */
  loadStateDict(state: StateDict, options: { strict?: boolean; source?: string } = {}): LoadResult {
    const strict = options.strict ?? true;
    const own = this.stateDict();
    const missingKeys: string[] = [];
    const mismatched: { key: string; expected: number[]; got: number[] }[] = [];
    for (const [key, target] of own) {
      const src = state.get(key);
      if (!src) {
        missingKeys.push(key);
        continue;
      }
      const a = target.shape;
      const b = src.shape;
      if (a.length !== b.length || a.some((v, i) => v !== b[i])) mismatched.push({ key, expected: a, got: b });
    }
    const unexpectedKeys = [...state.keys()].filter((k) => !own.has(k));
    if (mismatched.length || (strict && (missingKeys.length || unexpectedKeys.length))) {
      throw new StateDictError(this.typeName, strict ? missingKeys : [], strict ? unexpectedKeys : [], mismatched, options.source);
    }
    noGrad(() => {
      const done = new Set<Tensor>();
      for (const [key, target] of own) {
        const src = state.get(key);
        if (!src || done.has(target)) continue;
        done.add(target);
        target.copy_(src);
      }
    });
    return { missingKeys, unexpectedKeys };
  }

  // ------------------------------------------------------------------ modes
  /** Training mode on (dropout, drop-path active) or off, recursively. */
  train(on = true): this {
    for (const m of this.modules()) m.training = on;
    return this;
  }

  eval(): this {
    return this.train(false);
  }

  /** Sets requires_grad on every parameter (freezing with false). */
  requiresGrad_(on: boolean): this {
    for (const p of this.parameters()) p.requiresGrad = on;
    return this;
  }

  /** Clears the gradients of every parameter. */
  zeroGrad(): void {
    for (const p of this.parameters()) {
      const g = p.grad;
      if (g) {
        g.dispose();
        p.grad = null;
      }
    }
  }

  /** Frees every parameter and buffer of this module tree. */
  dispose(): void {
    for (const m of this.modules()) {
      for (const p of m.params.values()) p?.dispose();
      for (const b of m.buffers.values()) b.tensor?.dispose();
    }
  }
}

/** A list of modules named '0', '1', … (torch.nn.ModuleList). */
export class ModuleList<M extends Module = Module> extends Module {
  readonly items: M[];

  constructor(items: Iterable<M> = []) {
    super();
    this.items = [];
    for (const m of items) this.push(m);
  }

  push(m: M): void {
    this.registerModule(String(this.items.length), m);
    this.items.push(m);
  }

  get length(): number {
    return this.items.length;
  }

  at(i: number): M {
    const m = this.items[i < 0 ? this.items.length + i : i];
    if (!m) throw new RangeError(`ModuleList index ${i} out of range (${this.items.length} modules)`);
    return m;
  }

  [Symbol.iterator](): Iterator<M> {
    return this.items[Symbol.iterator]();
  }
}

/** A module with a single-tensor forward, usable in Sequential. */
export interface TensorModule extends Module {
  forward(x: Tensor): Tensor;
}

/** Modules applied in order, named '0', '1', … (torch.nn.Sequential). */
export class Sequential extends ModuleList<TensorModule> {
  forward(x: Tensor): Tensor {
    let y = x;
    for (const m of this.items) {
      const next = m.forward(y);
      if (y !== x && next !== y) y.dispose();
      y = next;
    }
    return y;
  }
}
