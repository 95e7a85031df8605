// The zip reader (central directory, zip64, deflate members) and the streaming writer.
import assert from 'node:assert/strict';
import { closeSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { zipSync } from 'fflate';
import { FileFormatError } from '../../src/errors.js';
import { crc32, ZipReader, ZipWriter } from '../../src/io/zip.js';
import { tempDir } from '../helpers/shared.js';

function writeZip(path: string, members: [string, Uint8Array][], forceZip64 = false): void {
  const fd = openSync(path, 'w');
  try {
    const z = new ZipWriter(fd, 64, forceZip64);
    for (const [name, data] of members) z.addBytes(name, data);
    z.finish();
  } finally {
    closeSync(fd);
  }
}

describe('zip', () => {
  test('crc32 matches the standard check value', () => {
    assert.equal(crc32(new TextEncoder().encode('123456789')), 0xcbf43926);
    assert.equal(crc32(new Uint8Array(0)), 0);
  });

  for (const forceZip64 of [false, true]) {
    test(`writer output reads back, data 64-byte aligned${forceZip64 ? ' (zip64 records)' : ''}`, (t) => {
      const dir = tempDir(t);
      const path = join(dir, 'a.zip');
      const members: [string, Uint8Array][] = [
        ['a/data.pkl', new Uint8Array([1, 2, 3])],
        ['a/data/0', Uint8Array.from({ length: 1000 }, (_, i) => i & 0xff)],
        ['a/empty', new Uint8Array(0)],
        ['a/version', new TextEncoder().encode('3\n')],
      ];
      writeZip(path, members, forceZip64);
      const zr = ZipReader.open(path);
      assert.deepEqual(zr.names, members.map((m) => m[0]));
      const file = readFileSync(path);
      for (const [name, data] of members) {
        const e = zr.entries.get(name)!;
        assert.equal(e.size, data.length);
        assert.equal(e.crc32, crc32(data));
        const off = zr.dataOffset(e);
        assert.equal(off % 64, 0, `${name} data offset ${off} is 64-byte aligned`);
        assert.deepEqual(file.subarray(off, off + data.length), Buffer.from(data));
        assert.deepEqual(Buffer.from(zr.read(name)), Buffer.from(data));
      }
    });
  }

  test('deflated members (written by fflate) are inflated', (t) => {
    const path = join(tempDir(t), 'c.zip');
    const text = new TextEncoder().encode('hello '.repeat(500));
    writeFileSync(path, zipSync({ 'x/data.pkl': [text, { level: 9 }], 'x/raw': [new Uint8Array([9, 8, 7]), { level: 0 }] }));
    const zr = ZipReader.open(path);
    assert.equal(zr.entries.get('x/data.pkl')!.method, 8);
    assert.deepEqual(Buffer.from(zr.read('x/data.pkl')), Buffer.from(text));
    assert.deepEqual([...zr.read('x/raw')], [9, 8, 7]);
  });

  test('a truncated archive names the missing end record', (t) => {
    const dir = tempDir(t);
    const path = join(dir, 'a.zip');
    writeZip(path, [['a/data.pkl', new Uint8Array(200)]]);
    const cut = join(dir, 'cut.zip');
    writeFileSync(cut, readFileSync(path).subarray(0, 150));
    assert.throws(
      () => ZipReader.open(cut),
      (e: unknown) => e instanceof FileFormatError && /end-of-central-directory record is missing: the file is truncated/.test(e.message),
    );
  });
});
