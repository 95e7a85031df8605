#!/usr/bin/env node
// Locates libtorch for the native build. Default: Debian's libtorch-dev. Override with
// LIBTORCH=/path pointing at a pytorch.org libtorch folder (include/, lib/) or at a Python
// torch's lib folder (…/site-packages/torch/lib).
//   node scripts/libtorch-config.mjs [json|include_dirs|libraries|defines]
import { existsSync, readdirSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join, resolve } from 'node:path';

export function findLibtorch(env = process.env) {
  const candidates = [];
  if (env.LIBTORCH) {
    const root = resolve(env.LIBTORCH);
    // pytorch.org archive or Python torch package root
    candidates.push({ include: join(root, 'include'), lib: join(root, 'lib'), source: `LIBTORCH=${env.LIBTORCH}` });
    // a Python torch's lib folder: headers are in ../include
    candidates.push({ include: join(root, '..', 'include'), lib: root, source: `LIBTORCH=${env.LIBTORCH}` });
  } else {
    candidates.push({ include: '/usr/include', lib: '/usr/lib/x86_64-linux-gnu', source: 'Debian libtorch-dev' });
    candidates.push({ include: '/usr/include', lib: '/usr/lib/aarch64-linux-gnu', source: 'Debian libtorch-dev' });
  }
  for (const c of candidates) {
    const header = join(c.include, 'ATen', 'ATen.h');
    const hasLib = existsSync(c.lib) && readdirSync(c.lib).some((f) => /^libtorch_cpu\.(so|dylib)/.test(f));
    if (existsSync(header) && hasLib) {
      return { ...c, cxx11Abi: detectCxx11Abi(c.lib) };
    }
  }
  const where = env.LIBTORCH ? `LIBTORCH=${env.LIBTORCH}` : 'the Debian locations (/usr/include/ATen, /usr/lib/<arch>)';
  const err = new Error(
    `libtorch not found in ${where}: need include/ATen/ATen.h and lib/libtorch_cpu.so.\n` +
      `Install it with:  sudo apt-get install -y libtorch-dev\n` +
      `or point the build at another libtorch:  LIBTORCH=/path/to/libtorch npm run build:native`,
  );
  err.code = 'LIBTORCH_NOT_FOUND';
  throw err;
}

// pytorch.org and Python wheels may use the pre-C++11 string ABI; we must compile to match.
function detectCxx11Abi(lib) {
  const c10 = readdirSync(lib).find((f) => /^libc10\.(so|dylib)/.test(f));
  if (!c10) return 1;
  try {
    const syms = execFileSync('nm', ['-D', '--defined-only', join(lib, c10)], { encoding: 'utf8', maxBuffer: 1 << 28 });
    return syms.includes('__cxx11') ? 1 : 0;
  } catch {
    return 1;
  }
}

function main() {
  let cfg;
  try {
    cfg = findLibtorch();
  } catch (e) {
    console.error(e.message);
    process.exit(1);
  }
  const what = process.argv[2] ?? 'json';
  const apiInclude = join(cfg.include, 'torch', 'csrc', 'api', 'include');
  switch (what) {
    case 'include_dirs':
      console.log([cfg.include, apiInclude].filter(existsSync).join(' '));
      break;
    case 'libraries':
      console.log([`-L${cfg.lib}`, `-Wl,-rpath,${cfg.lib}`, '-ltorch', '-ltorch_cpu', '-lc10'].join(' '));
      break;
    case 'defines':
      console.log(`_GLIBCXX_USE_CXX11_ABI=${cfg.cxx11Abi}`);
      break;
    default:
      console.log(JSON.stringify(cfg, null, 2));
  }
}

if (import.meta.url === `file://${process.argv[1]}`) main();
