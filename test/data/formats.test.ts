import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import sharp from 'sharp';
import { encode as encodePng } from 'fast-png';
import { FileFormatError } from '../../src/errors.js';
import { parseCsv } from '../../src/data/csv.js';
import { decodeLabelPng, encodeLabelPng, loadRgbImage, vocPalette } from '../../src/data/image.js';
import { Rng, mixSeed } from '../../src/data/prng.js';
import { decodeRle, encodeRle } from '../../src/data/rle.js';
import { tempDir } from '../helpers/shared.js';
import { labelMap, writeText } from './fixtures.js';

test('CSV: quoted fields with commas, doubled quotes and newlines; blank lines skipped; line numbers', () => {
  const rows = parseCsv('video_id,query\r\nv1,"a man, ""tall"""\n\nv2,"two\nlines"\nv3,plain\n');
  assert.deepEqual(rows, [
    { fields: ['video_id', 'query'], line: 1 },
    { fields: ['v1', 'a man, "tall"'], line: 2 },
    { fields: ['v2', 'two\nlines'], line: 4 },
    { fields: ['v3', 'plain'], line: 6 },
  ]);
});

test('annotation PNGs: palette indices kept (8-bit and packed), grayscale values, RGB rejected', async () => {
  const labels = labelMap(7, 3, [[1, 0, 0, 2, 3], [3, 4, 1, 7, 2]]);
  assert.deepEqual(decodeLabelPng(encodeLabelPng(labels), 'x.png'), labels);
  // a 2-bit palette PNG: rows padded to whole bytes
  const packed = new Uint8Array(2 * 3);
  labels.data.forEach((v, i) => {
    const [y, x] = [Math.floor(i / 7), i % 7];
    packed[y * 2 + (x >> 2)]! |= v << (6 - 2 * (x % 4));
  });
  const png2 = encodePng({ width: 7, height: 3, data: packed, depth: 2, channels: 1, palette: vocPalette(4) });
  assert.deepEqual(decodeLabelPng(png2, 'x.png'), labels);
  const gray = encodePng({ width: 7, height: 3, data: labels.data.map((v) => v * 80), depth: 8, channels: 1 });
  assert.deepEqual(decodeLabelPng(gray, 'g.png').data, labels.data.map((v) => v * 80));
  const rgb = await sharp(Buffer.alloc(7 * 3 * 3), { raw: { width: 7, height: 3, channels: 3 } }).png().toBuffer();
  assert.throws(() => decodeLabelPng(rgb, 'rgb.png'), (e: unknown) => e instanceof FileFormatError && e.file === 'rgb.png' && /palette or 8-bit grayscale/.test(e.message));
  assert.deepEqual(vocPalette(3), [[0, 0, 0], [128, 0, 0], [0, 128, 0]]);
});

test('frames: grayscale JPEGs come back as RGB; corrupt files name the file', async (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'g.jpg');
  await sharp(Buffer.alloc(4 * 2, 90), { raw: { width: 4, height: 2, channels: 1 } }).jpeg({ quality: 100 }).toFile(file);
  const img = await loadRgbImage(file);
  assert.deepEqual([img.width, img.height, img.data.length], [4, 2, 24]);
  assert.ok(img.data.every((v) => Math.abs(v - 90) <= 1));
  writeText(join(dir, 'bad.jpg'), 'nope');
  await assert.rejects(loadRgbImage(join(dir, 'bad.jpg')), (e: unknown) => e instanceof FileFormatError && e.file === join(dir, 'bad.jpg'));
});

test('COCO RLE objects: round trip and pycocotools strings', () => {
  const m = labelMap(5, 4, [[1, 1, 0, 3, 3]]);
  const rle = encodeRle(m);
  assert.deepEqual(rle.size, [4, 5]);
  // column-major runs: 4 zeros, 3 ones, 1 zero, 3 ones, 9 zeros
  assert.equal(rle.counts, '43108'); // from the fourth count on, the difference to the count two before
  assert.deepEqual(decodeRle(rle), m);
  assert.deepEqual(decodeRle({ size: [4, 5], counts: [4, 3, 1, 3, 9] }), m);
});

test('PRNG: seeded, reproducible, independent streams', () => {
  const a = new Rng(mixSeed(1, 2));
  const b = new Rng(mixSeed(1, 2));
  const seq = Array.from({ length: 5 }, () => a.next());
  assert.deepEqual(Array.from({ length: 5 }, () => b.next()), seq);
  assert.ok(seq.every((x) => x >= 0 && x < 1));
  assert.notEqual(mixSeed(1, 2), mixSeed(2, 1));
  assert.notEqual(mixSeed(2 ** 40), mixSeed(0));
  const r = new Rng(9);
  for (let i = 0; i < 100; i++) {
    const k = r.int(3, 5);
    assert.ok(k >= 3 && k <= 5);
  }
});
