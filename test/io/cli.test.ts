// `soc inspect` and `soc convert`, run as a user runs them (a child process from the sources).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { loadStateDict } from '../../src/io/checkpoint.js';
import type { Tensor } from '../../src/tensor/index.js';
import { REPO_ROOT, sharedPath, tempDir } from '../helpers/shared.js';

function soc(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [join(REPO_ROOT, 'bin', 'soc.js'), ...args], {
    cwd: REPO_ROOT,
    encoding: 'utf8',
    env: { ...process.env, SOC_FROM_SOURCE: '1' },
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

type Manifest = { entries: { name: string; shape: number[]; dtype: string }[] };
const manifestEntries = (dir: string) =>
  (JSON.parse(readFileSync(join(dir, 'param_shapes.json'), 'utf8')) as Manifest).entries.map((e) => ({ name: e.name, shape: e.shape, dtype: e.dtype }));

describe('soc inspect', () => {
  test('--json lists {name, shape, dtype} equal to param_shapes.json (safetensors, and a trainer checkpoint)', (t) => {
    const dir = sharedPath(t, 'golden', 'socpp_tiny');
    if (!dir) return;
    const expected = manifestEntries(dir);
    const st = soc('inspect', join(dir, 'weights.safetensors'), '--json');
    assert.equal(st.status, 0, st.stderr);
    assert.deepEqual(JSON.parse(st.stdout), expected);

    const pth = soc('inspect', join(dir, 'checkpoint.pth'), '--json');
    assert.equal(pth.status, 0, pth.stderr);
    const all = JSON.parse(pth.stdout) as { name: string; shape: number[]; dtype: string }[];
    assert.deepEqual(
      all.filter((e) => e.name.startsWith('model_state_dict.')).map((e) => ({ ...e, name: e.name.slice('model_state_dict.'.length) })),
      expected,
      'nested trainer dicts are flattened with dots',
    );
    const keyed = soc('inspect', join(dir, 'checkpoint.pth'), '--json', '--key', 'model_state_dict');
    assert.deepEqual(JSON.parse(keyed.stdout), expected);
  });

  test('text output: format, non-tensor entries, tree with shapes, counts per module, aliases', (t) => {
    const dir = sharedPath(t, 'golden', 'socpp_tiny');
    if (!dir) return;
    const r = soc('inspect', join(dir, 'checkpoint.pth'));
    assert.equal(r.status, 0, r.stderr);
    const out = r.stdout;
    assert.match(out, /format: PyTorch zip archive \(torch\.save, torch >= 1\.6\)/);
    assert.match(out, /content: trainer checkpoint; model state dict under 'model_state_dict' \(399 tensors\)/);
    assert.match(out, /^ {2}epoch = 0$/m);
    assert.match(out, /^ {2}scheduler_state_dict\.milestones = \{\d+: \d+\}$/m);
    assert.match(out, /^ {2}best_loss = [\d.]+$/m);
    assert.match(out, /Model state dict 'model_state_dict': 399 tensors, 1,978,265 elements/);
    assert.match(out, /^ {6}proj +\(2 tensors, 392 elements\)$/m);
    assert.match(out, /^ {6}in_proj_weight +\[384, 128\] {2}float32$/m);
    assert.match(out, /^ {6}position_ids +\[1, 40\] {2}int64$/m);
    assert.match(out, /^ {4}total +399 +1,978,265 +1,911,185$/m);
    assert.match(out, /12 tensors use the storage of an earlier key \(12 exact aliases, 0 other views\)/);
    assert.match(out, /transformer\.decoder\.bbox_embed\.0\.layers\.0\.weight = bbox_embed\.0\.layers\.0\.weight/);

    const shallow = soc('inspect', join(dir, 'weights.safetensors'), '--depth', '1');
    assert.equal(shallow.status, 0, shallow.stderr);
    assert.match(shallow.stdout, /^ {2}backbone\.0\.body +\(125 tensors, 237,330 elements\)$/m);
    assert.doesNotMatch(shallow.stdout, /patch_embed/);
  });

  test('legacy files, and clear errors', (t) => {
    const fmts = sharedPath(t, 'golden', 'formats');
    if (!fmts) return;
    const r = soc('inspect', join(fmts, 'mixed_legacy.pth'));
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /format: PyTorch legacy file/);
    assert.match(r.stdout, /offset_view +\[2, 3\] {2}float32 {2}\(shares storage with transposed_view\)/);
    const bad = soc('inspect', join(fmts, 'README.md'));
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /^soc: error: .*README\.md: not a PyTorch checkpoint or safetensors file/);
    const depth = soc('inspect', join(fmts, 'mixed_zip.pth'), '--depth', '0');
    assert.notEqual(depth.status, 0);
    assert.match(depth.stderr, /expected a whole number >= 1/);
  });
});

