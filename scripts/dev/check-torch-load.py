#!/usr/bin/env python3
"""Checks that PyTorch's own torch.load reads a checkpoint written by soc-ts (dev tool; CI has no Python).

  python3 scripts/dev/check-torch-load.py WRITTEN.pth REFERENCE [--key model_state_dict]

WRITTEN is loaded with torch.load(weights_only=True), so it must use only the pickle globals
PyTorch's safe loader allows. REFERENCE is a .safetensors file (parsed here by hand, so the
`safetensors` package is not needed) or a PyTorch file (its --key entry, else model_state_dict /
state_dict / the file itself). The check passes when both hold the same keys in the same order
with the same dtypes, shapes and bytes, every group of keys that shares memory in the
reference also shares one storage in WRITTEN (same storage offsets and strides), and the state
dict's _metadata (module versions) is kept when the reference has one.
"""
import argparse
import json
import struct
import sys

import torch

ST_DTYPES = {
    'F64': torch.float64, 'F32': torch.float32, 'F16': torch.float16, 'BF16': torch.bfloat16,
    'I64': torch.int64, 'I32': torch.int32, 'I16': torch.int16, 'I8': torch.int8,
    'U8': torch.uint8, 'BOOL': torch.bool,
}
SAME_SIZE_INT = {1: torch.uint8, 2: torch.int16, 4: torch.int32, 8: torch.int64}


def load_safetensors(path):
    with open(path, 'rb') as f:
        data = f.read()
    (n,) = struct.unpack('<Q', data[:8])
    header = json.loads(data[8:8 + n])
    header.pop('__metadata__', None)
    out = {}
    for name, e in header.items():  # json keeps the file's order
        begin, end = e['data_offsets']
        raw = bytearray(data[8 + n + begin:8 + n + end])
        t = torch.frombuffer(raw, dtype=torch.uint8) if raw else torch.empty(0, dtype=torch.uint8)
        out[name] = t.view(ST_DTYPES[e['dtype']]).reshape(e['shape'])
    return out


def state_dict_of(obj, key):
    if key is not None:
        return obj[key]
    for k in ('model_state_dict', 'state_dict', 'model'):
        if isinstance(obj, dict) and isinstance(obj.get(k), dict):
            return obj[k]
    return obj


def raw_bytes(t):
    flat = t.detach().contiguous().reshape(-1)
    return flat.view(SAME_SIZE_INT[flat.element_size()])


def storage_groups(sd):
    """Keys grouped by the storage they view (several keys = shared memory)."""
    groups = {}
    for k, t in sd.items():
        if t.numel() > 0:
            groups.setdefault(t.storage().data_ptr(), []).append(k)
    return [g for g in groups.values() if len(g) > 1]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('written')
    ap.add_argument('reference')
    ap.add_argument('--key', default=None, help='entry of a reference trainer checkpoint holding the state dict')
    args = ap.parse_args()

    got = torch.load(args.written, map_location='cpu', weights_only=True)
    if args.reference.endswith('.safetensors'):
        ref = load_safetensors(args.reference)
    else:
        ref = state_dict_of(torch.load(args.reference, map_location='cpu'), args.key)

    errors = []
    if list(got.keys()) != list(ref.keys()):
        errors.append(f'key lists differ: {len(got)} written vs {len(ref)} reference keys '
                      f'(first difference near {next((a, b) for a, b in zip(list(got) + [None] * len(ref), list(ref) + [None] * len(got)) if a != b)})')
    for k, r in ref.items():
        g = got.get(k)
        if g is None:
            continue
        if g.dtype != r.dtype or g.shape != r.shape:
            errors.append(f'{k}: {g.dtype} {tuple(g.shape)} written, {r.dtype} {tuple(r.shape)} in the reference')
        elif not torch.equal(raw_bytes(g), raw_bytes(r)):
            errors.append(f'{k}: values differ')
    for group in storage_groups(ref):
        first = got[group[0]]
        for k in group:
            t, r = got[k], ref[k]
            if t.storage().data_ptr() != first.storage().data_ptr():
                errors.append(f'{k} shares memory with {group[0]} in the reference but not in the written file')
            elif t.storage_offset() != r.storage_offset() or t.stride() != r.stride():
                errors.append(f'{k}: storage offset/strides {t.storage_offset()}/{t.stride()} written, '
                              f'{r.storage_offset()}/{r.stride()} in the reference')

    if getattr(ref, '_metadata', None) is not None and getattr(got, '_metadata', None) != ref._metadata:
        errors.append('the state dict\'s _metadata (module versions) differs from the reference\'s')

    shared_written = sum(len(g) - 1 for g in storage_groups(got))
    if errors:
        print(f'FAIL {args.written}: {len(errors)} problem(s)')
        for e in errors[:30]:
            print('  ' + e)
        return 1
    print(f'OK {args.written}: torch {torch.__version__} loads {len(got)} tensors identical to {args.reference} '
          f'(dtypes, shapes, bytes); {shared_written} key(s) share the storage of another key, as in the reference')
    return 0


if __name__ == '__main__':
    sys.exit(main())
