// Human-readable summaries of state dicts: the key tree with shapes and dtypes, element counts
// per top-level module, and which keys share storage. Used by `soc inspect` for files, and meant
// for any state dict (a freshly built model's too: build TensorInfo with `kind` from the module).

import type { DType } from '../tensor/dtype.js';
import { isTensor, type Tensor } from '../tensor/tensor.js';
import { storageId } from './native-io.js';
import type { SafetensorsEntry } from './safetensors.js';
import { TensorRef } from './torch-file.js';

/** What the summaries need to know about one tensor. */
export interface TensorInfo {
  name: string;
  shape: number[];
  dtype: DType;
  numel: number;
  /** Storage identity: tensors with the same value share memory. Absent = not shared. */
  storage?: string;
  storageOffset?: number;
  stride?: number[];
  /** Parameter or buffer, when known (from a model; files do not say). */
  kind?: 'parameter' | 'buffer';
}

const numelOf = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

/** TensorInfo of a Tensor, an unread tensor of a PyTorch file, or a safetensors entry. */
export function tensorInfo(name: string, t: Tensor | TensorRef | SafetensorsEntry): TensorInfo {
  if (t instanceof TensorRef) {
    return { name, shape: t.shape, dtype: t.dtype, numel: t.numel, storage: t.storageKey, storageOffset: t.storageOffset, stride: t.stride };
  }
  if (isTensor(t)) {
    const shape = t.shape;
    const numel = numelOf(shape);
    // Empty tensors may all report the same (null) storage address.
    return { name, shape, dtype: t.dtype, numel, storage: numel > 0 ? storageId(t) : undefined, storageOffset: t.storageOffset, stride: t.strides };
  }
  const e = t as SafetensorsEntry;
  return { name, shape: e.shape, dtype: e.dtype, numel: numelOf(e.shape) };
}

/** A tensor that uses the storage of an earlier one. */
export interface SharedStorage {
  name: string;
  /** The first tensor (in order) on the same storage. */
  of: string;
  /** Same offset, shape and strides: the very same tensor under two names. */
  alias: boolean;
}

/** For every tensor on a storage an earlier tensor already uses, which one (in order). */
export function findSharedStorage(infos: readonly TensorInfo[]): SharedStorage[] {
  const first = new Map<string, TensorInfo>();
  const out: SharedStorage[] = [];
  for (const t of infos) {
    if (t.storage === undefined) continue;
    const f = first.get(t.storage);
    if (!f) {
      first.set(t.storage, t);
      continue;
    }
    const same =
      f.storageOffset === t.storageOffset &&
      JSON.stringify(f.shape) === JSON.stringify(t.shape) &&
      JSON.stringify(f.stride) === JSON.stringify(t.stride);
    out.push({ name: t.name, of: f.name, alias: same });
  }
  return out;
}

export const fmtInt = (n: number): string => n.toLocaleString('en-US');
export const fmtShape = (s: readonly number[]): string => `[${s.join(', ')}]`;

interface Node {
  name: string;
  children: Map<string, Node>;
  tensor?: TensorInfo;
  tensors: number;
  elements: number;
}

function buildTree(infos: readonly TensorInfo[]): Node {
  const root: Node = { name: '', children: new Map(), tensors: 0, elements: 0 };
  for (const t of infos) {
    let node = root;
    node.tensors++;
    node.elements += t.numel;
    for (const part of t.name.split('.')) {
      let child = node.children.get(part);
      if (!child) {
        child = { name: part, children: new Map(), tensors: 0, elements: 0 };
        node.children.set(part, child);
      }
      child.tensors++;
      child.elements += t.numel;
      node = child;
    }
    // A name that is also a prefix of others (rare) keeps its tensor on the inner node.
    node.tensor = t;
  }
  return root;
}

export interface TreeOptions {
  /** Levels of the tree to show; deeper keys are summarised on their ancestor (default: all). */
  depth?: number;
  /** Prefix of every line. */
  indent?: string;
}

/**
 * The key tree, one line per node: dotted chains without branches are joined
 * (`backbone.0.body`), leaves show shape and dtype, shared storage is marked.
 */
export function formatTensorTree(infos: readonly TensorInfo[], opts: TreeOptions = {}): string[] {
  const depth = opts.depth ?? Infinity;
  const indent = opts.indent ?? '';
  const shared = new Map(findSharedStorage(infos).map((s) => [s.name, s]));
  const rows: { left: string; right: string }[] = [];
  const visit = (node: Node, level: number, pad: string) => {
    for (let child of node.children.values()) {
      let name = child.name;
      while (!child.tensor && child.children.size === 1) {
        child = child.children.values().next().value as Node;
        name += `.${child.name}`;
      }
      const summary = `(${fmtInt(child.tensors)} tensor${child.tensors === 1 ? '' : 's'}, ${fmtInt(child.elements)} elements)`;
      if (child.tensor && child.children.size === 0) {
        const t = child.tensor;
        const s = shared.get(t.name);
        const note = s ? (s.alias ? `  = ${s.of}` : `  (shares storage with ${s.of})`) : '';
        rows.push({ left: `${pad}${name}`, right: `${fmtShape(t.shape)}  ${t.dtype}${note}` });
      } else if (level + 1 >= depth) {
        rows.push({ left: `${pad}${name}`, right: summary });
      } else {
        rows.push({ left: `${pad}${name}`, right: summary });
        if (child.tensor) rows.push({ left: `${pad}  (itself)`, right: `${fmtShape(child.tensor.shape)}  ${child.tensor.dtype}` });
        visit(child, level + 1, `${pad}  `);
      }
    }
  };
  visit(buildTree(infos), 0, indent);
  const width = Math.min(72, Math.max(0, ...rows.map((r) => r.left.length)));
  return rows.map((r) => `${r.left.padEnd(width)}  ${r.right}`);
}

