// Calling ATen operators by schema name. Each operator is resolved once, on first use, to an
// integer id held by the addon; calls pass positional arguments in schema order (undefined or a
// shorter array takes the schema default).

import { native, type OpArg } from '../native/binding.js';

export type OpFn = (...args: OpArg[]) => unknown;

const resolved = new Map<string, number>();

function resolve(name: string, overload: string): number {
  const key = `${name}.${overload}`;
  let id = resolved.get(key);
  if (id === undefined) {
    id = native().opHandle(name, overload);
    resolved.set(key, id);
  }
  return id;
}

/** A callable for `aten::name.overload` (overload '' for the default). */
export function op(name: string, overload = ''): OpFn {
  let id = -1;
  return (...args: OpArg[]) => {
    if (id < 0) id = resolve(name, overload);
    return native().call(id, args);
  };
}

/** The schema string of an operator, e.g. for error messages and docs. */
export function opSchema(name: string, overload = ''): string {
  return native().opSchema(resolve(name, overload));
}

/** Marks a JS number as a floating-point Scalar even if it is integral (2 -> 2.0). */
export function asFloat(x: number): { float: number } {
  return { float: x };
}
