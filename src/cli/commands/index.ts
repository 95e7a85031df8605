// Every subcommand of `soc`, registered in the order `soc --help` lists them.
import type { Command } from 'commander';
import { register as registerCocoEval } from './coco-eval.js';
import { register as registerSynth } from './synth.js';
import { register as registerInspect } from './inspect.js';
import { register as registerConvert } from './convert.js';

type Register = (program: Command) => void;

const registrations: Register[] = [registerCocoEval, registerInspect, registerConvert, registerSynth];

export function registerAll(program: Command): void {
  for (const register of registrations) register(program);
}
