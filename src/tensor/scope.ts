// Deterministic freeing of native tensors.
//
// Every tensor created while a scope is open belongs to that scope. `tidy(fn)` opens a scope,
// runs fn, and disposes every tensor created inside it except those reachable from fn's result
// (which move to the enclosing scope) and those marked with `keep`. Tensors created outside any
// scope are freed when disposed explicitly or, as a fallback, when V8 collects their handle
// (the addon's finalizer; V8 is told about the native bytes so it collects in time).

/** What a scope needs to know about a tensor. */
export interface Disposable {
  dispose(): void;
  readonly isDisposed: boolean;
  /** Kept tensors are never disposed by a scope (module parameters, cached buffers). */
  kept: boolean;
}

const stack: Disposable[][] = [];

/** Registers a new tensor with the innermost open scope (internal). */
export function track(t: Disposable): void {
  const top = stack[stack.length - 1];
  if (top !== undefined) top.push(t);
}

/** Marks a tensor as owned by the caller: no scope will dispose it. Returns it. */
export function keep<T extends Disposable>(t: T): T {
  t.kept = true;
  return t;
}

function collect(value: unknown, out: Set<Disposable>, seen: Set<unknown>): void {
  if (value === null || typeof value !== 'object' || seen.has(value)) return;
  seen.add(value);
  if (isDisposable(value)) {
    out.add(value);
    return;
  }
  if (Array.isArray(value)) {
    for (const v of value) collect(v, out, seen);
  } else if (value instanceof Map) {
    for (const v of value.values()) collect(v, out, seen);
  } else if (Object.getPrototypeOf(value) === Object.prototype) {
    for (const v of Object.values(value)) collect(v, out, seen);
  }
}

function isDisposable(v: object): v is Disposable {
  return typeof (v as Disposable).dispose === 'function' && 'kept' in v;
}

/**
 * Runs `fn` in a new scope and frees every tensor it created that is not part of its result.
 * The result may be a tensor, or arrays / plain objects / Maps holding tensors.
 * `fn` must be synchronous (a scope cannot span an await).
 */
export function tidy<T>(fn: () => T): T {
  const scope: Disposable[] = [];
  stack.push(scope);
  let result: T;
  try {
    result = fn();
  } catch (e) {
    stack.pop();
    for (const t of scope) if (!t.kept) t.dispose();
    throw e;
  }
  stack.pop();
  if (result instanceof Promise) {
    throw new TypeError('tidy(fn): fn returned a Promise; scopes must be synchronous (dispose tensors explicitly across awaits)');
  }
  const survivors = new Set<Disposable>();
  collect(result, survivors, new Set());
  const parent = stack[stack.length - 1];
  for (const t of scope) {
    if (survivors.has(t)) {
      if (parent !== undefined) parent.push(t);
    } else if (!t.kept) {
      t.dispose();
    }
  }
  return result;
}

/** Number of scopes currently open (for diagnostics). */
export function scopeDepth(): number {
  return stack.length;
}

/** Disposes every tensor found in `value` (arrays, Maps, plain objects). */
export function disposeAll(value: unknown): void {
  const found = new Set<Disposable>();
  collect(value, found, new Set());
  for (const t of found) t.dispose();
}