describe('soc convert', () => {
  test('checkpoint.pth -> .safetensors -> .pth keeps names, dtypes and bytes', (t) => {
    const dir = sharedPath(t, 'golden', 'socpp_tiny');
    if (!dir) return;
    const out = tempDir(t);
    const a = soc('convert', join(dir, 'checkpoint.pth'), join(out, 'a.safetensors'));
    assert.equal(a.status, 0, a.stderr);
    assert.match(a.stdout, /399 tensors .* written as safetensors/);
    const b = soc('convert', join(out, 'a.safetensors'), join(out, 'b.pth'));
    assert.equal(b.status, 0, b.stderr);
    const original = loadStateDict(join(dir, 'checkpoint.pth'));
    const back = loadStateDict(join(out, 'b.pth'));
    try {
      assert.deepEqual([...back.keys()], [...original.keys()]);
      for (const [k, x] of original) {
        const y = back.get(k) as Tensor;
        assert.equal(y.dtype, x.dtype, k);
        assert.deepEqual(y.shape, x.shape, k);
        assert.ok(Buffer.from(y.toBytes()).equals(Buffer.from(x.toBytes())), `${k} bytes`);
      }
    } finally {
      for (const m of [original, back]) for (const x of m.values()) x.dispose();
    }
  });

  test('refuses to overwrite without --force, and unknown output extensions', (t) => {
    const fmts = sharedPath(t, 'golden', 'formats');
    if (!fmts) return;
    const out = tempDir(t);
    const target = join(out, 'm.safetensors');
    writeFileSync(target, 'x');
    const r = soc('convert', join(fmts, 'mixed_legacy.pth'), target);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /m\.safetensors exists; pass --force to overwrite it/);
    const f = soc('convert', join(fmts, 'mixed_legacy.pth'), target, '--force');
    assert.equal(f.status, 0, f.stderr);
    const ext = soc('convert', join(fmts, 'mixed_legacy.pth'), join(out, 'm.npz'));
    assert.equal(ext.status, 1);
    assert.match(ext.stderr, /cannot tell the output format from '.*m\.npz'/);
    assert.ok(!existsSync(join(out, 'm.npz')));
  });

  test('--help describes both commands', () => {
    const top = soc('--help');
    assert.match(top.stdout, /inspect \[options\] \[file\]/);
    assert.match(top.stdout, /convert \[options\] <in> <out>/);
    const conv = soc('convert', '--help');
    assert.match(conv.stdout, /--key <name>/);
    assert.match(conv.stdout, /\.pth\/\.pt\/\.tar\/\.bin\/\.ckpt/);
  });

  test('convert --dtype float16 casts floating-point tensors only', (t) => {
    const dir = sharedPath(t, 'golden', 'socpp_tiny');
    if (!dir) return;
    const out = join(tempDir(t), 'half.safetensors');
    const r = soc('convert', join(dir, 'checkpoint.pth'), out, '--dtype', 'float16');
    assert.equal(r.status, 0, r.stderr);
    const src = loadStateDict(join(dir, 'weights.safetensors'));
    const half = loadStateDict(out);
    assert.deepEqual([...half.keys()], [...src.keys()]);
    for (const [k, t32] of src) {
      const t16 = half.get(k)!;
      if (t32.dtype === 'float32') {
        assert.equal(t16.dtype, 'float16', k);
        assert.deepEqual(t16.toNumbers(), t32.to('float16').toNumbers(), k);
      } else {
        assert.equal(t16.dtype, t32.dtype, k);
      }
    }
  });
});
