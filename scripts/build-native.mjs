#!/usr/bin/env node
// Builds the libtorch N-API addon (build/Release/soc_torch.node) with node-gyp.
// Fails early, with the command to run, when libtorch or a compiler is missing.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { findLibtorch } from './libtorch-config.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);

let cfg;
try {
  cfg = findLibtorch();
} catch (e) {
  console.error(`soc-ts native build: ${e.message}`);
  process.exit(1);
}
for (const tool of ['g++', 'make', 'python3']) {
  if (spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0) {
    console.error(`soc-ts native build: '${tool}' is missing. Install it with: sudo apt-get install -y build-essential python3`);
    process.exit(1);
  }
}
console.log(`soc-ts native build: libtorch from ${cfg.source} (${cfg.include}, ${cfg.lib}, cxx11 abi ${cfg.cxx11Abi})`);

const args = [require.resolve('node-gyp/bin/node-gyp.js'), 'rebuild', `--jobs=${process.env.JOBS ?? 'max'}`];
// Build against the Node headers installed on this machine rather than downloading them.
const nodedir = process.env.npm_config_nodedir ?? (existsSync('/usr/include/node/node_api.h') ? '/usr' : undefined);
if (nodedir) args.push(`--nodedir=${nodedir}`);
const started = Date.now();
const r = spawnSync(process.execPath, args, { cwd: root, stdio: 'inherit' });
if (r.status !== 0) {
  console.error('soc-ts native build failed (see the compiler output above).');
  process.exit(r.status ?? 1);
}
console.log(`soc-ts native build: done in ${((Date.now() - started) / 1000).toFixed(1)} s`);
