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
import { register as registerTrain } from './train.js';
import { register as registerEval } from './eval.js';
import { register as registerPredict } from './predict.js';
import { register as registerMerge } from './merge.js';

type Register = (program: Command) => void;

const registrations: Register[] = [registerDemo, registerSegment, registerInspect, registerConvert, registerCheckGolden, registerCheckGoldenTrain, registerTrain, registerCocoEval, registerScore, registerEval, registerPredict, registerMerge, registerSynth];

export function registerAll(program: Command): void {
  for (const register of registrations) register(program);
}
