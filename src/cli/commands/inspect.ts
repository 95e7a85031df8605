// `soc inspect FILE`: what a checkpoint holds — the key tree with shapes and dtypes, counts per
// top-level module, shared storages, and the non-tensor entries of trainer checkpoints — without
// reading any tensor data (PyTorch files are opened with their tensors unread).

import { statSync } from 'node:fs';
import { Command, InvalidArgumentError } from 'commander';
import { SocError } from '../../errors.js';
import {
  detectFormat,
  findStateDict,
  flattenCheckpoint,
  FORMAT_NAMES,
  isTensorLike,
  openTorchFile,
  readSafetensorsHeader,
  type CheckpointFormat,
} from '../../io/checkpoint.js';
import { formatStateDict, formatTensorTree, formatValue, fmtInt, tensorInfo, type TensorInfo } from '../../io/summary.js';
import { loadSocConfig, presetNames } from '../../models/soc/config.js';
import { SOC } from '../../models/soc/soc.js';

export interface InspectOptions {
  json?: boolean;
  depth?: number;
  key?: string;
}

/** Everything `soc inspect` reports about one file. */
export interface InspectReport {
  file: string;
  /** a file format, or 'model' for a freshly built model (--model) */
  format: CheckpointFormat | 'model';
  /** Extra lines about the container (archive name, metadata …). */
  details: string[];
  /** Where the model state dict is: null = the file itself; undefined = none recognised. */
  stateDictKey?: string | null;
  /** The model state dict's tensors (names relative to it). */
  stateDict: TensorInfo[];
  /** Tensors outside the state dict (optimizer state …), full dotted names. */
  otherTensors: TensorInfo[];
  /** Non-tensor leaves, full dotted names. */
  values: { name: string; value: unknown }[];
  /** Every tensor with its full dotted name, in file order (for --json). */
  allTensors: TensorInfo[];
}

function fileSize(bytes: number): string {
  if (bytes >= 1e9) return `${(bytes / 1e9).toFixed(2)} GB`;
  if (bytes >= 1e6) return `${(bytes / 1e6).toFixed(1)} MB`;
  return bytes >= 1e3 ? `${(bytes / 1e3).toFixed(1)} kB` : `${bytes} bytes`;
}

/** Reads the structure of a checkpoint file (no tensor data). */
export function inspectFile(path: string, opts: { key?: string } = {}): InspectReport {
  const format = detectFormat(path);
  const size = statSync(path).size;
  if (format === 'safetensors') {
    if (opts.key !== undefined) throw new SocError(`${path}: --key applies to PyTorch files; a safetensors file is a flat list of tensors`);
    const h = readSafetensorsHeader(path);
    const infos = h.entries.map((e) => tensorInfo(e.name, e));
    const meta = Object.entries(h.metadata);
    return {
      file: path,
      format,
      details: [fileSize(size), ...(meta.length ? [`metadata: ${meta.map(([k, v]) => `${k}=${formatValue(v, 60)}`).join(', ')}`] : [])],
      stateDictKey: null,
      stateDict: infos,
      otherTensors: [],
      values: [],
      allTensors: infos,
    };
  }
  const f = openTorchFile(path);
  const details = [
    `${fileSize(size)}, ${fmtInt(f.storageCount)} storage${f.storageCount === 1 ? '' : 's'}` +
      (f.archiveName !== undefined ? `, archive folder '${f.archiveName}'` : '') +
      (f.version !== undefined ? `, format version ${f.version}` : ''),
  ];
  let stateDictKey: string | null | undefined;
  let stateDict: TensorInfo[] = [];
  try {
    const found = findStateDict(f.root, path, opts.key);
    stateDictKey = found.key;
    stateDict = [...found.dict].map(([k, t]) => tensorInfo(k, t));
  } catch (e) {
    if (opts.key !== undefined) throw e;
  }
  const flat = flattenCheckpoint(f.root);
  const prefix = stateDictKey ? `${stateDictKey}.` : null;
  const allTensors: TensorInfo[] = [];
  const otherTensors: TensorInfo[] = [];
  const values: { name: string; value: unknown }[] = [];
  for (const e of flat) {
    if (isTensorLike(e.value)) {
      const info = tensorInfo(e.name, e.value);
      allTensors.push(info);
      const inStateDict = stateDictKey === null || (prefix !== null && e.name.startsWith(prefix));
      if (!inStateDict) otherTensors.push(info);
    } else {
      values.push(e);
    }
  }
  return { file: path, format, details, stateDictKey, stateDict, otherTensors, values, allTensors };
}