/** Element counts per top-level module (first name component), with totals. */
export function formatModuleCounts(infos: readonly TensorInfo[], opts: { indent?: string } = {}): string[] {
  const indent = opts.indent ?? '';
  const sharedNames = new Set(findSharedStorage(infos).map((s) => s.name));
  const hasKind = infos.some((t) => t.kind !== undefined);
  interface Row {
    tensors: number;
    elements: number;
    unique: number;
    params: number;
  }
  const rows = new Map<string, Row>();
  const total: Row = { tensors: 0, elements: 0, unique: 0, params: 0 };
  for (const t of infos) {
    const top = t.name.split('.')[0]!;
    let r = rows.get(top);
    if (!r) rows.set(top, (r = { tensors: 0, elements: 0, unique: 0, params: 0 }));
    const unique = sharedNames.has(t.name) ? 0 : t.numel;
    const param = t.kind === 'parameter' ? unique : 0;
    for (const x of [r, total]) {
      x.tensors++;
      x.elements += t.numel;
      x.unique += unique;
      x.params += param;
    }
  }
  const header = ['module', 'tensors', 'elements', 'unique', ...(hasKind ? ['parameters'] : [])];
  const body = [...rows.entries(), ['total', total] as const].map(([name, r]) => [
    name,
    fmtInt(r.tensors),
    fmtInt(r.elements),
    fmtInt(r.unique),
    ...(hasKind ? [fmtInt(r.params)] : []),
  ]);
  const table = [header, ...body];
  const widths = header.map((_, i) => Math.max(...table.map((row) => row[i]!.length)));
  const line = (row: string[]) => indent + row.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  const out = table.map(line);
  out.splice(out.length - 1, 0, indent + '-'.repeat(widths.reduce((a, w) => a + w + 2, -2)));
  return out;
}

/** Lines describing tensors that share storage with earlier ones (at most `limit`). */
export function formatSharedStorage(infos: readonly TensorInfo[], opts: { indent?: string; limit?: number } = {}): string[] {
  const indent = opts.indent ?? '';
  const limit = opts.limit ?? 20;
  const shared = findSharedStorage(infos);
  if (shared.length === 0) return [];
  const aliases = shared.filter((s) => s.alias).length;
  const out = [
    `${indent}${shared.length} tensor${shared.length === 1 ? '' : 's'} use the storage of an earlier key ` +
      `(${aliases} exact alias${aliases === 1 ? '' : 'es'}, ${shared.length - aliases} other view${shared.length - aliases === 1 ? '' : 's'}); ` +
      "'unique' counts their elements once:",
  ];
  for (const s of shared.slice(0, limit)) out.push(`${indent}  ${s.name} ${s.alias ? '=' : 'views storage of'} ${s.of}`);
  if (shared.length > limit) out.push(`${indent}  … and ${shared.length - limit} more`);
  return out;
}

/** The tree, the counts and the sharing note for one state dict. */
export function formatStateDict(infos: readonly TensorInfo[], opts: TreeOptions = {}): string[] {
  const indent = opts.indent ?? '';
  return [
    ...formatTensorTree(infos, opts),
    '',
    `${indent}Counts by top-level module:`,
    ...formatModuleCounts(infos, { indent: `${indent}  ` }),
    ...(findSharedStorage(infos).length ? ['', ...formatSharedStorage(infos, { indent })] : []),
  ];
}

/** A short Python-like rendering of a non-tensor value (numbers, strings, lists, dicts). */
export function formatValue(v: unknown, max = 80): string {
  const render = (x: unknown, budget: number): string => {
    if (x === null || x === undefined) return 'None';
    if (x === true) return 'True';
    if (x === false) return 'False';
    if (typeof x === 'number' || typeof x === 'bigint') return String(x);
    if (typeof x === 'string') return JSON.stringify(x);
    if (x instanceof Uint8Array) return `bytes(${x.length})`;
    if (x instanceof TensorRef || isTensor(x)) {
      const t = x as TensorRef | Tensor;
      return `tensor${fmtShape(t.shape)} ${t.dtype}`;
    }
    const items = (list: string[], open: string, close: string, count: number): string => {
      let s = open;
      for (let i = 0; i < list.length; i++) {
        const next = (i ? ', ' : '') + list[i];
        if (s.length + next.length > budget) return `${s}${i ? ', ' : ''}… (${count} items)${close}`;
        s += next;
      }
      return s + close;
    };
    if (Array.isArray(x)) return items(x.slice(0, 64).map((e) => render(e, budget)), '[', ']', x.length);
    if (x instanceof Set) return items([...x].slice(0, 64).map((e) => render(e, budget)), '{', '}', x.size);
    if (x instanceof Map) return items([...x].slice(0, 64).map(([k, e]) => `${render(k, budget)}: ${render(e, budget)}`), '{', '}', x.size);
    if (typeof x === 'object') {
      const entries = Object.entries(x as object);
      return items(entries.slice(0, 64).map(([k, e]) => `${k}=${render(e, budget)}`), 'Namespace(', ')', entries.length);
    }
    return String(x);
  };
  const s = render(v, max);
  return s.length > max + 20 ? `${s.slice(0, max)}…` : s;
}
