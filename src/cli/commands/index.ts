// Every subcommand of `soc`, registered in the order `soc --help` lists them.
import type { Command } from 'commander';

type Register = (program: Command) => void;

const registrations: Register[] = [];

export function registerAll(program: Command): void {
  for (const register of registrations) register(program);
}
