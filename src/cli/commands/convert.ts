// `soc convert IN OUT`: a model state dict from one checkpoint format to the other, keeping
// names, dtypes and values bit for bit.

import { existsSync, realpathSync, statSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import { type Command, Option } from 'commander';
import { UsageError } from '../../errors.js';
import { detectFormat, FORMAT_NAMES, loadStateDict, saveTorchFile, writeSafetensors } from '../../io/checkpoint.js';
import { ITEM_SIZE, isFloating } from '../../tensor/dtype.js';
import type { Tensor } from '../../tensor/tensor.js';

const TORCH_EXTENSIONS = ['.pth', '.pt', '.tar', '.bin', '.ckpt'];
const CAST_DTYPES = ['float32', 'float16', 'bfloat16', 'float64'] as const;

export interface ConvertOptions {
  key?: string;
  force?: boolean;
  /** cast floating-point tensors to this dtype */
  dtype?: (typeof CAST_DTYPES)[number];
}

/** The output format chosen by OUT's extension. */
export function outputFormat(out: string): 'safetensors' | 'torch' {
  const lower = out.toLowerCase();
  if (lower.endsWith('.safetensors')) return 'safetensors';
  if (TORCH_EXTENSIONS.some((e) => lower.endsWith(e))) return 'torch';
  throw new UsageError(`cannot tell the output format from '${out}': end it in .safetensors, or in ${TORCH_EXTENSIONS.join(', ')} for a PyTorch file`);
}

/** Converts IN to OUT; returns a one-line description of what was written. */
export function convertCheckpoint(input: string, output: string, opts: ConvertOptions = {}): string {
  const target = outputFormat(output);
  if (existsSync(output)) {
    if (existsSync(input) && realpathSync(input) === realpathSync(output)) throw new UsageError('IN and OUT are the same file');
    if (!opts.force) throw new UsageError(`${output} exists; pass --force to overwrite it`);
    if (statSync(output).isDirectory()) throw new UsageError(`${output} is a directory`);
  }
  const inFormat = detectFormat(input);
  const sd = loadStateDict(input, { key: opts.key });
  if (opts.dtype) {
    // Floating-point tensors only (integer buffers such as index tables keep their dtype). Aliased
    // entries stay aliased: each distinct tensor is cast once.
    const cast = new Map<Tensor, Tensor>();
    for (const [k, t] of sd) {
      if (!isFloating(t.dtype) || t.dtype === opts.dtype) continue;
      let c = cast.get(t);
      if (!c) {
        c = t.to(opts.dtype);
        cast.set(t, c);
      }
      sd.set(k, c);
    }
    for (const t of cast.keys()) t.dispose();
  }
  try {
    let bytes = 0;
    for (const t of sd.values()) bytes += t.numel * ITEM_SIZE[t.dtype];
    if (target === 'safetensors') {
      writeSafetensors(output, sd, { format: 'pt', source: basename(input) });
    } else {
      saveTorchFile(output, sd);
    }
    const outName = target === 'safetensors' ? 'safetensors' : 'PyTorch zip checkpoint (an OrderedDict state dict)';
    return `${resolve(output)}: ${sd.size} tensors (${(bytes / 1e6).toFixed(1)} MB of data) from ${FORMAT_NAMES[inFormat]} written as ${outName}`;
  } finally {
    for (const t of sd.values()) t.dispose();
  }
}

export function register(program: Command): void {
  program
    .command('convert')
    .description(
      'Convert a model state dict between PyTorch checkpoints and safetensors, in either direction, keeping names, dtypes and values exactly. ' +
        'From a trainer checkpoint only the model state dict is taken. Tensors that share storage stay shared in a PyTorch output ' +
        'and are written as separate copies in safetensors.',
    )
    .argument('<in>', 'a PyTorch file (zip or legacy format; trainer checkpoint or state dict) or a .safetensors file; the format is detected from the content')
    .argument('<out>', `the output; its extension picks the format: .safetensors, or ${TORCH_EXTENSIONS.join('/')} for a PyTorch zip file that torch.load reads`)
    .option('--key <name>', "the entry of a trainer checkpoint that holds the model state dict (default: 'model_state_dict', 'state_dict' or 'model' when present, else the whole file); dots descend into nested dicts")
    .addOption(new Option('--dtype <type>', 'cast floating-point tensors to this dtype (e.g. float16 to ship smaller weights; soc-ts loads them into float32 models)').choices(CAST_DTYPES))
    .option('-f, --force', 'overwrite OUT if it exists')
    .addHelpText('after', '\nExamples:\n  soc convert checkpoint.pth.tar weights.safetensors\n  soc convert weights.safetensors model.pth\n  soc convert best.pth.tar small.safetensors --dtype float16')
    .action((input: string, output: string, opts: ConvertOptions) => {
      process.stdout.write(`${convertCheckpoint(input, output, opts)}\n`);
    });
}