/** The text `soc inspect` prints. */
export function renderInspect(r: InspectReport, opts: { depth?: number } = {}): string {
  const out: string[] = [r.file, `  format: ${r.format === 'model' ? 'freshly built model (random weights)' : FORMAT_NAMES[r.format]}`, ...r.details.map((d) => `  ${d}`)];
  const n = r.stateDict.length;
  if (r.stateDictKey === null) out.push(`  content: a state dict of ${fmtInt(n)} tensors`);
  else if (r.stateDictKey !== undefined) out.push(`  content: trainer checkpoint; model state dict under '${r.stateDictKey}' (${fmtInt(n)} tensors)`);
  else out.push(`  content: no model state dict recognised (${fmtInt(r.allTensors.length)} tensors in all; choose one with --key)`);

  if (r.values.length) {
    out.push('', 'Entries that are not tensors:');
    for (const v of r.values) out.push(`  ${v.name || '<root>'} = ${formatValue(v.value)}`);
  }
  if (r.stateDictKey !== undefined) {
    const total = r.stateDict.reduce((a, t) => a + t.numel, 0);
    const title = r.stateDictKey === null ? 'State dict' : `Model state dict '${r.stateDictKey}'`;
    out.push('', `${title}: ${fmtInt(n)} tensors, ${fmtInt(total)} elements`);
    out.push(...formatStateDict(r.stateDict, { depth: opts.depth, indent: '  ' }));
  }
  const others = r.stateDictKey === undefined ? r.allTensors : r.otherTensors;
  if (others.length) {
    const total = others.reduce((a, t) => a + t.numel, 0);
    out.push('', `${r.stateDictKey === undefined ? 'Tensors' : 'Other tensors'}: ${fmtInt(others.length)}, ${fmtInt(total)} elements`);
    out.push(...formatTensorTree(others, { depth: opts.depth, indent: '  ' }));
  }
  return `${out.join('\n')}\n`;
}

/** The `--json` output: every tensor as {name, shape, dtype} (only the state dict's with --key). */
export function inspectJson(r: InspectReport, opts: { key?: string } = {}): string {
  const list = opts.key !== undefined ? r.stateDict : r.allTensors;
  return `${JSON.stringify(list.map((t) => ({ name: t.name, shape: t.shape, dtype: t.dtype })), null, 1)}\n`;
}

/**
 * The state dict of a model built from a preset name or a config file (random weights), in the
 * same report form as a file: parameters and buffers are marked, aliases shown as shared storage.
 */
export function inspectModel(spec: string): InspectReport {
  const config = loadSocConfig(spec);
  const model = new SOC(config);
  try {
    const params = new Set(model.parameters());
    const infos = [...model.stateDict()].map(([name, t]) => ({ ...tensorInfo(name, t), kind: params.has(t) ? ('parameter' as const) : ('buffer' as const) }));
    const details = [
      `model: ${config.variant === 'socpp' ? 'SOC++' : 'SOC'} with ${config.backbone_swin_config ? 'a custom Video-Swin' : config.backbone}`,
      `parameters: ${fmtInt(model.numParameters())} unique, ${fmtInt(model.numParameters(true))} trainable (freeze_text_encoder: ${config.freeze_text_encoder})`,
    ];
    return { file: spec, format: 'model', details, stateDictKey: null, stateDict: infos, otherTensors: [], values: [], allTensors: infos };
  } finally {
    model.dispose();
  }
}

function positiveInt(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('expected a whole number >= 1');
  return n;
}

export function register(program: Command): void {
  program
    .command('inspect')
    .description(
      'Show what a checkpoint holds: the key tree with shapes and dtypes, element counts per top-level module, ' +
        'tensors sharing storage, and the non-tensor entries of trainer checkpoints (epoch, optimizer and scheduler state). ' +
        'Reads no tensor data.',
    )
    .argument('[file]', 'a PyTorch file (torch.save, zip or legacy format: a trainer checkpoint or a state dict) or a .safetensors file; the format is detected from the content')
    .option('--model <config>', `instead of a file, list the state dict of a freshly built model: a preset (${presetNames().join(', ')}), a reference YAML config or a JSON config`)
    .option('--json', 'print a JSON list of {name, shape, dtype} for every tensor, nested trainer dicts flattened with dots (e.g. model_state_dict.backbone.…)')
    .option('--depth <n>', 'show at most N levels of the key tree; deeper keys are summarised as counts', positiveInt)
    .option('--key <name>', "the entry of a trainer checkpoint that holds the model state dict (default: 'model_state_dict', 'state_dict' or 'model' when present); with --json, list only its tensors, named relative to it")
    .addHelpText('after', '\nExamples:\n  soc inspect checkpoint.pth\n  soc inspect weights.safetensors --depth 2\n  soc inspect checkpoint.pth --json --key model_state_dict\n  soc inspect --model socpp-swin-b --json')
    .action((file: string | undefined, opts: InspectOptions & { model?: string }) => {
      if ((file === undefined) === (opts.model === undefined)) throw new SocError('give either a checkpoint FILE or --model <preset|config>');
      const report = opts.model !== undefined ? inspectModel(opts.model) : inspectFile(file!, { key: opts.key });
      process.stdout.write(opts.json ? inspectJson(report, opts) : renderInspect(report, opts));
    });
}
