#!/usr/bin/env node
// The `soc` command line. Each subcommand lives in src/cli/commands/<name>.ts and exports
// `register(program)`.

import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command, CommanderError } from 'commander';
import { SocError } from '../errors.js';
import { registerAll } from './commands/index.js';

/** soc-ts's own version (src/cli or dist/cli → ../../package.json). */
function packageVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'package.json'), 'utf8')) as { version?: string };
    return pkg.version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

export function buildProgram(): Command {
  const program = new Command();
  program
    .name('soc')
    .description('SOC++ / SOC referring video object segmentation on libtorch: inference, evaluation, training, checkpoint tools')
    .version(packageVersion())
    .showHelpAfterError('(run with --help for usage)');
  registerAll(program);
  return program;
}

/** Prints user errors as one clear line (no stack) and exits non-zero; SOC_DEBUG=1 shows stacks. */
export function reportError(e: unknown): number {
  if (e instanceof CommanderError) return e.exitCode;
  if (e instanceof SocError && !process.env.SOC_DEBUG) {
    process.stderr.write(`soc: error: ${e.message}\n`);
    return 1;
  }
  const err = e as Error;
  if (process.env.SOC_DEBUG) process.stderr.write(`${err.stack ?? err}\n`);
  else process.stderr.write(`soc: error: ${err.message ?? err}\n(set SOC_DEBUG=1 for a stack trace)\n`);
  return 1;
}

export async function main(argv: string[] = process.argv): Promise<number> {
  const program = buildProgram();
  program.exitOverride();
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (e) {
    return reportError(e);
  }
}

const invokedDirectly = process.argv[1] && /cli[\\/]main\.(ts|js)$/.test(process.argv[1]);
if (invokedDirectly) {
  main().then((code) => process.exit(code));
}
