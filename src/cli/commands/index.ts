// Every subcommand of `soc`, registered in the order `soc --help` lists them.
import type { Command } from 'commander';
import { register as registerCocoEval } from './coco-eval.js';
import { register as registerSynth } from './synth.js';
import { register as registerInspect } from './inspect.js';
import { register as registerConvert } from './convert.js';
import { register as registerCheckGolden } from './check-golden.js';
import { register as registerCheckGoldenTrain } from './check-golden-train.js';
import { register as registerSegment } from './segment.js';
import { register as registerDemo } from './demo.js';
import { register as registerScore } from './score.js';

type Register = (program: Command) => void;

const registrations: Register[] = [registerDemo, registerSegment, registerInspect, registerConvert, registerCheckGolden, registerCheckGoldenTrain, registerCocoEval, registerScore, registerSynth];

export function registerAll(program: Command): void {
  for (const register of registrations) register(program);
}
